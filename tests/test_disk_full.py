"""A full disk: one line (exit 2) instead of a traceback, a consistent library afterwards, and a
resumed run once there is space again.

The real case mounts a 4 MB tmpfs as the library (skipped, with the reason, where mounting is not
allowed); the injected cases raise the same errors anywhere: ENOSPC while an index is saved, SQLite's
"database or disk is full" while vectors are stored, and ENOSPC in `search`'s close() (the results
are still printed, with a warning: an index is a cache the next search rebuilds).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval_app.cli.main import main
from retrieval_app.core.catalogue import Catalogue
from retrieval_app.core.embedder import DEFAULT_BATCH_SIZE
from retrieval_app.core.vector_index import ExactIndex
from tests.imagegen import write_collection
from tests.small_fs import fill, mounted_tmpfs

ROOT = Path(__file__).resolve().parent.parent


def error_line(err: str) -> str:
    """The single error line of a failed command (a "created a new library" notice may precede it)."""
    errors = [line for line in err.splitlines() if line.startswith("lookalike: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def counts(library: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, int]:
    """(files, indexed) from `status --json`."""
    assert main(["--library", library, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    return status["files"], status["indexed"]


def assert_consistent(library: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--library", library, "check"]) == 0
    out = capsys.readouterr().out
    assert " 0 missing, 0 extra" in out and "files gone from disk: 0" in out, out


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    write_collection(tmp_path / "first", originals=2, variants=("resized",), seed=0)
    write_collection(tmp_path / "second", originals=12, variants=("resized",), seed=1)
    return tmp_path / "first", tmp_path / "second"


def test_full_disk_while_indexing_on_a_real_small_file_system(tmp_path, folders, capsys):
    first, second = folders
    with mounted_tmpfs(tmp_path / "lib", size="4m") as mounted:
        library = str(mounted)
        lookalike = [sys.executable, "-m", "retrieval_app.cli.main", "--library", library]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        # the pooled model: 1280-d vectors, 5 KB each, so the second folder cannot fit in 64 KB
        model = ["--model", "efficientnet-lite0", "--image-size", "64", "-q"]
        assert main(["--library", library, "index", str(first), *model]) == 0
        capsys.readouterr()
        ballast = fill(mounted, leave=64 << 10)
        full = subprocess.run(
            [*lookalike, "index", str(second), "-q"], env=env, capture_output=True, text=True, timeout=300
        )
        assert full.returncode == 2, full.stderr
        assert "full" in error_line(full.stderr) and "free some space" in full.stderr
        ballast.unlink()  # space returns
        assert_consistent(library, capsys)
        files, indexed = counts(library, capsys)
        assert indexed >= 4 and files <= 28
        assert main(["--library", library, "index", str(second), "-q"]) == 0
        capsys.readouterr()
        assert counts(library, capsys) == (28, 28)
        assert_consistent(library, capsys)


def test_disk_already_full_before_indexing(tmp_path, folders, tiny_checkpoint, capsys):
    first, _ = folders
    with mounted_tmpfs(tmp_path / "lib", size="4m") as mounted:
        library = str(mounted)
        assert main(["--library", library, "index", "--model", str(tiny_checkpoint), "-q"]) == 0
        capsys.readouterr()
        ballast = fill(mounted)
        assert main(["--library", library, "index", str(first), "-q"]) == 2
        assert "the disk holding the library is full" in error_line(capsys.readouterr().err)
        ballast.unlink()
        assert main(["--library", library, "index", str(first), "-q"]) == 0
        capsys.readouterr()
        assert counts(library, capsys) == (4, 4)
        assert_consistent(library, capsys)


@pytest.fixture
def small_library(tmp_path, folders, tiny_checkpoint, capsys) -> str:
    library = str(tmp_path / "lib")
    assert main(["--library", library, "index", str(folders[0]), "--model", str(tiny_checkpoint), "-q"]) == 0
    capsys.readouterr()
    return library


def no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/library/indexes/euclidean.npz")


def test_enospc_while_saving_an_index_injected(small_library, folders, monkeypatch, capsys):
    with monkeypatch.context() as patch:
        patch.setattr(ExactIndex, "save", no_space)
        assert main(["--library", small_library, "index", str(folders[1]), "-q"]) == 2
        line = error_line(capsys.readouterr().err)
        assert "No space left on device: /library/indexes/euclidean.npz" in line and "free some space" in line
    assert counts(small_library, capsys) == (28, 28)  # the catalogue kept every vector
    assert main(["--library", small_library, "index", "-q"]) == 0  # saves the index it could not
    capsys.readouterr()
    assert_consistent(small_library, capsys)


def test_catalogue_full_while_storing_vectors_injected(small_library, folders, monkeypatch, capsys):
    real = Catalogue.store_results
    stored = {"batches": 0}

    def full_after_one_batch(self: Catalogue, *args: object) -> list[int]:
        if stored["batches"] == 1:
            raise sqlite3.OperationalError("database or disk is full")
        stored["batches"] += 1
        return real(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(Catalogue, "store_results", full_after_one_batch)
        assert main(["--library", small_library, "index", str(folders[1]), "-q"]) == 2
        assert "the disk holding the library is full" in error_line(capsys.readouterr().err)
    files, indexed = counts(small_library, capsys)
    assert (files, indexed) == (28, 4 + DEFAULT_BATCH_SIZE)  # the first folder, one batch of the second
    assert_consistent(small_library, capsys)
    assert main(["--library", small_library, "index", "-q"]) == 0
    capsys.readouterr()
    assert counts(small_library, capsys) == (28, 28)
    assert_consistent(small_library, capsys)


def test_enospc_in_search_close_injected(small_library, folders, monkeypatch, capsys):
    for stale in (Path(small_library) / "indexes").iterdir():
        stale.unlink()  # search rebuilds the index and saves it when the library closes
    query = str(folders[0] / "scene00.jpg")
    with monkeypatch.context() as patch:
        patch.setattr(ExactIndex, "save", no_space)
        assert main(["--library", small_library, "search", query, "--json"]) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)["results"][0]["rank"] == 1  # the search itself is not lost
        assert "the search index was not saved (No space left on device)" in err
    assert not list((Path(small_library) / "indexes").glob("*.meta.json"))  # nothing half-saved
    assert main(["--library", small_library, "search", query, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]
    assert_consistent(small_library, capsys)


def test_enospc_while_fitting_for_a_multi_example_search_injected(
    small_library, folders, monkeypatch, capsys
):
    """Several examples are averaged in the library's whitening, fitted and saved on first use: a
    full disk then keeps the fit in memory, and the search answers."""
    from retrieval_app.core import metric_spaces

    examples = [str(folders[0] / "scene00.jpg"), str(folders[0] / "scene01.jpg")]
    with monkeypatch.context() as patch:
        patch.setattr(metric_spaces.np, "savez", no_space)
        assert main(["--library", small_library, "search", *examples, "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)["results"]) > 0
    assert not (Path(small_library) / "indexes" / metric_spaces.MAHALANOBIS_FILE).exists()
    assert main(["--library", small_library, "search", *examples, "--json"]) == 0  # space again: saved
    assert (Path(small_library) / "indexes" / metric_spaces.MAHALANOBIS_FILE).exists()
