"""Searching from the window: drops, paste, metric/k/distance changes, result actions, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from retrieval_app.gui.qimages import pil_to_qimage
from retrieval_app.gui.results import DistanceRole, PathRole
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.imagegen import original, variant

SEARCH_TIMEOUT_MS = 60_000


def drop(window, path: Path) -> None:
    """What a file manager's drag does over the results grid: enter (must be accepted), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    target = window.results_page.view.viewport()
    where = QPointF(target.rect().center())
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(where, *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(target, QDropEvent(where, *args))


def shown_results(window) -> list[tuple[str, float]]:
    model = window.results_page.view.model()
    return [
        (model.index(row).data(PathRole), model.index(row).data(DistanceRole))
        for row in range(model.rowCount())
    ]


@pytest.fixture
def indexed(qtbot, window, photos):
    index_folders(qtbot, window, next(iter(photos.values()))[0].parent)
    return window


def test_dropped_copy_shows_its_original_first(qtbot, indexed, photos):
    window = indexed
    original_path, copy = photos["scene02"]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, copy)
    results = shown_results(window)
    assert results[0][0] == str(original_path)
    assert str(copy) not in [path for path, _ in results]  # the query itself is left out
    assert [d for _, d in results] == sorted(d for _, d in results)
    assert len(results) == 11  # 12 images in the library, minus the query
    assert window.query_panel.name.text() == copy.name and window.query_panel.preview.has_image()
    assert "11 similar images" in window.results_page.title.text()
    first = window.results_page.view.model().index(0)
    qtbot.waitUntil(lambda: first.data(Qt.ItemDataRole.DecorationRole) is not None, timeout=10_000)


def test_pasted_image_is_searched(qtbot, indexed, photos):
    window = indexed
    QGuiApplication.clipboard().setImage(pil_to_qimage(variant(original(4), "bright")))
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.paste_action.trigger()
    assert shown_results(window)[0][0] == str(photos["scene04"][0])
    assert window.query_panel.name.text() == "Pasted image"


def _choose_metric(qtbot, window, metric: str) -> list[tuple[str, float]]:
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.controls.metric.setCurrentIndex(window.controls.metric.findData(metric))
    return shown_results(window)


def test_changing_the_metric_updates_the_grid_with_the_cores_answer(qtbot, indexed, photos):
    window = indexed
    query = photos["scene01"][1]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, query)
    library = window.controller.library
    shown = {
        metric: _choose_metric(qtbot, window, metric) for metric in ("mahalanobis", "cosine", "euclidean")
    }
    for metric, results in shown.items():
        expected = library.search(str(query), k=window.controls.k.value(), metric=metric)
        assert [p for p, _ in results] == [r.path for r in expected], metric
        np.testing.assert_allclose([d for _, d in results], [r.distance for r in expected], rtol=1e-5)
    euclidean = dict(shown["euclidean"])
    cosine = dict(shown["cosine"])
    for path, distance in euclidean.items():  # 1 - cos = d² / 2 on unit vectors
        assert cosine[path] == pytest.approx(distance**2 / 2, rel=1e-4, abs=1e-6)
    mahalanobis = dict(shown["mahalanobis"])
    assert not np.allclose([mahalanobis[p] for p in euclidean], list(euclidean.values()), rtol=0.05)
    assert "Euclidean distance" in window.results_page.title.text()


def test_k_and_the_distance_limit_trim_the_results(qtbot, indexed, photos):
    window = indexed
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, photos["scene03"][1])
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.controls.k.setValue(3)
    assert len(shown_results(window)) == 3
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.controls.k.setValue(20)
    everything = shown_results(window)
    middle = (everything[0][1] + everything[-1][1]) / 2
    slider = window.controls.slider
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        slider.setValue(round(slider.maximum() * middle / window.controls._scale))
    limit = window.controls.max_distance()
    trimmed = shown_results(window)
    assert trimmed == [item for item in everything if item[1] <= limit]
    assert 0 < len(trimmed) < len(everything)
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        slider.setValue(0)
    assert shown_results(window) == []
    title, detail = window.results_page.view.hint()
    assert title == "No similar images" and "Move the Max distance slider to the right" in detail


def test_use_as_query_and_exclude(qtbot, indexed, photos):
    window = indexed
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, photos["scene00"][1])
    first = shown_results(window)[0][0]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.use_as_query(first)
    assert window.query_panel.name.text() == Path(first).name
    assert first not in [p for p, _ in shown_results(window)]
    assert shown_results(window)[0][0] == str(photos["scene00"][1])
    victim = shown_results(window)[0][0]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.controller.exclude([victim])
    assert victim not in [p for p, _ in shown_results(window)]
    assert "excluded" in window.message_bar.text()


def test_bad_drops_say_what_is_wrong(qtbot, indexed, photos, tmp_path):
    window = indexed
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, photos["scene05"][1])
    before = shown_results(window)

    drop(window, tmp_path / "photos")
    assert "is a folder" in window.message_bar.text() and window.message_bar.kind == "error"
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list")
    drop(window, notes)
    assert "notes.txt" in window.message_bar.text() and "not an image" in window.message_bar.text()

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with qtbot.waitSignal(window.controller.search.queryFailed, timeout=JOB_TIMEOUT_MS):
        drop(window, broken)
    assert "Cannot search with “broken.jpg”: image data is corrupt" in window.message_bar.text()
    assert "Traceback" not in window.message_bar.text()
    assert shown_results(window) == before  # the last good results stay
    assert window.query_panel.name.text() == photos["scene05"][1].name


def test_keyboard_shortcuts_and_accessible_names(window):
    shortcuts = {
        action.text().replace("&", ""): action.shortcut().toString()
        for action in (window.open_action, window.paste_action, window.export_action, window.cancel_action)
    }
    assert shortcuts == {
        "Open Image…": "Ctrl+O",
        "Paste Image": "Ctrl+V",
        "Export Results…": "Ctrl+E",
        "Cancel": "Esc",
    }
    for widget in (
        window.results_page.view,
        window.controls.metric,
        window.controls.k,
        window.controls.slider,
        window.model_picker,
        window.folders.view,
        window.query_panel.preview,
    ):
        assert widget.accessibleName(), widget


def test_result_actions_open_copy_and_requery(qtbot, indexed, photos, monkeypatch):
    window = indexed
    opened: list[str] = []
    monkeypatch.setattr(
        "retrieval_app.gui.main_window.QDesktopServices.openUrl",
        lambda url: opened.append(url.toLocalFile()) or True,
    )
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, photos["scene01"][1])
    first = window.results_page.model.index(0)
    window.results_page.view.activated.emit(first)  # double-click or Enter
    assert opened == [str(photos["scene01"][0])]

    menu = window.results_page.result_menu(window.results_page.model.index(1))
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == [
        "Open",
        "Open Containing Folder",
        "Copy Path",
        "Use as Query",
        "More Like This",
        "Less Like This",
        "Exclude from Results",
    ]
    actions["Open Containing Folder"].trigger()
    assert opened[-1] == str(photos["scene01"][0].parent)
    actions["Copy Path"].trigger()
    second = window.results_page.model.result(1).path
    assert QGuiApplication.clipboard().text() == second
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        actions["Use as Query"].trigger()
    assert window.query_panel.name.text() == Path(second).name
