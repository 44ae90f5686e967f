"""The one way the GUI runs work off the main thread: a callable in the global QThreadPool.

The callable receives a report function and a CancelToken (plain Python, as the core expects)
and its outcome comes back to the main thread in order: `settled` (the work is over: update
bookkeeping there), then exactly one of `finished`, `failed` or `cancelled`, then `done`.
Failures arrive as a sentence for people, never a traceback; a bug's traceback goes to the log
file (`foundation.logs`) and the sentence says where it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from foundation.errors import UserError
from foundation.logs import log_unexpected, unexpected_message
from retrieval_app.core.progress import Cancelled, CancelToken, Progress

Report = Callable[[object], None]
TaskFunction = Callable[[Report, CancelToken], Any]

MIN_POOL_THREADS = 8
PROGRESS_INTERVAL = 0.05

_running: set[Task] = set()


def describe_error(exc: BaseException) -> str:
    """A one-line message a person can act on; anything but a `UserError` is a bug, logged with its traceback."""
    if isinstance(exc, UserError):
        text = str(exc).strip() or type(exc).__name__
        return text[0].upper() + text[1:]
    if isinstance(exc, MemoryError):
        return "Not enough memory for this operation. Close other programs or use a smaller model."
    if isinstance(exc, ImportError):
        path = log_unexpected(exc, "a part of Lookalike could not be loaded")
        where = f"see {path}" if path else "see the terminal"
        return f"Lookalike is not installed completely: {exc}. Reinstall it, or {where}."
    return unexpected_message(exc, "unexpected error in a background task")


class Task(QObject):
    """A callable run in the background; connect to its signals before `start()`."""

    progressed = Signal(object)
    settled = Signal()
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(object)
    done = Signal()

    def __init__(self, name: str, function: TaskFunction, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self._function = function
        self._running = False
        self._last_report = 0.0

    @property
    def running(self) -> bool:
        return self._running

    def start(self, priority: int = 0) -> Task:
        """Queue the callable on the global pool (kept alive until `done` is delivered)."""
        pool = QThreadPool.globalInstance()
        if pool.maxThreadCount() < MIN_POOL_THREADS:
            pool.setMaxThreadCount(MIN_POOL_THREADS)
        self._running = True
        _running.add(self)
        self.done.connect(self._forget)
        pool.start(_Runner(self), priority)
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def _report(self, item: object) -> None:
        """Forward a report; in-between `Progress` updates are thinned so the event loop keeps up."""
        if isinstance(item, Progress) and 0 < item.done < item.total:
            now = time.monotonic()
            if now - self._last_report < PROGRESS_INTERVAL:
                return
            self._last_report = now
        self.progressed.emit(item)

    def _run(self) -> None:
        try:
            result = self._function(self._report, self.token)
        except Cancelled:
            self.settled.emit()
            self.cancelled.emit(None)
        except Exception as exc:
            message = describe_error(exc)
            self.settled.emit()
            self.failed.emit(message)
        else:
            self.settled.emit()
            if self.token.cancelled:
                self.cancelled.emit(result)
            else:
                self.finished.emit(result)
        finally:
            self.done.emit()

    def _forget(self) -> None:
        """Connected last, so every other `done` slot has run; released on the next loop turn."""
        self._running = False
        QTimer.singleShot(0, self._release)

    def _release(self) -> None:
        _running.discard(self)
        self.deleteLater()  # parented to a long-lived object, it would otherwise live as long


class _Runner(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task = task

    def run(self) -> None:
        self._task._run()


def running_tasks() -> list[Task]:
    """Tasks started and not yet done."""
    return list(_running)
