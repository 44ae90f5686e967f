"""The import contracts of pyproject.toml hold (foundation < trainer < app; core without Qt, CLI without
GUI), and the checker really checks: a contract the code breaks is reported as broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is in the dev extra")

BROKEN = """
[tool.importlinter]
root_packages = ["retrieval_app"]
include_external_packages = true

[[tool.importlinter.contracts]]
name = "the GUI imports no Qt (false: it is made of Qt)"
type = "forbidden"
source_modules = ["retrieval_app.gui"]
forbidden_modules = ["PySide6"]
"""


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_layering_contracts_are_kept():
    done = lint_imports()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_broken_contract_fails_the_check(tmp_path):
    config = tmp_path / "contracts.toml"
    config.write_text(BROKEN)
    done = lint_imports("--config", str(config))
    assert done.returncode == 1 and "BROKEN" in done.stdout, done.stdout[-3000:]
