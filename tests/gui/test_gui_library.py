"""Library management from the window: first start, indexing progress to 100 %, cancel, skipped files."""

from __future__ import annotations

from PySide6.QtCore import QThreadPool

from retrieval_app.core.progress import Progress
from retrieval_app.gui.folders import SkippedDialog
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.imagegen import original


def test_first_start_offers_to_add_a_folder(window):
    assert window.stack.currentWidget() is window.welcome
    assert window.results_page.view.hint()[0] == "Drop an image here"
    assert window.welcome.add_button.isVisible()
    assert window.folders.model.rowCount() == 0
    assert window.controller.info.model.endswith("tiny.safetensors")


def test_indexing_progress_reaches_100_percent_and_counts_show(qtbot, window, photos, tmp_path):
    folder = tmp_path / "photos"
    (folder / "broken.jpg").write_bytes(b"not a photo at all")
    reports: list[Progress] = []
    bar_values: list[int] = []
    window.controller.jobProgress.connect(reports.append)
    window.controller.jobProgress.connect(lambda _p: bar_values.append(window.folders.progress.bar.value()))
    summary = index_folders(qtbot, window, folder)

    embedding = [r for r in reports if r.stage == "embedding"]
    assert embedding[-1].done == embedding[-1].total == 13 and embedding[-1].fraction == 1.0
    assert bar_values[-1] == 100
    assert summary.startswith("12 images indexed, 1 skipped")
    assert not window.folders.progress.isVisible()
    assert window.stack.currentIndex() == 0  # the results page replaces the welcome page
    model = window.folders.model
    row = [model.index(0, column).data() for column in range(4)]
    assert row == ["photos", "12", "1", "0"]
    assert window.folders.skipped_button.isEnabled()

    dialog = SkippedDialog(window.status.skipped, window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 0).text() == "broken.jpg"
    assert "not an image" in dialog.table.item(0, 1).text()


def test_cancel_stops_indexing_and_keeps_the_rest_pending(qtbot, window, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(160):
        original(i, size=(72, 54)).save(folder / f"{i:03d}.jpg")
    cancelled_at: list[int] = []

    def cancel_once_embedding(progress: Progress) -> None:
        if progress.stage == "embedding" and progress.done > 0 and not cancelled_at:
            cancelled_at.append(progress.done)
            window.cancel_action.trigger()  # Esc

    window.controller.jobProgress.connect(cancel_once_embedding)
    with qtbot.waitSignal(window.controller.jobEnded, timeout=JOB_TIMEOUT_MS) as ended:
        window.add_folders([str(folder)])
    summary, ok = ended.args
    assert ok and summary.startswith("Indexing stopped")
    status = window.status
    assert status.pending > 0 and status.indexed + status.pending == 160
    assert status.indexed < 160
    assert not window.folders.progress.isVisible() and not window.cancel_action.isEnabled()
    assert QThreadPool.globalInstance().waitForDone(30_000)
