"""Preferences and window layout survive a restart; switching the model re-embeds or explains why not."""

from __future__ import annotations

from pathlib import Path

from retrieval_app.gui.main_window import MainWindow
from retrieval_app.gui.settings import AppSettings
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders


def test_choices_and_geometry_persist_between_runs(qtbot, tmp_path, settings):
    first = MainWindow(settings, tmp_path / "library")
    qtbot.addWidget(first)
    first.resize(780, 540)
    first.show()
    size = (first.width(), first.height())
    assert size != (1280, 820)  # not the default size
    first.controls.metric.setCurrentIndex(first.controls.metric.findData("cosine"))
    first.controls.k.setValue(7)
    first.close()

    settings.thumbnail_size = 200
    again = AppSettings(settings.store)
    second = MainWindow(again, tmp_path / "library")
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == size
    assert second.controls.params() == ("cosine", 7, None)
    assert second.results_page.delegate.thumbnail_size == 200
    second.close()


def test_switching_model_re_embeds_the_library_in_the_background(qtbot, window, photos, tmp_path):
    index_folders(qtbot, window, tmp_path / "photos")
    from trainer.checkpoint import save_checkpoint
    from trainer.model import ModelConfig, build_model

    other = tmp_path / "other.safetensors"
    save_checkpoint(other, build_model(ModelConfig(embedding_dim=16, image_size=64), seed=3))
    ended: list[tuple[str, bool]] = []
    progress_seen: list[object] = []
    window.controller.jobEnded.connect(lambda summary, ok: ended.append((summary, ok)))
    window.controller.jobProgress.connect(progress_seen.append)
    window.switch_model(str(other), confirm=False)
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=JOB_TIMEOUT_MS)
    assert ended[0] == (f"Now using {other.name}; re-embedding the library.", True)
    assert ended[1][1] and ended[1][0].startswith("12 images indexed")
    assert any(getattr(p, "stage", "") == "embedding" and p.done == p.total == 12 for p in progress_seen)
    library = window.controller.library
    assert library.model_spec == str(other) and library.embedder.dim == 16
    assert window.status.indexed == 12 and window.model_picker.current_spec() == str(other)
    assert window.settings.recent_models == [str(other)]


def test_a_broken_model_is_refused_with_a_reason(qtbot, window, tmp_path, tiny_checkpoint):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"this is no checkpoint")
    with qtbot.waitSignal(window.controller.jobEnded, timeout=JOB_TIMEOUT_MS) as ended:
        window.switch_model(str(broken), confirm=False)
    summary, ok = ended.args
    assert not ok and "broken.safetensors" in summary
    assert window.message_bar.text().startswith("Cannot load model")
    assert window.controller.library.model_spec == str(tiny_checkpoint)
    assert window.model_picker.current_spec() == str(tiny_checkpoint)
    assert Path(window.controller.info.model) == tiny_checkpoint


def test_settings_dialog_changes_thumbnails_and_reopens_another_library(qtbot, window, tmp_path):
    from retrieval_app.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window.library_dir, window.controller.info.devices, window)
    qtbot.addWidget(dialog)
    assert dialog.device.itemData(0) == "auto" and dialog.device.findData("cpu") >= 0
    dialog.thumbnail_size.setCurrentIndex(dialog.thumbnail_size.findData(96))
    dialog.accept()
    assert not dialog.restart_needed()
    window.apply_settings(dialog.restart_needed())
    assert window.results_page.delegate.thumbnail_size == 96 and window.thumbnails.size == 96

    dialog = SettingsDialog(window.settings, window.library_dir, window.controller.info.devices, window)
    qtbot.addWidget(dialog)
    dialog.location.setText(str(tmp_path / "elsewhere"))
    dialog.accept()
    assert dialog.restart_needed()
    with qtbot.waitSignal(window.controller.opened, timeout=JOB_TIMEOUT_MS) as opened:
        window.apply_settings(True)
    assert opened.args[0].root == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere" / "catalogue.sqlite").is_file()
    assert window.windowTitle() == f"Lookalike — {tmp_path / 'elsewhere'}"
