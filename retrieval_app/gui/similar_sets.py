"""The "Similar sets" page: the library's sets of near-duplicates, one open set to review, and export.

Sets are found in a background Task (core `find_sets` through the controller: tiers, the keeper
by the policy in the settings, the person's decisions) with the search's metric and this page's
max distance and smallest size; they are listed largest first, and can be filtered by tier.
The keeper and tick semantics are those of set_picks.py; exports, clean-ups to the Trash and
their undo run in a Task with progress and cancel. The actions bar (set_actions.py) compares two
members (compare_view.py), records "not similar" and "keep all", and cleans up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .export import export_items_task, follow_export
from .formatting import plural
from .progress_panel import ProgressPanel
from .results import GRID_GAP, PathRole, ResultsView, ThumbnailDelegate
from .set_actions import TIER_FILTERS, DecisionsDialog, SetActionsBar, confirm_text
from .set_export_bar import SetExportBar
from .set_models import GroupsModel, MemberDelegate, MembersModel, member_rows
from .set_picks import cleanup_plan, export_items
from .tasks import Task

if TYPE_CHECKING:
    from retrieval_app.core.cleanup import CleanupReport, PlannedMove, UndoReport
    from retrieval_app.core.decisions import Decisions
    from retrieval_app.core.set_review import ReviewedSet

    from .compare_view import CompareDialog
    from .controller import LibraryController
    from .settings import AppSettings
    from .thumbnails import ThumbnailCache

START_DISTANCE = 0.35
"""The core's DEFAULT_MAX_DISTANCE (not imported here: core.groups loads scipy, which is slow)."""
MAX_SET_SIZE = 1000
SEARCH_DELAY_MS = 400
SCROLLBAR_ROOM = 24
ACTING = frozenset({"export", "clean-up", "undo clean-up"})
"""Tasks that write files: no new search starts while one runs."""


