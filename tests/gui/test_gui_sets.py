"""The "Similar sets" page on generated near-duplicate sets: finding, reviewing, keeper, ticks, export."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyleOptionViewItem

from retrieval_app.core import groups as core_groups
from retrieval_app.gui.results import DetailRole, DistanceRole, PathRole
from retrieval_app.gui.set_models import KeeperRole
from retrieval_app.gui.similar_sets import START_DISTANCE
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.similar_sets import snapshot, write_similar_sets

THRESHOLD = 0.43  # the tiny test model: widest pair inside a set ~0.33, closest unrelated pair ~0.54
TIMEOUT_MS = 60_000


@pytest.fixture
def library_sets(qtbot, window, tmp_path) -> list[set[str]]:
    """Four sets of five near-duplicates and four unrelated photos, indexed by the window."""
    truth = write_similar_sets(tmp_path / "sets")
    index_folders(qtbot, window, tmp_path / "sets")
    return truth


def show_sets(qtbot, window, max_distance: float = THRESHOLD, min_size: int = 2) -> list:
    """Set the page's controls, switch to it (Ctrl+2) and wait for the sets found in the background."""
    page = window.sets_page
    page.max_distance.setValue(max_distance)
    page.min_size.setValue(min_size)
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        if window.tabs.currentWidget() is page:
            page.find_sets()
        else:
            window.sets_tab_action.trigger()
    return page.groups_model.groups()


def member_paths(window) -> list[str]:
    model = window.sets_page.members_model
    return [model.index(row).data(PathRole) for row in range(model.rowCount())]


def option_for(view, row: int) -> QStyleOptionViewItem:
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualRect(view.model().index(row))
    return option


def click_tick_box(qtbot, window, row: int) -> None:
    """A real mouse click on the card's tick box."""
    view = window.sets_page.members_view
    view.scrollTo(view.model().index(row))
    box = window.sets_page.members_delegate.check_rect(option_for(view, row))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, box.center())


def export(qtbot, window, folder: Path, what: str, every_set: bool, mode: str = "copy") -> str:
    page = window.sets_page
    page.export_bar.set_choice(what, every_set, mode)
    assert page.export_bar.button.isEnabled()
    page.export_to(str(folder))
    qtbot.waitUntil(lambda: not page.busy(), timeout=JOB_TIMEOUT_MS)
    return window.message_bar.text()


def manifest_rows(folder: Path) -> list[dict]:
    with open(folder / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_planted_sets_are_listed_largest_first(qtbot, window, library_sets):
    groups = show_sets(qtbot, window)
    assert sorted(map(sorted, ({m.path for m in g.members} for g in groups))) == sorted(
        map(sorted, library_sets)
    )
    page = window.sets_page
    assert window.tabs.currentWidget() is page
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)
    first = page.groups_model.index(0)
    assert first.data(Qt.ItemDataRole.DisplayRole) == "Set 1 · 5 images"
    assert first.data(DetailRole) == "all ticked"
    assert first.data(PathRole) == groups[0].representative.path
    qtbot.waitUntil(lambda: first.data(Qt.ItemDataRole.DecorationRole) is not None, timeout=10_000)
    assert page.summary.text() == "4 sets · 20 images · Euclidean distance ≤ 0.430"
    assert page.members_model.group is groups[0]  # the largest set opens by itself

    tight = show_sets(qtbot, window, max_distance=0.0)
    assert tight == [] and page.groups_model.rowCount() == 0
    title, detail = page.members_view.hint()
    assert title == "No similar sets" and "Raise the Max distance" in detail


def test_sets_are_found_in_a_background_task(qtbot, window, library_sets, monkeypatch):
    """The grouping runs off the main thread, and the window keeps handling events meanwhile."""
    real = core_groups.find_groups
    seen: dict = {}
    main_loop_ran = threading.Event()

    def observed(*args, **kwargs):
        seen["thread"] = threading.current_thread()
        seen["loop"] = main_loop_ran.wait(timeout=20)  # only a free main thread can set it
        return real(*args, **kwargs)

    monkeypatch.setattr(core_groups, "find_groups", observed)
    QTimer.singleShot(50, main_loop_ran.set)
    groups = show_sets(qtbot, window)
    assert len(groups) == 4
    assert seen["thread"] is not threading.main_thread() and seen["loop"]


