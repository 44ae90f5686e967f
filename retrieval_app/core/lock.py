"""One writer per library across processes: an advisory lock file held while indexing."""

from __future__ import annotations

import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a single app instance is assumed
    fcntl = None


class LibraryBusyError(RuntimeError):
    """Another Lookalike process is writing to this library right now."""


class LibraryLock:
    """Context manager taking an exclusive, non-blocking lock on `<library>/.lock`.

    The kernel releases it when the holder dies, so a killed indexer never leaves it stuck.
    Re-entrant within one instance, from any thread of the process that holds it.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / ".lock"
        self._fd: int | None = None
        self._depth = 0
        self._guard = threading.Lock()

    def __enter__(self) -> LibraryLock:
        with self._guard:
            self._acquire()
        return self

    def _acquire(self) -> None:
        if self._depth == 0 and fcntl is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LibraryBusyError(
                    "another Lookalike process is indexing this library; try again when it finishes"
                ) from None
            self._fd = fd
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
