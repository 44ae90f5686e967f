"""The search results page on its own: rows, hints, the result menu and the export, without a library.

The page only reads whether the library is open and the search's query from the controller, and
asks it to exclude; a small stand-in records that. Exports run the real background task.
"""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView

from retrieval_app.core import export as core_export
from retrieval_app.core.library import SearchResult
from retrieval_app.gui.results import DistanceRole, PathRole
from retrieval_app.gui.results_page import ResultsPage
from retrieval_app.gui.thumbnails import ThumbnailCache
from tests.gui.conftest import JOB_TIMEOUT_MS
from tests.imagegen import original

BLOCK_SECONDS = 30


class Search:
    def __init__(self) -> None:
        self.query_label: str | None = "beach.jpg"
        self.query_path: str | None = "/photos/beach.jpg"


class Controller:
    """What the page uses of LibraryController; `exclude` records its calls."""

    def __init__(self) -> None:
        self.is_open = True
        self.search = Search()
        self.excluded: list[list[str]] = []

    def exclude(self, paths: list[str]) -> None:
        self.excluded.append(list(paths))


@pytest.fixture
def results(tmp_path) -> list[SearchResult]:
    folder = tmp_path / "photos"
    folder.mkdir()
    found = []
    for rank, (name, distance) in enumerate([("a.png", 0.125), ("b.png", 0.25), ("c.png", 0.5)], 1):
        original(rank, size=(96, 64)).save(folder / name)
        found.append(SearchResult(rank=rank, path=str(folder / name), distance=distance, id=rank))
    return found


@pytest.fixture
def page(qtbot) -> ResultsPage:
    controller = Controller()
    page = ResultsPage(controller, ThumbnailCache(64), 64)
    qtbot.addWidget(page)
    page.show()
    page.set_ready(True)
    return page


def shown(page: ResultsPage) -> list[tuple[str, float]]:
    model = page.view.model()
    return [
        (model.index(r).data(PathRole), model.index(r).data(DistanceRole)) for r in range(model.rowCount())
    ]


def test_results_are_listed_with_their_paths_distances_and_title(page, results):
    assert page.view.hint()[0] == "Drop an image here" and not page.export_bar.isVisible()
    page.show_results(results, "Cosine", None, library_empty=False)
    assert shown(page) == [(r.path, r.distance) for r in results]
    assert page.view.model().index(1).data(Qt.ItemDataRole.DisplayRole) == "b.png"
    assert page.title.text() == "3 similar images to “beach.jpg” · Cosine distance"
    assert page.title.objectName() == "resultsTitle" and page.view.accessibleName() == "Similar images"
    assert page.export_bar.isVisible() and page.export_bar.what.text() == "the 3 results"
    assert page.export_bar.button.isEnabled() and page.can_export()


@pytest.mark.parametrize(
    ("limit", "library_empty", "detail"),
    [
        (0.25, False, "Nothing is within distance 0.25. Move the Max distance slider to the right."),
        (None, True, "The library has no indexed images yet. Add a folder, or wait for indexing to finish."),
        (None, False, "Try another metric or a larger number of results."),
    ],
)
def test_no_results_say_what_to_change(page, results, limit, library_empty, detail):
    page.show_results(results, "Euclidean", None, library_empty=False)
    page.show_results([], "Euclidean", limit, library_empty)
    assert shown(page) == [] and page.view.hint() == ("No similar images", detail)
    assert page.title.text() == "0 similar images to “beach.jpg” · Euclidean distance"
    assert not page.export_bar.isVisible() and not page.can_export()


def test_readiness_failure_and_clear_change_the_hint(page, results):
    page.set_ready(False)
    assert page.view.hint()[0] == "Opening your library…"
    page.open_failed("the folder is read-only")
    assert page.view.hint() == ("The library could not be opened", "the folder is read-only")
    page.show_results(results, "Cosine", None, library_empty=False)
    page.clear()
    assert shown(page) == [] and page.title.text() == "" and not page.export_bar.isVisible()


def actions(menu) -> dict:
    return {action.text(): action for action in menu.actions() if action.text()}


