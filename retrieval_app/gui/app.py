"""`lookalike-gui` / `python -m retrieval_app`: parse the options, show the window, run the event loop."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from foundation.logs import enable_file_log, install_excepthook

from .main_window import MainWindow
from .resources import app_icon
from .settings import AppSettings
from .style import apply_style


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookalike-gui", description="Find similar images in your photo folders (desktop app)."
    )
    parser.add_argument(
        "--library",
        help="folder holding the catalogue and indexes (default: the last one used, else "
        "$LOOKALIKE_LIBRARY or the user data folder)",
    )
    parser.add_argument("--model", help="backbone name or trained .safetensors checkpoint to use")
    parser.add_argument(
        "--add-sample", action="store_true", help="add the bundled sample collection and index it"
    )
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="index the sample collection in a temporary library, run one query, print timings, exit",
    )
    return parser


def create_application(argv: list[str]) -> QApplication:
    """The QApplication with Lookalike's names (QSettings keys), icon and look."""
    app = QApplication.instance() or QApplication(argv)
    app.setOrganizationName("Lookalike")
    app.setApplicationName("Lookalike")
    app.setApplicationDisplayName("Lookalike")
    app.setDesktopFileName("io.github.lookalike.Lookalike")
    app.setWindowIcon(app_icon())
    apply_style(app)
    return app


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="lookalike-gui: %(levelname)s: %(message)s")
    enable_file_log()  # warnings and bugs also go to the log file the error messages point to
    install_excepthook()
    if args.smoke_test:
        from .smoke import run_smoke_test

        return run_smoke_test(args.model)
    app = create_application(sys.argv[:1])
    settings = AppSettings()
    library = Path(args.library).expanduser() if args.library else settings.library_dir
    if args.library:
        settings.library_dir = library
    window = MainWindow(settings, library, model=args.model, add_sample=args.add_sample)
    window.show()
    QTimer.singleShot(0, window.start)
    signal.signal(signal.SIGINT, lambda *_: window.close())
    heartbeat = QTimer()  # lets Python run its Ctrl+C handler while Qt waits for events
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(300)
    return app.exec()
