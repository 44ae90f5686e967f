"""`--smoke-test`: the real window indexes the sample collection in a temporary library and runs a query.

Used by the packaging smoke test to prove a build starts, finds its model and answers. It prints a
line as each stage ends (flushed, so a caller can time them) and exits 0, or prints what failed and
exits 1 as soon as anything fails: a failure the window would show, a failed job, an error logged by
a background task, or an exception that escapes a slot or a worker thread.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QEventLoop, QSettings, QThreadPool, QTimer, SignalInstance
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from foundation.imagetypes import is_supported

from . import IMPORTED_AT

STAGE_TIMEOUT_SECONDS = 600
POLL_MS = 100
SHUTDOWN_GRACE_MS = 10_000


class SmokeFailure(Exception):
    """A stage failed or did not finish in time; the message says which and why."""


class FailureWatch(logging.Handler):
    """Collects every failure, from any thread, while the smoke test waits for the next stage."""

    def __init__(self, signals: Iterable[SignalInstance], job_ended: SignalInstance) -> None:
        super().__init__(logging.ERROR)
        self.failures: list[str] = []
        for signal in signals:
            signal.connect(self.failures.append)
        job_ended.connect(self._job_ended)
        self._previous_hook = sys.excepthook

    def __enter__(self) -> FailureWatch:
        logging.getLogger().addHandler(self)
        sys.excepthook = self._uncaught
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.excepthook = self._previous_hook
        logging.getLogger().removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """An ERROR record (background tasks log unexpected errors with their traceback)."""
        error = record.exc_info[1] if record.exc_info else None
        detail = f": {type(error).__name__}: {error}" if error is not None else ""
        self.failures.append(f"{record.getMessage()}{detail}")

    def _job_ended(self, summary: str, ok: bool) -> None:
        if not ok:
            self.failures.append(summary)

    def _uncaught(self, kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        """Qt hands exceptions from slots and worker threads here; print them as usual and fail."""
        self._previous_hook(kind, error, trace)
        self.failures.append(f"uncaught {kind.__name__}: {error}")

    def wait(self, signal: SignalInstance, stage: str, timeout: float = STAGE_TIMEOUT_SECONDS) -> tuple:
        """Run the event loop until `signal` fires (its arguments) or a failure arrives (SmokeFailure)."""
        loop = QEventLoop()
        received: list[tuple] = []

        def catch(*args: Any) -> None:
            received.append(args)
            loop.quit()

        def check() -> None:
            if self.failures:
                loop.quit()

        poll, deadline = QTimer(), QTimer()
        poll.timeout.connect(check)
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        signal.connect(catch)
        poll.start(POLL_MS)
        deadline.start(int(timeout * 1000))
        try:
            if not self.failures:
                loop.exec()
        finally:
            poll.stop()
            deadline.stop()
            signal.disconnect(catch)
        if self.failures:
            raise SmokeFailure(f"{stage}: {'; '.join(dict.fromkeys(self.failures))}")
        if not received:
            raise SmokeFailure(f"{stage}: no answer within {timeout:.0f} s")
        return received[0]


def report(text: str) -> None:
    """One progress line on stdout, flushed at once so that the caller sees when each stage ended."""
    print(f"smoke test: {text}", flush=True)


def run_smoke_test(model: str | None = None) -> int:
    """Index the samples in a temporary library and run one query in the real window; the exit code."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from .app import create_application

    create_application(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="lookalike-smoke-"))
    try:
        return smoke_in(tmp, model)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def smoke_in(tmp: Path, model: str | None) -> int:
    """The smoke test proper, with settings and library under `tmp`."""
    from retrieval_app.resources import icon_path

    from .main_window import MainWindow
    from .resources import sample_folder
    from .settings import AppSettings

    sample = sample_folder()
    if sample is None:
        print("smoke test: failed: this installation has no sample collection", file=sys.stderr)
        return 1
    if QIcon(str(icon_path())).pixmap(64, 64).isNull():
        print("smoke test: failed: the app icon does not render (Qt's SVG plugins?)", file=sys.stderr)
        return 1
    query = next(p for p in sorted(sample.iterdir()) if is_supported(p))
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, tmp / "library", model=model)
    window.show()
    QApplication.processEvents()
    report(f"window shown {time.perf_counter() - IMPORTED_AT:.2f} s after the GUI was imported")
    controller = window.controller
    failures = (
        controller.openFailed,
        controller.error,
        controller.search.queryFailed,
        controller.search.searchFailed,
    )
    with FailureWatch(failures, controller.jobEnded) as watch:
        try:
            window.start()
            watch.wait(controller.opened, "opening the library")
            device = controller.library.embedder.device
            report(
                f"library open, model on {device}, {time.perf_counter() - IMPORTED_AT:.2f} s after the GUI was imported"
            )
            started = time.perf_counter()
            window.add_folders([str(sample)])
            summary, _ = watch.wait(controller.jobEnded, "indexing the samples")
            report(f"indexed in {time.perf_counter() - started:.2f} s: {summary}")
            window.use_as_query(str(query))
            results, seconds = watch.wait(controller.search.resultsChanged, f"searching with {query.name}")
            if not results:
                raise SmokeFailure(f"searching with {query.name}: no results")
        except SmokeFailure as failure:
            print(f"smoke test: failed: {failure}", file=sys.stderr, flush=True)
            controller.cancel_job()
            if not QThreadPool.globalInstance().waitForDone(SHUTDOWN_GRACE_MS):
                print(
                    "smoke test: a background task does not stop; exiting anyway", file=sys.stderr, flush=True
                )
                shutil.rmtree(tmp, ignore_errors=True)
                os._exit(1)
            window.close()
            return 1
    report(
        f"query answered in {seconds * 1000:.0f} ms: {len(results)} results, top {Path(results[0].path).name}"
    )
    window.close()
    report("ok")
    return 0