def test_the_menu_acts_on_the_selection_or_on_the_result_under_it(qtbot, page, results):
    page.show_results(results, "Cosine", None, library_empty=False)
    a, b, c = (r.path for r in results)
    selection = page.view.selectionModel()
    for row in (0, 2):
        selection.select(page.model.index(row), selection.SelectionFlag.Select)

    on_selection = actions(page.result_menu(page.model.index(2)))
    assert list(on_selection) == [
        "Open",
        "Open Containing Folder",
        "Copy 2 Paths",
        "Use as Query",
        "More Like This",
        "Less Like This",
        "Exclude 2 Images from Results",
    ]
    on_selection["Exclude 2 Images from Results"].trigger()
    on_selection["Copy 2 Paths"].trigger()
    assert page.controller.excluded == [[a, c]]
    assert QGuiApplication.clipboard().text() == f"{a}\n{c}"

    elsewhere = actions(page.result_menu(page.model.index(1)))  # not selected: this one only
    elsewhere["Exclude from Results"].trigger()
    assert page.controller.excluded[-1] == [b]
    with qtbot.waitSignal(page.openRequested) as opened:
        elsewhere["Open Containing Folder"].trigger()
    assert opened.args == [os.path.dirname(b)]
    with qtbot.waitSignal(page.queryRequested) as query:
        elsewhere["Use as Query"].trigger()
    assert query.args == [b]
    with qtbot.waitSignal(page.refineRequested) as refined:
        elsewhere["Less Like This"].trigger()
    assert refined.args == [b, False]
    with qtbot.waitSignal(page.openRequested) as opened:
        page.view.activated.emit(page.model.index(0))  # double-click or Enter
    assert opened.args == [a]

    page.controller.search.query_label = None  # no query to refine
    assert "More Like This" not in actions(page.result_menu(page.model.index(1)))
    assert page.view.selectionMode() == QAbstractItemView.SelectionMode.ExtendedSelection


def test_export_writes_the_results_by_rank_and_says_so(qtbot, page, results, tmp_path):
    page.show_results(results, "Cosine", None, library_empty=False)
    destination = tmp_path / "chosen"
    changes: list[bool] = []
    page.exportChanged.connect(lambda: changes.append(page.busy()))
    with qtbot.waitSignal(page.message, timeout=JOB_TIMEOUT_MS) as said:
        assert page.export_to(str(destination)) is not None
        assert page.busy() and not page.can_export() and not page.export_bar.button.isEnabled()
        assert page.export_to(str(tmp_path / "second")) is None  # one export at a time
    qtbot.waitUntil(lambda: not page.busy(), timeout=JOB_TIMEOUT_MS)
    assert said.args == [f"Copied 3 images to {destination} (list in manifest.csv)."]
    assert changes[0] is True and changes[-1] is False  # the window's Ctrl+E and Esc follow
    names = ["01-a.png", "02-b.png", "03-c.png"]
    assert sorted(os.listdir(destination)) == [*names, "manifest.csv"]
    with open(destination / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["path"], row["exported"], row["query"]) for row in rows] == [
        (r.path, name, "/photos/beach.jpg") for r, name in zip(results, names, strict=True)
    ]
    assert (destination / "02-b.png").read_bytes() == Path(results[1].path).read_bytes()
    assert not page.progress.isVisible() and page.can_export()
    assert not (tmp_path / "second").exists()


def test_stop_keeps_what_was_written_and_says_it_is_stopping(qtbot, page, results, tmp_path, monkeypatch):
    """The first file waits until the export is told to stop: it and the manifest remain."""
    with qtbot.assertNotEmitted(page.statusMessage):
        page.cancel()  # nothing runs: nothing to say
    real_place = core_export._place
    first, release = threading.Event(), threading.Event()

    def slow_place(source, *args):
        first.set()
        release.wait(BLOCK_SECONDS)
        return real_place(source, *args)

    monkeypatch.setattr(core_export, "_place", slow_place)
    page.show_results(results, "Cosine", None, library_empty=False)
    destination = tmp_path / "stopped"
    said: list[str] = []
    page.message.connect(said.append)
    try:
        page.export_to(str(destination))
        qtbot.waitUntil(first.is_set, timeout=JOB_TIMEOUT_MS)
        assert page.progress.isVisible()
        with qtbot.waitSignal(page.statusMessage) as note:
            qtbot.mouseClick(page.progress.cancel, Qt.MouseButton.LeftButton)
        assert note.args == ["Stopping the export…"]
    finally:
        release.set()
    qtbot.waitUntil(lambda: not page.busy(), timeout=JOB_TIMEOUT_MS)
    assert said == [f"Copied 1 image to {destination} (list in manifest.csv); stopped before the end."]
    assert sorted(os.listdir(destination)) == ["01-a.png", "manifest.csv"]