def test_opening_a_set_shows_its_members_with_distances(qtbot, window, library_sets):
    groups = show_sets(qtbot, window)
    page = window.sets_page
    page.groups_view.setCurrentIndex(page.groups_model.index(2))
    assert member_paths(window) == [m.path for m in groups[2].members]
    model = page.members_model
    rows = [model.index(row) for row in range(model.rowCount())]
    assert rows[0].data(KeeperRole) and rows[0].data(DetailRole) == "representative"
    assert rows[0].data(Qt.ItemDataRole.CheckStateRole) is None  # the keeper is always kept
    assert all(r.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked for r in rows[1:])
    distances = [r.data(DistanceRole) for r in rows]
    assert distances[0] == 0 and distances == sorted(distances)
    assert rows[1].data(DetailRole) == f"distance {distances[1]:.3f}"
    assert page.members_title.text().startswith("Set 3 · 5 images · 5 ticked · keeper ")
    qtbot.waitUntil(
        lambda: all(r.data(Qt.ItemDataRole.DecorationRole) is not None for r in rows), timeout=10_000
    )


def test_unticked_members_are_left_out_of_the_export(qtbot, window, library_sets, tmp_path):
    groups = show_sets(qtbot, window)
    originals = snapshot(tmp_path / "sets")
    page = window.sets_page
    paths = member_paths(window)
    click_tick_box(qtbot, window, 2)
    view = page.members_view
    view.setCurrentIndex(view.model().index(4))
    QTest.keyClick(view, Qt.Key.Key_Space)
    model = page.members_model
    assert [model.index(r).data(Qt.ItemDataRole.CheckStateRole) for r in (1, 2, 3, 4)] == [
        Qt.CheckState.Checked,
        Qt.CheckState.Unchecked,
        Qt.CheckState.Checked,
        Qt.CheckState.Unchecked,
    ]
    assert page.groups_model.index(0).data(DetailRole) == "3 of 5 ticked"
    assert "3 ticked" in page.members_title.text()

    destination = tmp_path / "out" / "set-1"
    message = export(qtbot, window, destination, "ticked", every_set=False)
    kept = [paths[0], paths[1], paths[3]]
    expected = [f"{rank:02d}-{Path(p).name}" for rank, p in enumerate(kept, 1)]
    assert sorted(os.listdir(destination)) == sorted([*expected, "manifest.csv"])
    rows = manifest_rows(destination)
    assert [row["path"] for row in rows] == kept and [row["exported"] for row in rows] == expected
    assert {row["group"] for row in rows} == {str(groups[0].id)} and {row["mode"] for row in rows} == {"copy"}
    for name, source in zip(expected, kept, strict=True):
        assert (destination / name).read_bytes() == Path(source).read_bytes()
    assert message.startswith(f"Copied 3 images to {destination}") and "manifest.csv" in message
    assert snapshot(tmp_path / "sets") == originals  # originals untouched

    everything = tmp_path / "out" / "all"
    export(qtbot, window, everything, "ticked", every_set=True)
    folders = sorted(p.name for p in everything.iterdir() if p.is_dir())
    assert folders == ["group-001", "group-002", "group-003", "group-004"]
    assert len(os.listdir(everything / "group-001")) == 3  # the unticked two stay out
    assert all(len(os.listdir(everything / f)) == 5 for f in folders[1:])
    assert len(manifest_rows(everything)) == 3 + 15


