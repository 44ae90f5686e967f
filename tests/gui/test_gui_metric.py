"""Learning a metric in the fine-tune dialog: it runs the core's pipeline, says how it did on the
held-out photos, and switches the search to it only when it beat Euclidean there."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval_app.core import metric_learning
from retrieval_app.gui.tasks import running_tasks
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.gui.test_gui_finetune import open_dialog
from tests.labelled_gratings import write_labelled_gratings


def _scripted_recall(monkeypatch, euclidean: float, learned: float) -> None:
    """The held-out check's two Recall@1 figures, in the order it measures them."""
    figures = iter([euclidean, learned])
    monkeypatch.setattr(metric_learning, "recall_at_1", lambda vectors, labels: next(figures))


def _learn(qtbot, window, tmp_path, method: str):
    index_folders(qtbot, window, tmp_path / "photos")
    write_labelled_gratings(tmp_path / "labelled", classes=4, per_class=5)
    dialog = open_dialog(qtbot, window, tmp_path / "labelled")
    dialog.tabs.setCurrentIndex(1)
    dialog.method.setCurrentIndex(dialog.method.findData(method))
    return dialog


def test_a_better_metric_becomes_the_librarys_learned_metric(qtbot, window, photos, tmp_path, monkeypatch):
    _scripted_recall(monkeypatch, 0.80, 0.90)
    dialog = _learn(qtbot, window, tmp_path, "mmc")
    with qtbot.waitSignal(window.controller.metricLearned, timeout=JOB_TIMEOUT_MS) as learned:
        dialog.learn_button.click()
    path = Path(learned.args[0])
    assert path.is_file() and path.parent == window.controller.info.root / "metrics"
    status = dialog.metric_status.text()
    assert "MMC learned from 20 images in 4 classes" in status
    assert "Held-out Recall@1 0.80 → 0.90 on 8 of your photos" in status
    assert window.controls.metric.currentData() == "learned"
    assert window.controls.metric.currentText() == "Learned (0.80 → 0.90 held-out)"

    query = photos["scene02"][1]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=JOB_TIMEOUT_MS):
        window.use_as_query(str(query))
    expected = window.controller.library.search(str(query), k=window.controls.k.value(), metric="learned")
    shown = window.results_page.model.results()
    assert [r.path for r in shown] == [r.path for r in expected]
    assert [r.distance for r in shown] == pytest.approx([r.distance for r in expected], rel=1e-5)


def test_a_worse_metric_is_reported_and_not_used(qtbot, window, photos, tmp_path, monkeypatch):
    _scripted_recall(monkeypatch, 0.95, 0.88)
    dialog = _learn(qtbot, window, tmp_path, "lmnn")
    used: list[str] = []
    window.controller.metricLearned.connect(used.append)
    with qtbot.waitSignal(dialog.metricEnded, timeout=JOB_TIMEOUT_MS) as ended:
        dialog.learn_button.click()
    assert not ended.args[0].held_out.better
    assert (
        "The learned metric is not better than Euclidean on your held-out photos: 0.88 vs 0.95, "
        "so the search keeps its current metric." in dialog.metric_status.text()
    )
    assert not any(task.name == "metric" for task in running_tasks())  # no switch was started
    assert used == [] and window.controller.library.catalogue.get_meta("learned_metric") is None
    assert window.controls.metric.currentData() == "euclidean"
