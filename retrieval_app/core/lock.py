"""One writer per library across processes: a lock file (`filelock`) held while indexing.

The operating system releases the lock when its holder dies (flock on Unix, msvcrt locking on
Windows), so a killed indexer never leaves it stuck.
"""

from __future__ import annotations

import threading
from pathlib import Path

from filelock import FileLock, Timeout

from foundation.errors import UserError


class LibraryBusyError(UserError, RuntimeError):
    """Another Lookalike process is writing to this library right now."""


class LibraryLock:
    """Context manager taking an exclusive, non-blocking lock on `<library>/.lock`.

    Re-entrant within one instance, from any thread of the process that holds it; a second
    instance (another process, or another library object on the same folder) is refused.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / ".lock"
        self._lock = FileLock(self.path, thread_local=False)
        self._guard = threading.Lock()

    def __enter__(self) -> LibraryLock:
        with self._guard:
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                raise LibraryBusyError(
                    "another Lookalike process is indexing this library; try again when it finishes"
                ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            self._lock.release()
