"""The "Similar sets" page on generated near-duplicate sets: finding, reviewing, keeper, ticks, export."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRectF, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QStyleOptionViewItem

from retrieval_app.core import groups as core_groups
from retrieval_app.gui.results import BadgeRole, DetailRole, DistanceRole, PathRole
from retrieval_app.gui.set_models import KeeperRole
from retrieval_app.gui.similar_sets import START_DISTANCE
from tests.duplicate_sets import write_duplicates
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.similar_sets import snapshot, write_similar_sets

THRESHOLD = 0.6  # the tiny test model: widest pair inside a set ~0.43, closest unrelated pair ~0.78
TIMEOUT_MS = 60_000


@pytest.fixture
def library_sets(qtbot, window, tmp_path) -> list[set[str]]:
    """Four sets of five near-duplicates and four unrelated photos, indexed by the window.

    Every keeper rule is off, so each set's representative keeps, as these tests of ticks and
    exports assume (the rules have their own tests below and in tests/test_keeper.py)."""
    window.settings.keeper_rules = [(rule, False) for rule, _ in window.settings.keeper_rules]
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
    qtbot.waitUntil(lambda: not page.busy(), timeout=TIMEOUT_MS)  # the find's task ends just after
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
    assert page.summary.text() == f"4 sets · 20 images · Euclidean distance ≤ {THRESHOLD:.3f}"
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
    assert rows[0].data(KeeperRole) and rows[0].data(DetailRole).startswith("keeper: ")
    assert rows[0].data(Qt.ItemDataRole.CheckStateRole) is None  # the keeper is always kept
    assert all(r.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked for r in rows[1:])
    distances = [r.data(DistanceRole) for r in rows]
    assert distances[0] == 0 and distances == sorted(distances)
    assert rows[1].data(DetailRole).endswith(f" · {distances[1]:.3f}")  # its tier, then the distance
    assert rows[1].data(BadgeRole) in ("Exact copy", "Same picture", "Similar shot")
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


# -- tiers, keeper, compare and clean-up (generated copies with known truth) ----------------

DUPLICATE_THRESHOLD = (
    0.45  # the tiny model on tests/duplicate_sets: copies within 0.30, other photos beyond 0.62
)


@pytest.fixture
def duplicate_sets(qtbot, window, tmp_path, monkeypatch) -> dict[str, str]:
    """Three sets with known keepers and tiers (tests/duplicate_sets.py), `reference/` a reference
    folder, and a private Trash."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    roles = write_duplicates(tmp_path / "dupes")
    window.settings.reference_folders = [os.path.dirname(roles["ref_small"])]
    index_folders(qtbot, window, tmp_path / "dupes")
    return roles


def open_set_holding(window, path: str) -> None:
    page = window.sets_page
    row = next(i for i, g in enumerate(page.groups_model.groups()) if path in {m.path for m in g.members})
    page.groups_view.setCurrentIndex(page.groups_model.index(row))


def member_index(window, path: str):
    model = window.sets_page.members_model
    return next(model.index(r) for r in range(model.rowCount()) if model.index(r).data(PathRole) == path)


def test_members_show_their_tier_and_the_keeper_says_why(qtbot, window, duplicate_sets):
    roles = duplicate_sets
    groups = show_sets(qtbot, window, DUPLICATE_THRESHOLD)
    assert sorted(len(g) for g in groups) == [2, 2, 3]
    open_set_holding(window, roles["png_keeper"])
    keeper = member_index(window, roles["png_keeper"])
    assert keeper.data(KeeperRole) and keeper.data(DetailRole).startswith("keeper: PNG vs JPEG")
    assert member_index(window, roles["png_copy"]).data(BadgeRole) == "Exact copy"
    assert member_index(window, roles["png_reencoded"]).data(BadgeRole) == "Same picture"
    assert "PNG vs JPEG" in window.sets_page.members_title.text()
    open_set_holding(window, roles["ref_small"])
    assert member_index(window, roles["ref_large"]).data(KeeperRole)  # more pixels
    assert member_index(window, roles["ref_small"]).data(BadgeRole) == "Same picture · R"

    page = window.sets_page
    page.tier_filter.setCurrentIndex(page.tier_filter.findData("exact"))
    assert [{m.path for m in g.members} for g in page.groups_model.groups()] == [
        {roles["png_keeper"], roles["png_copy"], roles["png_reencoded"]}
    ]
    assert "2 hidden by the tier filter" in page.summary.text()
    assert page.groups_model.index(0).data(BadgeRole) == "Exact copy"
    page.tier_filter.setCurrentIndex(0)
    assert page.groups_model.rowCount() == 3


