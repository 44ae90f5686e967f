"""`--smoke-test`: the real window indexes the sample collection in a temporary library and runs a query.

Used by the packaging smoke test to prove a build starts, finds its model and answers; it prints
how long each stage took and exits 0, or prints what failed and exits 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer

from retrieval_app.core.images import is_supported

from . import IMPORTED_AT

STAGE_TIMEOUT_SECONDS = 600


def wait_for_signal(signal: object, timeout: float = STAGE_TIMEOUT_SECONDS) -> tuple:
    """Run the event loop until `signal` fires; returns its arguments (raises TimeoutError)."""
    loop = QEventLoop()
    received: list[tuple] = []

    def catch(*args: object) -> None:
        received.append(args)
        loop.quit()

    signal.connect(catch)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    signal.disconnect(catch)
    if not received:
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    return received[0]


def run_smoke_test(model: str | None = None) -> int:
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from .app import create_application
    from .main_window import MainWindow
    from .resources import sample_folder
    from .settings import AppSettings

    started = IMPORTED_AT
    app = create_application(sys.argv[:1])
    sample = sample_folder()
    if sample is None:
        print("smoke test: failed: this installation has no sample collection", file=sys.stderr)
        return 1
    query = next(p for p in sorted(sample.iterdir()) if is_supported(p))
    with tempfile.TemporaryDirectory(prefix="lookalike-smoke-") as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings, Path(tmp) / "library", model=model)
        window.show()
        app.processEvents()
        shown = time.perf_counter() - started
        controller = window.controller
        failures: list[str] = []
        for failure in (
            controller.openFailed,
            controller.search.queryFailed,
            controller.search.searchFailed,
            controller.error,
        ):
            failure.connect(failures.append)
        try:
            window.start()
            wait_for_signal(controller.opened)
            opened = time.perf_counter() - started
            window.add_folders([str(sample)])
            summary, ok = wait_for_signal(controller.jobEnded)
            if not ok:
                raise RuntimeError(summary)
            indexed = time.perf_counter()
            window.use_as_query(str(query))
            results, seconds = wait_for_signal(controller.search.resultsChanged)
        except (TimeoutError, RuntimeError) as exc:
            failures.append(str(exc))
            results, seconds, indexed = [], 0.0, time.perf_counter()
        finally:
            window.close()
    if failures or not results:
        print(f"smoke test: failed: {'; '.join(failures) or 'the query found nothing'}", file=sys.stderr)
        return 1
    print(
        f"smoke test: ok: window {shown:.2f} s, library open {opened:.2f} s, "
        f"indexed ({summary}) in {indexed - started - opened:.2f} s, "
        f"query {seconds * 1000:.0f} ms, {len(results)} results, top: {Path(results[0].path).name}"
    )
    return 0
