"""Start a built Lookalike headless and check it can index and search the sample collection.

Runs the app with `--smoke-test` (the app opens a temporary library, indexes the bundled samples,
runs one query and exits 0) under the offscreen Qt platform, with a time limit, and reports how
long it took. Exit code 0 when the app passed, 1 when it failed or timed out.

    .venv/bin/python packaging/smoke_test.py                      # the PyInstaller build in dist/
    .venv/bin/python packaging/smoke_test.py --app "python -m retrieval_app"   # an installed app
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = ROOT / "dist" / "lookalike-gui" / "lookalike-gui"


def isolated_environment(home: Path) -> dict[str, str]:
    """The caller's environment with Qt offscreen and settings, data and caches kept under `home`."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    for variable, folder in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        env[variable] = str(home / folder)
    return env


def run_smoke_test(command: list[str], timeout: float) -> int:
    """Run `command --smoke-test`; print its output and the wall time; 0 if it exited 0 in time."""
    with tempfile.TemporaryDirectory(prefix="lookalike-smoke-home-") as home:
        started = time.perf_counter()
        try:
            result = subprocess.run(
                [*command, "--smoke-test"],
                env=isolated_environment(Path(home)),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            print(f"FAIL: no exit within {timeout:.0f} s; its output so far:", file=sys.stderr)
            for captured in (exc.stdout, exc.stderr):  # bytes here even in text mode
                sys.stderr.write(captured.decode(errors="replace") if captured else "")
            return 1
        except OSError as exc:
            print(f"FAIL: cannot start {command[0]}: {exc}", file=sys.stderr)
            return 1
        elapsed = time.perf_counter() - started
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        print(f"FAIL: exit code {result.returncode} after {elapsed:.1f} s", file=sys.stderr)
        return 1
    print(f"OK: start, index and query took {elapsed:.1f} s in total")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--app",
        default=str(DEFAULT_APP),
        help="command that starts the app, split like a shell would (default: the build in dist/)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before the run counts as hung")
    args = parser.parse_args(argv)
    command = shlex.split(args.app)
    if command and command[0] == "python":
        command[0] = sys.executable
    return run_smoke_test(command, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