def test_compare_two_members_zoomed_and_panned_together_with_keys(qtbot, window, duplicate_sets):
    roles = duplicate_sets
    show_sets(qtbot, window, DUPLICATE_THRESHOLD)
    open_set_holding(window, roles["big_keeper"])
    page = window.sets_page
    page.members_view.setFocus()
    page.members_view.setCurrentIndex(member_index(window, roles["big_small"]))
    QTest.keyClick(page.members_view, Qt.Key.Key_C)
    dialog = page.compare_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.loaded, timeout=10_000)
    table = {
        dialog.table.item(r, 0).text(): (dialog.table.item(r, 1).text(), dialog.table.item(r, 2).text())
        for r in range(dialog.table.rowCount())
    }
    assert table["Dimensions"] == ("960×720 (0.7 MP)", "480×360 (0.2 MP)")
    assert table["Format"] == ("JPEG", "JPEG") and table["File"] == ("large.jpg", "small.jpg")
    rows = list(table)
    assert dialog.table.item(rows.index("Dimensions"), 1).font().bold()  # they differ: bold
    assert not dialog.table.item(rows.index("Format"), 1).font().bold()

    left, right = dialog.left_pane, dialog.right_pane

    def frames() -> list[QRectF]:
        return [pane.view.frame(QRectF(pane.rect()), pane.current()) for pane in (left, right)]

    def same_framing() -> bool:
        a, b = frames()
        return abs(a.width() - b.width()) < 1e-6 and abs(a.left() - b.left()) < 1e-6

    assert same_framing()  # one zoom: the small copy is drawn over the same area as the large one
    QTest.keyClick(dialog, Qt.Key.Key_1)
    assert not dialog.view.fit and frames()[0].width() == pytest.approx(960)
    start = frames()[0].topLeft()
    QTest.mousePress(left, Qt.MouseButton.LeftButton, pos=left.rect().center())
    QTest.mouseMove(left, left.rect().center() + QPoint(-40, -30))
    QTest.mouseRelease(left, Qt.MouseButton.LeftButton, pos=left.rect().center() + QPoint(-40, -30))
    moved = frames()
    assert moved[0].topLeft() != start and same_framing()  # panned together
    QTest.keyClick(dialog, Qt.Key.Key_F)
    assert dialog.view.fit

    picks = page.members_model.picks
    QTest.keyClick(dialog, Qt.Key.Key_Space)
    assert not picks.is_ticked(roles["big_small"]) and "unticked" in dialog.state.text()
    QTest.keyClick(dialog, Qt.Key.Key_Space)
    QTest.keyClick(dialog, Qt.Key.Key_K)
    assert picks.keeper == roles["big_small"] and member_index(window, roles["big_small"]).data(KeeperRole)
    for mode in ("flicker", "slider", "side"):
        QTest.keyClick(dialog, Qt.Key.Key_M)
        assert dialog.mode == mode
        dialog.grab()  # paints every pane of the mode without error
    QTest.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.right == 1 - dialog.left  # a set of two: the other member again
    dialog.close()


def test_clean_up_moves_the_ticked_others_to_the_trash_and_undo_puts_them_back(
    qtbot, window, duplicate_sets, tmp_path, monkeypatch
):
    roles = duplicate_sets
    before = snapshot(tmp_path / "dupes")
    show_sets(qtbot, window, DUPLICATE_THRESHOLD)
    page = window.sets_page
    open_set_holding(window, roles["png_keeper"])
    page.members_model.set_ticked([member_index(window, roles["png_reencoded"]).row()], False)
    page.actions_bar.scope.setCurrentIndex(page.actions_bar.scope.findData(True))
    assert sorted(m.path for m in page.trash_plan(every_set=True)) == sorted(
        [roles["png_copy"], roles["big_small"]]
    )
    asked = []
    monkeypatch.setattr(
        "retrieval_app.gui.similar_sets.QMessageBox.question",
        lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.Yes,
    )
    assert page.actions_bar.trash.isEnabled()
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        page.actions_bar.trash.click()
    assert asked and asked[0].startswith("Move 2 files from 2 sets to the Trash?")
    assert window.message_bar.text().startswith("Moved 2 files to the Trash")
    assert not os.path.exists(roles["png_copy"]) and not os.path.exists(roles["big_small"])
    assert all(os.path.exists(roles[r]) for r in roles if r not in ("png_copy", "big_small"))
    assert len(list((tmp_path / "home" / "data" / "Trash" / "files").iterdir())) == 2
    qtbot.waitUntil(lambda: not page.busy(), timeout=TIMEOUT_MS)
    assert page.actions_bar.undo.isEnabled()
    assert sorted(len(g) for g in page.groups_model.groups()) == [2, 2]  # the catalogue followed

    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        page.actions_bar.undo.click()
    assert window.message_bar.text() == "Put back 2 files."
    assert snapshot(tmp_path / "dupes") == before
    assert sorted(len(g) for g in page.groups_model.groups()) == [2, 2, 3]
    assert not page.actions_bar.undo.isEnabled()


