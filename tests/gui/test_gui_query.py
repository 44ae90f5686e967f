"""Queries beyond one image in the window: several files dropped at once, "More/Less Like This"
on a result, and a region drawn on the query preview."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.gui.conftest import index_folders
from tests.gui.test_gui_search import SEARCH_TIMEOUT_MS, shown_results


def drop_files(window, paths) -> None:
    """A file manager's drag of several files onto the results grid: enter (accepted), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target = window.results_page.view.viewport()
    where = QPointF(target.rect().center())
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(where, *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(target, QDropEvent(where, *args))


@pytest.fixture
def indexed(qtbot, window, photos):
    index_folders(qtbot, window, next(iter(photos.values()))[0].parent)
    return window


def test_several_dropped_files_make_one_query(qtbot, indexed, photos):
    window = indexed
    examples = [photos["scene02"][0], photos["scene04"][1]]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, examples)
    paths = [path for path, _ in shown_results(window)]
    assert len(paths) == 10  # 12 images, both examples left out
    assert not {str(p) for p in examples} & set(paths)
    assert {str(photos["scene02"][1]), str(photos["scene04"][0])} <= set(
        paths[:4]
    )  # both copies near the top
    assert window.query_panel.name.text() == f"{examples[0].name} + 1 more"


def test_a_dropped_folder_among_files_is_named_and_the_files_searched(qtbot, indexed, photos, tmp_path):
    window = indexed
    folder = tmp_path / "a folder"
    folder.mkdir()
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, [photos["scene01"][0], folder, photos["scene03"][0]])
    assert window.query_panel.name.text() == "scene01.jpg + 1 more"
    assert "is a folder" in window.message_bar.label.text()


def menu_action(window, path: str, text: str):
    row = next(
        r
        for r in range(window.results_page.model.rowCount())
        if window.results_page.model.result(r).path == path
    )
    menu = window.results_page.result_menu(window.results_page.model.index(row))
    return next(a for a in menu.actions() if a.text() == text)


def test_more_and_less_like_this_refine_the_query_in_place(qtbot, indexed, photos):
    window = indexed
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, [photos["scene00"][0]])
    before = [path for path, _ in shown_results(window)]
    assert before[0] == str(photos["scene00"][1])

    unwanted = before[1]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        menu_action(window, unwanted, "Less Like This").trigger()
    after_less = [path for path, _ in shown_results(window)]
    assert unwanted not in after_less and len(after_less) == 10
    assert window.query_panel.name.text() == "scene00.jpg + 1 less"

    wanted = str(photos["scene05"][0])
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        menu_action(window, wanted, "More Like This").trigger()
    after_more = [path for path, _ in shown_results(window)]
    assert wanted not in after_more and len(after_more) == 9
    assert str(photos["scene05"][1]) in after_more[:2]  # the new example's copy rises to the top
    assert window.query_panel.name.text() == "scene00.jpg + 1 more, 1 less"


def test_a_region_drawn_on_the_preview_searches_with_that_part(qtbot, indexed, photos):
    window = indexed
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, [photos["scene03"][0]])
    whole = shown_results(window)
    preview = window.query_panel.preview
    image = preview.image_rect()
    start = QPoint(int(image.left() + image.width() * 0.1), int(image.top() + image.height() * 0.2))
    end = QPoint(int(image.left() + image.width() * 0.6), int(image.top() + image.height() * 0.9))
    with qtbot.waitSignals(
        [window.query_panel.regionChanged, window.controller.search.resultsChanged], timeout=SEARCH_TIMEOUT_MS
    ):
        qtbot.mousePress(preview, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(preview, end)
        qtbot.mouseRelease(preview, Qt.MouseButton.LeftButton, pos=end)
    left, top, right, bottom = preview.region
    assert left == pytest.approx(0.1, abs=0.02) and top == pytest.approx(0.2, abs=0.02)
    assert right == pytest.approx(0.6, abs=0.02) and bottom == pytest.approx(0.9, abs=0.02)
    assert window.query_panel.name.text() == "scene03.jpg (region)"
    assert window.query_panel.whole_button.isVisibleTo(window.query_panel)
    region_results = shown_results(window)
    assert region_results != whole and str(photos["scene03"][0]) not in dict(region_results)

    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.query_panel.whole_button.click()
    assert preview.region is None and window.query_panel.name.text() == "scene03.jpg"
    assert shown_results(window) == whole


def test_a_click_on_the_preview_is_not_a_region(qtbot, indexed, photos):
    window = indexed
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, [photos["scene03"][0]])
    preview = window.query_panel.preview
    drawn = []
    window.query_panel.regionChanged.connect(drawn.append)
    centre = preview.image_rect().center().toPoint()
    qtbot.mouseClick(preview, Qt.MouseButton.LeftButton, pos=centre)
    assert drawn == [] and preview.region is None


def test_match_flips_and_rotations_finds_a_turned_copy(qtbot, indexed, photos, tmp_path):
    window = indexed
    turned = tmp_path / "turned.jpg"
    Image.open(photos["scene01"][0]).transpose(Image.Transpose.ROTATE_90).save(turned, quality=90)
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, [turned])
    plain = dict(shown_results(window))
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.query_panel.flips.setChecked(True)
    matched = shown_results(window)
    assert matched[0][0] in {str(p) for p in photos["scene01"]}
    assert matched[0][1] < plain[matched[0][0]]  # the turned query lies nearer than the copy as it is
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop_files(window, [photos["scene02"][1]])  # a new query keeps the option
    assert window.controller.search.flips and window.query_panel.flips.isChecked()