def test_the_chosen_keeper_is_exported(qtbot, window, library_sets, tmp_path):
    groups = show_sets(qtbot, window)
    page = window.sets_page
    view, model = page.members_view, page.members_model
    paths = member_paths(window)
    view.setFocus()
    view.setCurrentIndex(model.index(3))
    QTest.keyClick(view, Qt.Key.Key_K)
    assert model.index(3).data(KeeperRole) and not model.index(0).data(KeeperRole)
    assert model.index(3).data(Qt.ItemDataRole.CheckStateRole) is None
    assert model.index(0).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert page.members_title.text().endswith(f"keeper {Path(paths[3]).name}")
    assert not model.setData(model.index(3), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)

    menu = page.member_menu(model.index(1))
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == ["Keep This One", "Tick", "Untick", "Open", "Open Containing Folder"]
    actions["Untick"].trigger()
    assert model.index(1).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked

    keepers = tmp_path / "keepers"
    message = export(qtbot, window, keepers, "keepers", every_set=True, mode="link")
    expected = [paths[3]] + [g.representative.path for g in groups[1:]]
    rows = manifest_rows(keepers)
    assert [row["path"] for row in rows] == expected
    assert sorted(os.listdir(keepers)) == sorted([row["exported"] for row in rows] + ["manifest.csv"])
    for row in rows:  # links: the same file, not a copy
        assert os.path.samefile(keepers / row["exported"], row["path"])
    assert message.startswith("Linked 4 images")

    duplicates = tmp_path / "duplicates"
    export(qtbot, window, duplicates, "others", every_set=False)
    rows = manifest_rows(duplicates)
    assert [row["path"] for row in rows] == [paths[0], paths[2], paths[4]]  # not the keeper, not unticked


def test_choices_carry_over_when_the_sets_are_found_again(qtbot, window, library_sets):
    groups = show_sets(qtbot, window)
    page = window.sets_page
    view, model = page.members_view, page.members_model
    paths = member_paths(window)
    model.set_ticked([2], False)
    view.setFocus()
    view.setCurrentIndex(model.index(3))
    QTest.keyClick(view, Qt.Key.Key_K)

    assert show_sets(qtbot, window, max_distance=0.01) == []  # a find on the way shows no sets
    again = show_sets(qtbot, window, max_distance=THRESHOLD + 0.02)  # found again, same sets
    assert [{m.path for m in g.members} for g in again] == [{m.path for m in g.members} for g in groups]
    picks = page.groups_model.picks
    first = picks[again[0].id]
    assert first.keeper == paths[3] and first.left_out == {paths[2]}
    assert all(picks[g.id].keeper == g.representative.path and not picks[g.id].left_out for g in again[1:])
    assert page.groups_model.index(0).data(DetailRole) == "4 of 5 ticked"
    assert model.index(member_paths(window).index(paths[3])).data(KeeperRole)  # the open set shows it


def test_export_errors_are_readable(qtbot, window, library_sets, tmp_path):
    show_sets(qtbot, window)
    not_a_folder = tmp_path / "taken.txt"
    not_a_folder.write_text("a file where the folder should go")
    message = export(qtbot, window, not_a_folder, "ticked", every_set=False)
    assert message.startswith("Could not export: ") and "not a folder" in message
    assert window.message_bar.kind == "error" and "Traceback" not in message
    page = window.sets_page
    page.members_model.set_ticked(list(range(1, page.members_model.rowCount())), False)
    page.export_bar.set_choice("others", every_set=False)
    assert page.export_to(str(tmp_path / "nothing")) is None
    assert window.message_bar.text() == "Nothing to export: no image other than the keeper is ticked."
    assert not (tmp_path / "nothing").exists()


def test_smallest_size_and_metric_follow_the_controls(qtbot, window, library_sets):
    groups = show_sets(qtbot, window, max_distance=0.3)
    sizes = [len(g) for g in groups]
    assert min(sizes) < 5
    bigger = show_sets(qtbot, window, max_distance=0.3, min_size=min(sizes) + 1)
    assert [len(g) for g in bigger] == [s for s in sizes if s > min(sizes)]
    page = window.sets_page
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        window.controls.metric.setCurrentIndex(window.controls.metric.findData("cosine"))
    assert page.metric == "cosine" and page.max_distance.value() == START_DISTANCE
    assert "Cosine distance" in page.summary.text()


def test_keyboard_access_and_accessible_names(window):
    assert window.sets_tab_action.shortcut() == QKeySequence("Ctrl+2")
    assert window.results_tab_action.shortcut() == QKeySequence("Ctrl+1")
    assert core_groups.DEFAULT_MAX_DISTANCE == START_DISTANCE
    page = window.sets_page
    bar = page.export_bar
    for widget in (
        window.tabs,
        page.max_distance,
        page.min_size,
        page.find_button,
        page.groups_view,
        page.members_view,
        bar.what,
        bar.scope,
        bar.mode,
        bar.button,
    ):
        assert widget.accessibleName(), widget
    assert page.keep_action.shortcut() == QKeySequence("K")
