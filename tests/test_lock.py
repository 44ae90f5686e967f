"""The library lock: one holder across processes, re-entrant within its holder, freed when it dies."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from retrieval_app.core.lock import LibraryBusyError, LibraryLock

HOLD = (
    "import sys, time\n"
    "from retrieval_app.core.lock import LibraryLock\n"
    "with LibraryLock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    sys.stdin.readline()\n"
)


def test_another_process_is_refused_until_the_holder_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LibraryBusyError, match="another Lookalike process"), LibraryLock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    with LibraryLock(tmp_path):  # the kernel released the killed holder's lock
        pass


def test_reentrant_within_one_instance_from_another_thread(tmp_path):
    lock = LibraryLock(tmp_path)
    errors = []

    def nested() -> None:
        try:
            with lock:
                pass
        except LibraryBusyError as exc:
            errors.append(exc)

    with lock:
        thread = threading.Thread(target=nested)
        thread.start()
        thread.join()
        with pytest.raises(LibraryBusyError), LibraryLock(tmp_path):
            pass
    assert errors == []
    with LibraryLock(tmp_path):  # released once the outermost holder leaves
        pass
