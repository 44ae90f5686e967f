"""GUI fixtures: an isolated settings file, generated photos and a main window on a tiny fast model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QThreadPool

from retrieval_app.gui.main_window import MainWindow
from retrieval_app.gui.settings import AppSettings
from tests.imagegen import write_collection

OPEN_TIMEOUT_MS = 120_000
JOB_TIMEOUT_MS = 180_000


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """Every GUI test ends with the thread pool idle: nothing keeps running after a test."""
    yield
    QThreadPool.globalInstance().waitForDone()


@pytest.fixture
def settings(tmp_path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def photos(tmp_path) -> dict:
    """Six scenes, each with a resized near-duplicate."""
    return write_collection(tmp_path / "photos", originals=6, variants=("resized",))


def open_window(qtbot, settings: AppSettings, library, model: str | None) -> MainWindow:
    window = MainWindow(settings, library, model=model)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.controller.opened, timeout=OPEN_TIMEOUT_MS):
        window.start()
    return window


@pytest.fixture
def window(qtbot, tmp_path, settings, tiny_checkpoint):
    """The main window on an empty library that uses the tiny checkpoint (64 px, 32-d)."""
    window = open_window(qtbot, settings, tmp_path / "library", str(tiny_checkpoint))
    yield window
    window.close()


def index_folders(qtbot, window: MainWindow, *folders) -> str:
    """Add folders through the window and wait for indexing to end; returns its summary.

    The library's status read at the end of the job is on screen before `jobEnded` arrives.
    """
    with qtbot.waitSignal(window.controller.jobEnded, timeout=JOB_TIMEOUT_MS) as ended:
        window.add_folders([str(folder) for folder in folders])
    summary, ok = ended.args
    assert ok, summary
    return summary
