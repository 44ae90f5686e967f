"""Start a built Lookalike headless and check it can index and search the sample collection.

Runs the app with `--smoke-test` (the app opens a temporary library, indexes the bundled samples,
runs one query and exits 0) under the offscreen Qt platform, with a time limit. Every line the app
prints is shown with the seconds since launch, so the output gives cold start-to-window and
start-to-first-query times. Exit code 0 when the app passed, 1 when it failed or timed out.

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
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = ROOT / "dist" / "lookalike-gui" / "lookalike-gui"
QT_NOISE = "This plugin does not support propagateSizeHints()"


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


def echo_with_times(stream: IO[str], started: float) -> None:
    """Print each line of `stream` as it arrives, prefixed with the seconds since `started`."""
    for line in stream:
        if line.strip() != QT_NOISE:
            print(f"[{time.perf_counter() - started:6.2f} s] {line}", end="", flush=True)


def run_smoke_test(command: list[str], timeout: float) -> int:
    """Run `command --smoke-test`, echoing its output with times; 0 if it exited 0 within `timeout`."""
    with tempfile.TemporaryDirectory(prefix="lookalike-smoke-home-") as home:
        started = time.perf_counter()
        try:
            app = subprocess.Popen(
                [*command, "--smoke-test"],
                env=isolated_environment(Path(home)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            print(f"FAIL: cannot start {command[0]}: {exc}", file=sys.stderr)
            return 1
        reader = threading.Thread(target=echo_with_times, args=(app.stdout, started))
        reader.start()
        try:
            returncode = app.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
            reader.join()
            print(f"FAIL: no exit within {timeout:.0f} s", file=sys.stderr)
            return 1
        reader.join()
        elapsed = time.perf_counter() - started
    if returncode != 0:
        print(f"FAIL: exit code {returncode} after {elapsed:.1f} s", file=sys.stderr)
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