class SetsPage(QWidget):
    """Call `set_metric` when the search metric changes and `activate` when the page is shown."""

    setsShown = Signal(int)
    busyChanged = Signal()
    """A search or an export started or ended (the window's Esc follows it)."""
    error = Signal(str)
    message = Signal(str)
    openRequested = Signal(str)

    def __init__(
        self,
        controller: LibraryController,
        thumbnails: ThumbnailCache,
        thumbnail_size: int,
        parent: Any = None,
        settings: AppSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self._all_sets: list[ReviewedSet] = []
        self._can_undo = False
        self.compare_dialog: CompareDialog | None = None
        self.metric, self.metric_label = "euclidean", "Euclidean"
        self._distances: dict[str, float] = {}
        self._task: Task | None = None
        self._shown: tuple | None = None
        self._stopped = False
        self._generation = 0
        self.groups_model = GroupsModel(thumbnails, self)
        self.members_model = MembersModel(thumbnails, self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._build(thumbnail_size)
        self._connect()
        self.set_ready(False)

    # -- construction -------------------------------------------------------------------
    def _build(self, thumbnail_size: int) -> None:
        self.max_distance = QDoubleSpinBox()
        self.max_distance.setRange(0.0, 1000.0)
        self.max_distance.setDecimals(3)
        self.max_distance.setSingleStep(0.01)
        self.max_distance.setValue(START_DISTANCE)
        self.max_distance.setAccessibleName("Maximum distance within a set")
        self.max_distance.setToolTip("Every two images in a set are at most this far apart (search metric)")
        self.min_size = QSpinBox()
        self.min_size.setRange(2, MAX_SET_SIZE)
        self.min_size.setAccessibleName("Smallest set size")
        self.min_size.setToolTip("Leave out sets with fewer images")
        self.flips = QCheckBox("Flips")
        self.flips.setChecked(True)
        self.flips.setAccessibleName("Match flips and rotations in sets")
        self.flips.setToolTip(
            "Rotated and mirrored copies join their original's set (the first search embeds their turned views)"
        )
        self.tier_filter = QComboBox()
        self.tier_filter.setAccessibleName("Show sets holding this tier")
        self.tier_filter.setToolTip("Show only sets holding exact copies, the same picture, or similar shots")
        for key, label in TIER_FILTERS.items():
            self.tier_filter.addItem(label, key)
        self.find_button = QPushButton("Find Sets")
        self.find_button.setAccessibleName("Find similar sets again")
        self.find_button.setToolTip("Look for sets again (after the library changed)")
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setMinimumWidth(1)

        distance_label = QLabel("Max &distance")
        distance_label.setBuddy(self.max_distance)
        size_label = QLabel("S&mallest set")
        size_label.setBuddy(self.min_size)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (
            distance_label,
            self.max_distance,
            size_label,
            self.min_size,
            self.flips,
            self.tier_filter,
            self.find_button,
        ):
            controls.addWidget(widget)
        controls.addSpacing(8)
        controls.addWidget(self.summary, 1)
        self.progress = ProgressPanel()
        self.progress.bar.setAccessibleName("Similar sets progress")
        self.progress.cancel.setAccessibleName("Stop finding or exporting sets")
        self.progress.cancel.setToolTip("Stop")

        self.groups_delegate = ThumbnailDelegate(thumbnail_size, self)
        self.groups_view = ResultsView()
        self.groups_view.setModel(self.groups_model)
        self.groups_view.setItemDelegate(self.groups_delegate)
        self.groups_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.groups_view.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.groups_view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.groups_view.setAccessibleName("Similar sets, largest first")
        self.groups_view.set_hint("", "")

        self.members_title = QLabel()
        self.members_title.setObjectName("resultsTitle")
        self.members_title.setWordWrap(True)  # the keeper's reason can be long; never widen the page
        self.members_title.setMinimumWidth(1)
        self.members_help = QLabel(
            "Untick an image (click its box, or Space) to leave it out; "
            "make one the keeper with K or the right-click menu."
        )
        self.members_help.setObjectName("muted")
        self.members_help.setWordWrap(True)
        self.members_delegate = MemberDelegate(thumbnail_size, self)
        self.members_view = ResultsView()
        self.members_view.setModel(self.members_model)
        self.members_view.setItemDelegate(self.members_delegate)
        self.members_view.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.members_view.setAccessibleName("Images in the open set")
        self.keep_action = QAction("Keep This One", self.members_view)
        self.keep_action.setShortcut(QKeySequence("K"))
        self.keep_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.members_view.addAction(self.keep_action)
        self.compare_action = QAction("Compare", self.members_view)
        self.compare_action.setShortcut(QKeySequence("C"))
        self.compare_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.members_view.addAction(self.compare_action)
        self.actions_bar = SetActionsBar()
        self.export_bar = SetExportBar()

        members = QWidget()
        members_layout = QVBoxLayout(members)
        members_layout.setContentsMargins(8, 0, 0, 0)
        members_layout.setSpacing(4)
        members_layout.addWidget(self.members_title)
        members_layout.addWidget(self.members_help)
        members_layout.addWidget(self.members_view, 1)
        members_layout.addWidget(self.actions_bar)
        members_layout.addWidget(self.export_bar)
        lists = QHBoxLayout()
        lists.setContentsMargins(0, 0, 0, 0)
        lists.setSpacing(0)
        lists.addWidget(self.groups_view)
        lists.addWidget(members, 1)
        self.set_thumbnail_size(thumbnail_size)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(12, 8, 12, 0)
        layout.setSpacing(6)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addLayout(lists, 1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.viewport().setAutoFillBackground(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _connect(self) -> None:
        self.max_distance.valueChanged.connect(self._params_changed)
        self.min_size.valueChanged.connect(self._params_changed)
        self.flips.toggled.connect(self._params_changed)
        self._debounce.timeout.connect(self.find_sets)
        self.find_button.clicked.connect(self.find_sets)
        self.progress.cancelRequested.connect(self.cancel)
        self.groups_view.selectionModel().currentChanged.connect(self._open_group)
        self.groups_view.activated.connect(lambda _index: self.members_view.setFocus())
        self.members_view.activated.connect(lambda index: self.openRequested.emit(index.data(PathRole)))
        self.members_view.customContextMenuRequested.connect(
            lambda at: self.members_view.show_menu(at, self.member_menu)
        )
        self.members_model.picksChanged.connect(self._picks_changed)
        self.keep_action.triggered.connect(self._keep_current)
        self.export_bar.exportRequested.connect(self.choose_destination)
        self.tier_filter.currentIndexChanged.connect(self._show_filtered)
        self.compare_action.triggered.connect(self.compare)
        self.actions_bar.compareRequested.connect(self.compare)
        self.actions_bar.notSimilarRequested.connect(self.split_selected)
        self.actions_bar.keepAllRequested.connect(self.keep_all)
        self.actions_bar.trashRequested.connect(self.trash_others)
        self.actions_bar.undoRequested.connect(self.undo_cleanup)
        self.actions_bar.decisionsRequested.connect(self.show_decisions)
        self.actions_bar.scope.currentIndexChanged.connect(self._update_export)

    # -- state from the window ----------------------------------------------------------
    def set_ready(self, ready: bool) -> None:
        """Whether the library is open: nothing can be found before."""
        for widget in (self.max_distance, self.min_size, self.flips, self.find_button):
            widget.setEnabled(ready and not self._exporting())
        if not ready:
            self.members_view.set_hint("Opening your library…")
        elif self._shown is None and self._task is None and not self._stopped:
            self.members_view.set_hint(
                "Similar sets",
                "Sets of near-duplicates and of shots that belong together appear here, largest first.",
            )
        self._update_export()

    def reset(self) -> None:
        """Forget the sets shown (another library, or the same one opened again)."""
        self.cancel()
        self._task = None
        self.busyChanged.emit()
        self.progress.finish()
        self._shown = None
        self.groups_model.set_groups([])
        self.groups_model.forget_choices()
        self.members_model.set_group(None, None)
        self.members_title.clear()
        self.summary.clear()
        self.set_ready(self.controller.is_open)

    def set_metric(self, metric: str, label: str) -> None:
        """The search's metric: distances are in its units, so each metric keeps its own max distance."""
        if metric == self.metric:
            return
        self._distances[self.metric] = self.max_distance.value()
        self.metric, self.metric_label = metric, label
        self.max_distance.blockSignals(True)
        self.max_distance.setValue(self._distances.get(metric, START_DISTANCE))
        self.max_distance.blockSignals(False)
        self._params_changed()

    def library_changed(self) -> None:
        """Images were added, removed or embedded again: the sets are found anew when next shown."""
        self._generation += 1

    def set_thumbnail_size(self, size: int) -> None:
        for delegate in (self.groups_delegate, self.members_delegate):
            delegate.thumbnail_size = size
        card = self.groups_delegate.card_size(self.groups_view.fontMetrics())
        self.groups_view.setFixedWidth(card.width() + GRID_GAP + SCROLLBAR_ROOM)
        for view in (self.groups_view, self.members_view):
            view.fit_grid()
            view.doItemsLayout()

    def activate(self) -> None:
        """The page is on screen: find the sets unless those shown already answer the current settings."""
        if self.controller.is_open and self._shown != self._params() and not self._exporting():
            self.find_sets()

    def _params(self) -> tuple:
        return (
            self.metric,
            self.max_distance.value(),
            self.min_size.value(),
            self.flips.isChecked(),
            self._generation,
        )

    def _params_changed(self) -> None:
        if self.isVisible() and self.controller.is_open:
            self._debounce.start()

    # -- finding sets -------------------------------------------------------------------
    def find_sets(self) -> Task | None:
        """Look for the sets with the current settings in the background (replacing a search running)."""
        self._debounce.stop()
        if not self.controller.is_open or self._exporting():
            return None
        self.cancel()
        params = self._params()
        metric, max_distance, min_size, flips, _ = params
        task = self.controller.groups_task(metric, max_distance, min_size, self.keep_policy(), flips)
        self._task = task
        self._stopped = False
        task.progressed.connect(self.progress.update_progress)
        task.finished.connect(lambda groups: self._show_groups(task, params, groups))
        task.failed.connect(lambda message: self._find_failed(task, message))
        task.cancelled.connect(lambda _result: self._find_stopped(task))
        task.done.connect(lambda: self._task_done(task))
        self.progress.start("Finding similar sets")
        if not self.groups_model.rowCount():
            self.members_view.set_hint(
                "Looking for similar sets…", "Comparing every image with its neighbours"
            )
        self._update_export()
        self.busyChanged.emit()
        return task.start(priority=1)

    def keep_policy(self) -> Any:
        """The keeper rules and folders from the settings (the core's defaults without settings)."""
        from retrieval_app.core.keeper import KeepPolicy

        return self.settings.keep_policy() if self.settings is not None else KeepPolicy()

    def _show_groups(self, task: Task, params: tuple, groups: list[ReviewedSet]) -> None:
        if task is not self._task:
            return
        self._shown = params
        self._all_sets = groups
        self._show_filtered()

    def _show_filtered(self) -> None:
        """Show the sets found that hold the tier chosen in the filter (all of them for every tier)."""
        if self._shown is None:
            return
        tier = str(self.tier_filter.currentData() or "")
        groups = [g for g in self._all_sets if not tier or tier in g.tiers]
        current = self.current_group()
        self.groups_model.set_groups(groups)
        _, max_distance, *_ = self._shown
        images = sum(len(group) for group in groups)
        hidden = len(self._all_sets) - len(groups)
        self.summary.setText(
            f"{plural(len(groups), 'set')} · {plural(images, 'image')} · "
            f"{self.metric_label} distance ≤ {max_distance:.3f}"
            + (f" · {hidden} hidden by the tier filter" if hidden else "")
        )
        same = next(
            (i for i, g in enumerate(groups) if current is not None and g.members == current.members), 0
        )
        if groups:
            self.groups_view.setCurrentIndex(self.groups_model.index(same))
        elif hidden:
            self._open_group(QModelIndex())
            self.members_view.set_hint(
                "No sets with this tier",
                f"{plural(hidden, 'set')} hidden by the tier filter: choose “Every tier” to see them.",
            )
        else:
            self._open_group(QModelIndex())
            self.members_view.set_hint(
                "No similar sets",
                f"No images are within {max_distance:.3f} of each other ({self.metric_label}). "
                "Raise the Max distance, or add more photos.",
            )
        self.setsShown.emit(len(groups))
        self._update_export()

    def _find_failed(self, task: Task, message: str) -> None:
        if task is self._task:
            self.members_view.set_hint("Could not find similar sets", message)
            self.error.emit(f"Could not find similar sets: {message}")

    def _find_stopped(self, task: Task) -> None:
        if task is self._task and not self.groups_model.rowCount():
            self._stopped = True
            self.members_view.set_hint("Stopped", "Press Find Sets to look for similar sets again.")

    def _task_done(self, task: Task) -> None:
        if task is self._task:
            self._task = None
            self.progress.finish()
            self.set_ready(self.controller.is_open)
            self.busyChanged.emit()

    def cancel(self) -> None:
        """Stop the search or export running (an export keeps what it wrote, with its manifest)."""
        if self._task is not None:
            self._task.cancel()

    def busy(self) -> bool:
        return self._task is not None

    def _exporting(self) -> bool:
        return self._task is not None and self._task.name in ACTING

    # -- the open set -------------------------------------------------------------------
    def current_group(self) -> ReviewedSet | None:
        index = self.groups_view.currentIndex()
        return self.groups_model.group(index.row()) if index.isValid() else None

    def _open_group(self, index: QModelIndex) -> None:
        group = self.groups_model.group(index.row()) if index.isValid() else None
        self.members_model.set_group(group, self.groups_model.picks[group.id] if group else None)
        if group is None:
            self.members_title.clear()
            self.members_view.set_hint("Choose a set on the left")
        self._update_title()
        self._update_export()

    def _update_title(self) -> None:
        group, picks = self.members_model.group, self.members_model.picks
        if group is None or picks is None:
            return
        why = (
            f" ({group.reason})"
            if getattr(group, "keeper", None) and group.keeper.path == picks.keeper
            else ""
        )
        kept = " · keep all" if getattr(group, "kept_all", False) else ""
        self.members_title.setText(
            f"Set {group.id} · {plural(len(group), 'image')} · {picks.ticked_count(group)} ticked · "
            f"keeper {os.path.basename(picks.keeper)}{why}{kept}"
        )

    def _picks_changed(self, group_id: int) -> None:
        self.groups_model.refresh_row(group_id)
        self._update_title()

    def _keep_current(self) -> None:
        index = self.members_view.currentIndex()
        if index.isValid():
            self.members_model.set_keeper(index.row())

    def member_menu(self, index: QModelIndex) -> QMenu:
        """Keep this one; tick or untick (the selection, or this one); open; open the folder."""
        selected = member_rows(self.members_view.selectionModel().selectedIndexes())
        rows = selected if index.row() in selected else [index.row()]
        path = index.data(PathRole)
        menu = QMenu(self)
        keep = menu.addAction("Keep This One", lambda: self.members_model.set_keeper(index.row()))
        keep.setShortcut(self.keep_action.shortcut())
        what = "" if len(rows) == 1 else f" {len(rows)} Images"
        menu.addAction(f"Tick{what}", lambda: self.members_model.set_ticked(rows, True))
        menu.addAction(f"Untick{what}", lambda: self.members_model.set_ticked(rows, False))
        menu.addSeparator()
        menu.addAction("Open", lambda: self.openRequested.emit(path))
        menu.addAction("Open Containing Folder", lambda: self.openRequested.emit(os.path.dirname(path)))
        return menu

    # -- export -------------------------------------------------------------------------
    def _update_export(self) -> None:
        idle = self._task is None
        open_set, any_set = self.members_model.group is not None, self.groups_model.rowCount() > 0
        self.export_bar.set_available(idle and open_set, idle and any_set)
        self.actions_bar.set_available(open_set, any_set, idle and self.controller.is_open, self._can_undo)

    def choose_destination(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the sets into", str(Path.home()))
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str) -> Task | None:
        """Export what the export bar says into `folder`, in the background."""
        what, every_set, mode = self.export_bar.choice()
        current = self.current_group()
        groups = self.groups_model.groups() if every_set else [current] if current else []
        if self._task is not None or not groups:
            return None
        items = export_items(groups, self.groups_model.picks, what)
        if not items:
            self.error.emit("Nothing to export: no image other than the keeper is ticked.")
            return None
        task = export_items_task(
            items, folder, mode, numbered=what != "keepers", manifests=self.export_bar.manifests()
        )
        self._task = task
        follow_export(task, folder, self.progress, self.message.emit, self.error.emit)
        task.done.connect(lambda: self._task_done(task))
        self.set_ready(self.controller.is_open)
        self.busyChanged.emit()
        return task.start()

    # -- compare, decisions, clean-up -------------------------------------------------------
    def compare(self) -> CompareDialog | None:
        """Compare two members: the two selected, else the keeper and the current one (or the next)."""
        from .compare_view import CompareDialog

        group, picks = self.members_model.group, self.members_model.picks
        if group is None or picks is None or len(group) < 2:
            return None
        rows = member_rows(self.members_view.selectionModel().selectedIndexes())
        keeper = next(i for i, m in enumerate(group.members) if m.path == picks.keeper)
        if len(rows) != 2:
            current = self.members_view.currentIndex().row()
            other = current if current not in (-1, keeper) else (keeper + 1) % len(group)
            rows = [keeper, other]
        dialog = CompareDialog(group.members, picks, rows[0], rows[1], self)
        dialog.keeperChosen.connect(lambda path: self._choose(path, keeper=True))
        dialog.tickToggled.connect(lambda path: self._choose(path, keeper=False))
        self.compare_dialog = dialog
        dialog.show()
        return dialog

    def _choose(self, path: str, keeper: bool) -> None:
        group = self.members_model.group
        if group is None:
            return
        row = next(i for i, m in enumerate(group.members) if m.path == path)
        if keeper:
            self.members_model.set_keeper(row)
        else:
            picks = self.members_model.picks
            self.members_model.set_ticked([row], not (picks is not None and picks.is_ticked(path)))

    def split_selected(self) -> Task | None:
        """ "Not similar": the selected members (or the current one) leave this set, for good."""
        group = self.members_model.group
        rows = member_rows(self.members_view.selectionModel().selectedIndexes())
        rows = rows or (
            [self.members_view.currentIndex().row()] if self.members_view.currentIndex().isValid() else []
        )
        if group is None or not rows or len(rows) >= len(group):
            return None
        split = [group.members[r] for r in rows]
        rest = [m for m in group.members if m not in split]

        def change(decisions: Decisions) -> int:
            for member in split:
                chosen = [member, *rest]
                decisions.add("not_similar", [m.id for m in chosen], [m.path for m in chosen])
            return len(split)

        return self._decide(change, f"{plural(len(split), 'image')} split out of set {group.id}.")

    def keep_all(self) -> Task | None:
        """ "Keep all": this set is never proposed for clean-up again (until a new member joins it)."""
        group = self.members_model.group
        if group is None:
            return None

        def change(decisions: Decisions) -> int:
            decisions.add("keep_all", [m.id for m in group.members], [m.path for m in group.members])
            return 1

        return self._decide(change, f"Set {group.id} is kept whole from now on.")

    def show_decisions(self) -> Task | None:
        """List the decisions in a dialog that can reset them."""

        def read(decisions: Decisions) -> list:
            return decisions.all()

        task = self.controller.decisions_task(read)
        task.finished.connect(self._open_decisions)
        task.failed.connect(self.error.emit)
        return task.start(priority=1)

    def _open_decisions(self, listed: list) -> None:
        dialog = DecisionsDialog(listed, self)
        dialog.resetRequested.connect(self.reset_decisions)
        self.decisions_dialog = dialog
        dialog.open()

    def reset_decisions(self, ids: list[int] | None) -> Task | None:
        def change(decisions: Decisions) -> int:
            return decisions.reset(ids)

        return self._decide(change, "Decisions reset.")

    def _decide(self, change: Any, message: str) -> Task | None:
        if not self.controller.is_open:
            return None
        task = self.controller.decisions_task(change)
        task.finished.connect(lambda _result: self._decided(message))
        task.failed.connect(self.error.emit)
        return task.start(priority=1)

    def _decided(self, message: str) -> None:
        self.message.emit(message)
        self.library_changed()
        self.find_sets()

    def trash_plan(self, every_set: bool) -> list[PlannedMove]:
        """What a clean-up of the open set (or every set shown) would move."""
        current = self.current_group()
        groups = self.groups_model.groups() if every_set else [current] if current else []
        return cleanup_plan(groups, self.groups_model.picks)

    def trash_others(self, every_set: bool = False, confirm: bool = True) -> Task | None:
        """Move the ticked members other than the keeper to the Trash (after asking), in a Task."""
        if self._task is not None:
            return None
        plan = self.trash_plan(every_set)
        if not plan:
            self.error.emit("Nothing to move: only the keeper (or files kept for you) is ticked.")
            return None
        if confirm:
            answer = QMessageBox.question(self, "Move to the Trash", confirm_text(plan))
            if answer != QMessageBox.StandardButton.Yes:
                return None
        task = self.controller.cleanup_task(plan)
        return self._act(task, "Moving to the Trash", self._cleaned)

    def undo_cleanup(self) -> Task | None:
        """Put back what the latest clean-up moved, in a Task."""
        if self._task is not None or not self.controller.is_open:
            return None
        return self._act(self.controller.undo_cleanup_task(), "Putting files back", self._undone)

    def _act(self, task: Task, title: str, finished: Any) -> Task:
        self._task = task
        task.progressed.connect(self.progress.update_progress)
        task.finished.connect(finished)
        task.failed.connect(lambda message: self.error.emit(f"{title} failed: {message}"))
        task.done.connect(lambda: self._acted(task))
        self.progress.start(title)
        self.set_ready(self.controller.is_open)
        self.busyChanged.emit()
        return task.start()

    def _acted(self, task: Task) -> None:
        self._task_done(task)
        self.library_changed()
        self.controller.refresh_status()
        self.find_sets()

    def _cleaned(self, report: CleanupReport) -> None:
        self._can_undo = bool(report.moved)
        kept = (
            f"; {plural(len(report.skipped), 'file')} kept ({report.skipped[0][1]})" if report.skipped else ""
        )
        self.message.emit(
            f"Moved {plural(len(report.moved), 'file')} to the Trash{kept}. Undo Clean-up puts them back."
        )

    def _undone(self, report: UndoReport) -> None:
        self._can_undo = bool(report.failed)
        failed = f"; {len(report.failed)} could not be ({report.failed[0][1]})" if report.failed else ""
        self.message.emit(f"Put back {plural(len(report.restored), 'file')}{failed}.")
