"""Real small or read-only file systems for tests (a tmpfs mounted on a test folder), and filling one.

Mounting needs root (CI runs as root); elsewhere the tests that need it skip, saying why, and
their injected-error variants still run.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BALLAST = ".ballast"


@contextmanager
def mounted_tmpfs(folder: Path, size: str = "4m", read_only: bool = False) -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted on `folder` (created), unmounted afterwards; skips the test
    where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("no mount command here to make a small file system")
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system holding `folder` until no byte is left, then free about `leave` bytes."""
    ballast = folder / BALLAST
    chunk = b"\0" * (64 << 10)
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, chunk)  # a short write at the end, then ENOSPC
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    os.truncate(ballast, max(0, ballast.stat().st_size - leave))
    return ballast