def test_not_similar_splits_a_member_out_and_sticks(qtbot, window, duplicate_sets):
    roles = duplicate_sets
    show_sets(qtbot, window, DUPLICATE_THRESHOLD)
    page = window.sets_page
    open_set_holding(window, roles["png_keeper"])
    page.members_view.setCurrentIndex(member_index(window, roles["png_reencoded"]))
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        page.actions_bar.not_similar.click()
    sets = [{m.path for m in g.members} for g in page.groups_model.groups()]
    assert {roles["png_keeper"], roles["png_copy"]} in sets and not any(
        roles["png_reencoded"] in s for s in sets
    )
    qtbot.waitUntil(lambda: not page.busy(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        page.reset_decisions(None)
    assert any(roles["png_reencoded"] in {m.path for m in g.members} for g in page.groups_model.groups())


def test_keep_all_sticks_and_the_decisions_list_resets_it(qtbot, window, duplicate_sets):
    roles = duplicate_sets
    show_sets(qtbot, window, DUPLICATE_THRESHOLD)
    page = window.sets_page
    open_set_holding(window, roles["big_keeper"])
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        page.actions_bar.keep_all.click()
    qtbot.waitUntil(lambda: not page.busy(), timeout=TIMEOUT_MS)
    open_set_holding(window, roles["big_keeper"])
    assert page.current_group().kept_all and page.trash_plan(every_set=False) == []
    assert "keep all" in page.members_title.text()

    page.actions_bar.decisions.click()
    qtbot.waitUntil(lambda: getattr(page, "decisions_dialog", None) is not None, timeout=10_000)
    dialog = page.decisions_dialog
    assert dialog.list.count() == 1 and dialog.list.item(0).text().startswith(
        "Keep all: large.jpg, small.jpg"
    )
    dialog.list.setCurrentRow(0)
    with qtbot.waitSignal(page.setsShown, timeout=TIMEOUT_MS):
        dialog.reset_button.click()
    qtbot.waitUntil(lambda: not page.busy(), timeout=TIMEOUT_MS)
    open_set_holding(window, roles["big_keeper"])
    assert not page.current_group().kept_all
    assert [m.path for m in page.trash_plan(every_set=False)] == [roles["big_small"]]


def test_keeper_rules_are_reordered_switched_and_kept_in_the_settings(qtbot, settings):
    from retrieval_app.gui.keeper_settings import KeeperSettings

    editor = KeeperSettings(settings)
    qtbot.addWidget(editor)
    assert [name for name, _ in editor.chosen_rules()] == [
        "pixels",
        "format",
        "size",
        "metadata",
        "oldest",
        "folders",
    ]
    editor.rules.setCurrentRow(2)  # size
    editor.move_rule(-1)
    editor.move_rule(-1)
    editor.rules.item(3).setCheckState(Qt.CheckState.Unchecked)  # metadata
    editor.reference.setPlainText("/photos/archive\n\n  /photos/scans  \n")
    editor.save()
    assert settings.keeper_rules[:4] == [
        ("size", True),
        ("pixels", True),
        ("format", True),
        ("metadata", False),
    ]
    policy = settings.keep_policy()
    assert policy.rules == ("size", "pixels", "format", "oldest", "folders")
    assert policy.reference_folders == ("/photos/archive", "/photos/scans")
    again = KeeperSettings(settings)
    qtbot.addWidget(again)
    assert again.chosen_rules() == settings.keeper_rules  # read back as saved


def test_the_flips_option_decides_whether_turned_copies_join_their_set(qtbot, window, tmp_path):
    from PIL import Image

    truth = write_similar_sets(tmp_path / "sets")
    original = next(p for p in truth[0] if p.endswith("original.jpg"))
    turned = str(Path(original).with_name("turned.png"))
    Image.open(original).transpose(Image.Transpose.ROTATE_90).save(turned)
    index_folders(qtbot, window, tmp_path / "sets")
    page = window.sets_page
    assert page.flips.isChecked()  # on by default, as in `lookalike groups`

    def set_of_turned() -> set[str] | None:
        groups = show_sets(qtbot, window)
        return next(
            ({m.path for m in g.members} for g in groups if turned in {m.path for m in g.members}), None
        )

    with_flips = set_of_turned()
    assert with_flips is not None and original in with_flips
    page.flips.setChecked(False)
    assert set_of_turned() is None
