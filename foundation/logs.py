"""The log file: unexpected errors are written there with their traceback, and messages say where.

It lives under `platformdirs.user_log_dir("Lookalike")` (or `$LOOKALIKE_LOG_DIR`, which tests set),
rotates at 1 MB keeping three old files, and is attached to the root logger on first use (it
records what reaches the root logger: warnings and errors unless a program lowers the level).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

import platformdirs

LOG_DIR_ENV = "LOOKALIKE_LOG_DIR"
LOG_NAME = "lookalike.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

log = logging.getLogger("lookalike")
_handler: RotatingFileHandler | None = None
_guard = threading.Lock()


def log_path() -> Path:
    """Where the log file is (or will be)."""
    folder = os.environ.get(LOG_DIR_ENV) or platformdirs.user_log_dir("Lookalike", appauthor=False)
    return Path(folder) / LOG_NAME


def enable_file_log() -> Path | None:
    """Attach the rotating log file to the root logger (again if its place changed); None if it cannot be written."""
    global _handler
    path = log_path()
    with _guard:
        if _handler is not None and Path(_handler.baseFilename) == path.absolute():
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        except OSError:
            return None
        handler.setFormatter(logging.Formatter(FORMAT))
        root = logging.getLogger()
        if _handler is not None:
            root.removeHandler(_handler)
            _handler.close()
        root.addHandler(handler)
        _handler = handler
        return path


def log_unexpected(exc: BaseException, context: str) -> Path | None:
    """Write `exc` with its traceback to the log file; returns the file, or None if there is none."""
    path = enable_file_log()
    log.error("%s", context, exc_info=(type(exc), exc, exc.__traceback__))
    if _handler is not None:
        _handler.flush()
    return path


def unexpected_message(exc: BaseException, context: str) -> str:
    """Log a bug and say it in one line: what it was and where the details are."""
    path = log_unexpected(exc, context)
    text = str(exc).strip()
    detail = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
    where = f"Details are in {path}." if path else "No log file could be written."
    return f"Something went wrong ({detail}). {where}"


def install_excepthook() -> None:
    """Uncaught exceptions (in a Qt slot, say) are logged with their traceback too, then shown as before."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, traceback: TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            log_unexpected(exc.with_traceback(traceback), "uncaught exception")
        previous(kind, exc, traceback)

    sys.excepthook = hook
