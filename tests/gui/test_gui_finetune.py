"""The fine-tune dialog: folder summary and warnings, a tiny training run to the end, stop, and use."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval_app.core.progress import Progress
from retrieval_app.gui.finetune import FineTuneDialog
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.labelled_gratings import write_labelled_gratings

TRAIN_TIMEOUT_MS = 300_000


def open_dialog(qtbot, window, folder: Path) -> FineTuneDialog:
    dialog = FineTuneDialog(window.controller, window.settings, window)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.scanned, timeout=JOB_TIMEOUT_MS):
        dialog.set_folder(str(folder))
    dialog.epochs.setValue(1)
    dialog.image_size.setValue(64)
    return dialog


def test_folder_summary_warns_about_small_classes(qtbot, window, tmp_path):
    names = write_labelled_gratings(tmp_path / "labelled", classes=3, per_class=3)
    (tmp_path / "labelled" / "lonely").mkdir()
    (tmp_path / "labelled" / names[0] / "000.png").rename(tmp_path / "labelled" / "lonely" / "only.png")
    dialog = open_dialog(qtbot, window, tmp_path / "labelled")
    shown = {
        dialog.classes.topLevelItem(i).text(0): dialog.classes.topLevelItem(i).text(1)
        for i in range(dialog.classes.topLevelItemCount())
    }
    assert shown == {names[0]: "2", names[1]: "3", names[2]: "3"}
    assert dialog.folder_summary.text() == "3 classes · 8 images"
    warnings = dialog.warnings.text()
    assert "1 classes have fewer than 2 images and are left out: lonely" in warnings
    assert (
        "3 classes have fewer than 4 images: they train, but none of their images can be held out" in warnings
    )
    assert "needs at least 2 classes with 4 or more images" in warnings
    assert not dialog.train_button.isEnabled()  # no class can spare images to measure training


def test_every_class_trains_and_small_ones_are_named(qtbot, window, tmp_path):
    names = write_labelled_gratings(tmp_path / "labelled", classes=3, per_class=5)
    for extra in sorted((tmp_path / "labelled" / names[0]).iterdir())[3:]:
        extra.unlink()
    dialog = open_dialog(qtbot, window, tmp_path / "labelled")
    assert "1 classes have fewer than 4 images: they train" in dialog.warnings.text()
    assert dialog.train_button.isEnabled()  # 2 classes can be measured: enough
    with qtbot.waitSignal(dialog.trainingEnded, timeout=TRAIN_TIMEOUT_MS) as ended:
        dialog.train_button.click()
    result = ended.args[0]
    status = dialog.train_status.text()
    assert result.payoff() in status
    assert "trained on 9 images of 3 classes, measured on 4 held-out images of 2 classes" in status
    assert f"too few to hold some out, so they train but are not validated: {names[0]}" in status


def test_training_runs_to_the_end_and_the_model_can_be_used(qtbot, window, tmp_path):
    write_labelled_gratings(tmp_path / "labelled", classes=4, per_class=6)
    dialog = open_dialog(qtbot, window, tmp_path / "labelled")
    assert dialog.warnings.text() == "" and dialog.train_button.isEnabled()
    with qtbot.waitSignal(dialog.trainingEnded, timeout=TRAIN_TIMEOUT_MS) as ended:
        dialog.train_button.click()
    result = ended.args[0]
    assert result is not None and not result.cancelled and result.epochs_completed == 1
    points = dialog.chart.points()
    assert [x for x, _ in points["recall"]] == [0.0, 1.0]  # the untrained start, then epoch 1
    assert [x for x, _ in points["loss"]] == [1.0]
    assert [y for _, y in points["recall"]] == [h.recall_at_1 for h in result.history]
    out = Path(result.out)
    assert out.is_file() and out.parent == window.controller.info.root / "models"
    status = dialog.train_status.text()
    assert "Done in" in status and out.name in status
    start, best = result.start_metrics["recall@1"], result.best_metrics["recall@1"]
    assert f"Recall@1 on your held-out photos: {start:.3f} → {best:.3f}" in status
    assert "trained on 16 images of 4 classes, measured on 8 held-out images of 4 classes" in status
    assert dialog.use_button.isEnabled()

    with qtbot.waitSignal(window.controller.jobEnded, timeout=JOB_TIMEOUT_MS) as switched:
        dialog.use_button.click()
    assert switched.args[1], switched.args[0]
    assert window.controller.library.model_spec == str(out)
    assert window.model_picker.current_spec() == str(out)
    assert window.settings.recent_models[0] == str(out)


def test_training_can_be_stopped(qtbot, window, tmp_path):
    write_labelled_gratings(tmp_path / "labelled", classes=4, per_class=6)
    dialog = open_dialog(qtbot, window, tmp_path / "labelled")
    dialog.epochs.setValue(200)

    def stop_at_first_step(item: object) -> None:
        if isinstance(item, Progress) and dialog.stop_button.isEnabled():
            dialog.stop_button.click()

    with qtbot.waitSignal(dialog.trainingEnded, timeout=TRAIN_TIMEOUT_MS) as ended:
        dialog.train_button.click()
        dialog._task.progressed.connect(stop_at_first_step)
    result = ended.args[0]
    assert result.cancelled and result.epochs_completed < 200
    assert "Stopped after epoch" in dialog.train_status.text()
    assert not dialog.stop_button.isEnabled() and dialog.train_button.isEnabled()


def test_using_the_model_re_embeds_with_progress_and_redoes_the_search(qtbot, window, photos, tmp_path):
    index_folders(qtbot, window, tmp_path / "photos")
    query = photos["scene02"][1]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=JOB_TIMEOUT_MS):
        window.use_as_query(str(query))
    before = [r.path for r in window.results_page.model.results()]
    write_labelled_gratings(tmp_path / "labelled", classes=4, per_class=6)
    dialog = open_dialog(qtbot, window, tmp_path / "labelled")
    with qtbot.waitSignal(dialog.trainingEnded, timeout=TRAIN_TIMEOUT_MS) as ended:
        dialog.train_button.click()
    out = str(ended.args[0].out)

    progress: list[Progress] = []
    window.controller.jobProgress.connect(lambda item: isinstance(item, Progress) and progress.append(item))
    library = window.controller.library
    with qtbot.waitSignal(
        window.controller.search.resultsChanged,
        timeout=JOB_TIMEOUT_MS,
        check_params_cb=lambda *_: library.model_spec == out and window.controller.current_job is None,
    ):
        dialog.use_button.click()
    embedded = [p for p in progress if p.stage == "embedding" and p.total > 0]
    assert embedded and embedded[-1].done == embedded[-1].total == window.status.indexed
    expected = library.search(
        str(query), k=window.controls.k.value(), metric=window.controls.metric.currentData()
    )
    shown = window.results_page.model.results()
    assert [r.path for r in shown] == [r.path for r in expected]
    assert [r.distance for r in shown] == pytest.approx([r.distance for r in expected], rel=1e-5)
    assert before  # the search on screen before the switch had results too
