"""Exporting a query's results from the window: copies or links, manifests, progress, Stop and Esc, errors."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from retrieval_app.core import export as core_export
from retrieval_app.core import groups as core_groups
from retrieval_app.core.progress import Cancelled
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders

SEARCH_TIMEOUT_MS = 60_000
BLOCK_SECONDS = 30


@pytest.fixture
def searched(qtbot, window, photos):
    """The window with the 11 results for a near-duplicate of scene02 (12 photos indexed)."""
    index_folders(qtbot, window, photos["scene02"][0].parent)
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.use_as_query(str(photos["scene02"][1]))
    return window


def result_paths(window) -> list[str]:
    return [result.path for result in window.results_page.model.results()]


def export(qtbot, window, folder: Path) -> str:
    """Export the results on screen into `folder` and wait for the end; returns the message shown."""
    assert window.results_page.export_bar.button.isEnabled() and window.export_action.isEnabled()
    assert window.results_page.export_to(str(folder)) is not None
    qtbot.waitUntil(lambda: window.export_action.isEnabled(), timeout=JOB_TIMEOUT_MS)
    return window.message_bar.text()


def manifest_rows(folder: Path) -> list[dict]:
    with open(folder / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_results_are_copied_numbered_by_rank_with_manifests(qtbot, searched, photos, tmp_path):
    window = searched
    bar = window.results_page.export_bar
    assert bar.isVisible() and bar.what.text() == "the 11 results"
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        window.controls.k.setValue(3)
    bar.json.setChecked(True)
    assert bar.what.text() == "the 3 results"
    assert bar.explanation.text().startswith("Copies the 3 results into the folder, numbered by rank")
    assert "A manifest.csv and a manifest.json list every file" in bar.explanation.text()
    for widget in (bar.mode, bar.json, bar.button):
        assert widget.accessibleName(), widget

    destination = tmp_path / "chosen"
    message = export(qtbot, window, destination)
    paths = result_paths(window)
    names = [f"{rank:02d}-{Path(path).name}" for rank, path in enumerate(paths, 1)]
    assert sorted(os.listdir(destination)) == sorted([*names, "manifest.csv", "manifest.json"])
    rows = manifest_rows(destination)
    assert [row["path"] for row in rows] == paths and [row["exported"] for row in rows] == names
    assert [row["rank"] for row in rows] == ["1", "2", "3"] and {row["mode"] for row in rows} == {"copy"}
    assert {row["query"] for row in rows} == {str(photos["scene02"][1])}
    listed = json.loads((destination / "manifest.json").read_text())["files"]
    assert [(f["path"], f["exported"], f["rank"]) for f in listed] == list(
        zip(paths, names, [1, 2, 3], strict=True)
    )
    for name, path in zip(names, paths, strict=True):
        assert not os.path.samefile(destination / name, path)
        assert (destination / name).read_bytes() == Path(path).read_bytes()
    assert message == f"Copied 3 images to {destination} (list in manifest.csv and manifest.json)."
    assert window.message_bar.kind == "info"
    assert not window.results_page.progress.isVisible() and not window.cancel_action.isEnabled()


def test_links_mode_links_every_result(qtbot, searched, tmp_path):
    window = searched
    bar = window.results_page.export_bar
    bar.mode.setCurrentIndex(bar.mode.findData("link"))
    assert bar.explanation.text().startswith("Links the 11 results")
    destination = tmp_path / "linked"
    message = export(qtbot, window, destination)
    rows = manifest_rows(destination)
    assert [row["path"] for row in rows] == result_paths(window)
    assert sorted(os.listdir(destination)) == sorted([row["exported"] for row in rows] + ["manifest.csv"])
    for row in rows:
        assert row["mode"] in ("hardlink", "symlink")
        assert os.path.samefile(destination / row["exported"], row["path"])
    assert message == f"Linked 11 images to {destination} (list in manifest.csv)."


@pytest.mark.parametrize("how", ["stop button", "escape key"])
def test_stop_or_esc_ends_an_export_in_flight_and_keeps_what_was_written(
    qtbot, searched, tmp_path, monkeypatch, how
):
    """The third file waits until the export is told to stop: three files and the manifest remain."""
    window = searched
    real_place = core_export._place
    placed: list[str] = []
    third, release = threading.Event(), threading.Event()

    def slow_place(source, *args):
        placed.append(source)
        if len(placed) == 3:
            third.set()
            release.wait(BLOCK_SECONDS)
        return real_place(source, *args)

    monkeypatch.setattr(core_export, "_place", slow_place)
    destination = tmp_path / "stopped"
    try:
        window.results_page.export_to(str(destination))
        qtbot.waitUntil(third.is_set, timeout=JOB_TIMEOUT_MS)
        assert window.results_page.progress.isVisible() and window.cancel_action.isEnabled()
        assert not window.export_action.isEnabled() and not window.results_page.export_bar.button.isEnabled()
        assert window.results_page.export_to(str(tmp_path / "second")) is None  # one export at a time
        if how == "stop button":
            qtbot.mouseClick(window.results_page.progress.cancel, Qt.MouseButton.LeftButton)
        else:
            window.activateWindow()
            QTest.keyClick(window.results_page.view, Qt.Key.Key_Escape)
        assert window.results_page.progress.isVisible()  # until the file being written is done
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.export_action.isEnabled(), timeout=JOB_TIMEOUT_MS)

    rows = manifest_rows(destination)
    assert [row["path"] for row in rows] == result_paths(window)[:3] == placed
    assert sorted(os.listdir(destination)) == sorted([row["exported"] for row in rows] + ["manifest.csv"])
    message = window.message_bar.text()
    assert message == f"Copied 3 images to {destination} (list in manifest.csv); stopped before the end."
    assert window.message_bar.kind == "info"
    assert not window.results_page.progress.isVisible() and not window.cancel_action.isEnabled()
    assert not (tmp_path / "second").exists()


def test_esc_stops_finding_similar_sets(qtbot, window, monkeypatch):
    """The window's Esc reaches the similar sets page too (its search, like its export)."""
    started = threading.Event()

    def endless(*args, cancel, **kwargs):
        started.set()
        deadline = time.monotonic() + BLOCK_SECONDS
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        raise Cancelled()

    monkeypatch.setattr(core_groups, "find_groups", endless)
    page = window.sets_page
    assert not window.cancel_action.isEnabled()
    window.sets_tab_action.trigger()
    qtbot.waitUntil(started.is_set, timeout=JOB_TIMEOUT_MS)
    assert page.busy() and window.cancel_action.isEnabled()
    window.cancel_action.trigger()  # Esc
    qtbot.waitUntil(lambda: not page.busy(), timeout=JOB_TIMEOUT_MS)
    assert page.members_view.hint()[0] == "Stopped"
    assert not page.progress.isVisible() and not window.cancel_action.isEnabled()
    assert window.message_bar.kind != "error"


def test_export_errors_are_readable(qtbot, searched, photos, tmp_path):
    window = searched
    taken = tmp_path / "taken.txt"
    taken.write_text("a file where the folder should go")
    message = export(qtbot, window, taken)
    assert message == f"Could not export: The destination is not a folder: {taken}"
    assert window.message_bar.kind == "error" and "Traceback" not in message

    gone = photos["scene02"][0]
    rank = result_paths(window).index(str(gone)) + 1
    gone.unlink()  # deleted after the search: the others are still exported
    destination = tmp_path / "partial"
    message = export(qtbot, window, destination)
    assert message == (
        f"Copied 10 images to {destination} (list in manifest.csv); 1 could not be exported, "
        f"e.g. {gone.name}: the original is gone or not a file."
    )
    assert window.message_bar.kind == "info"
    assert f"{rank:02d}-{gone.name}" not in os.listdir(destination) and len(manifest_rows(destination)) == 10
