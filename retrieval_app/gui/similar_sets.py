"""The "Similar sets" page: the library's sets of near-duplicates, one open set to review, and export.

Sets are found in a background Task (core `find_groups` through the controller) with the
search's metric and this page's max distance and smallest size; they are listed largest first.
The keeper and tick semantics are those of set_picks.py; exports run in a Task with progress
and cancel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
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
from .set_export_bar import SetExportBar
from .set_models import GroupsModel, MemberDelegate, MembersModel, member_rows
from .set_picks import export_items
from .tasks import Task

if TYPE_CHECKING:
    from retrieval_app.core.groups import Group

    from .controller import LibraryController
    from .thumbnails import ThumbnailCache

START_DISTANCE = 0.35
"""The core's DEFAULT_MAX_DISTANCE (not imported here: core.groups loads scipy, which is slow)."""
MAX_SET_SIZE = 1000
SEARCH_DELAY_MS = 400
SCROLLBAR_ROOM = 24


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
    ) -> None:
        super().__init__(parent)
        self.controller = controller
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
        for widget in (distance_label, self.max_distance, size_label, self.min_size, self.find_button):
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
        self.export_bar = SetExportBar()

        members = QWidget()
        members_layout = QVBoxLayout(members)
        members_layout.setContentsMargins(8, 0, 0, 0)
        members_layout.setSpacing(4)
        members_layout.addWidget(self.members_title)
        members_layout.addWidget(self.members_help)
        members_layout.addWidget(self.members_view, 1)
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
        self._debounce.timeout.connect(self.find_sets)
        self.find_button.clicked.connect(self.find_sets)
        self.progress.cancelRequested.connect(self.cancel)
        self.groups_view.selectionModel().currentChanged.connect(self._open_group)
        self.groups_view.activated.connect(lambda _index: self.members_view.setFocus())
        self.members_view.activated.connect(lambda index: self.openRequested.emit(index.data(PathRole)))
        self.members_view.customContextMenuRequested.connect(self._show_member_menu)
        self.members_model.picksChanged.connect(self._picks_changed)
        self.keep_action.triggered.connect(self._keep_current)
        self.export_bar.exportRequested.connect(self.choose_destination)

    # -- state from the window ----------------------------------------------------------
    def set_ready(self, ready: bool) -> None:
        """Whether the library is open: nothing can be found before."""
        for widget in (self.max_distance, self.min_size, self.find_button):
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
        return (self.metric, self.max_distance.value(), self.min_size.value(), self._generation)

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
        metric, max_distance, min_size, _ = params
        task = self.controller.groups_task(metric, max_distance, min_size)
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

    def _show_groups(self, task: Task, params: tuple, groups: list[Group]) -> None:
        if task is not self._task:
            return
        self._shown = params
        self.groups_model.set_groups(groups)
        metric, max_distance, _, _ = params
        images = sum(len(group) for group in groups)
        self.summary.setText(
            f"{plural(len(groups), 'set')} · {plural(images, 'image')} · "
            f"{self.metric_label} distance ≤ {max_distance:.3f}"
        )
        if groups:
            self.groups_view.setCurrentIndex(self.groups_model.index(0))
        else:
            self._open_group(QModelIndex())
            self.members_view.set_hint(
                "No similar sets",
                f"No images are within {max_distance:.3f} of each other ({self.metric_label}). "
                "Raise the Max distance, or add more photos.",
            )
        self.setsShown.emit(len(groups))

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
        return self._task is not None and self._task.name == "export"

    # -- the open set -------------------------------------------------------------------
    def current_group(self) -> Group | None:
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
        self.members_title.setText(
            f"Set {group.id} · {plural(len(group), 'image')} · {picks.ticked_count(group)} ticked · "
            f"keeper {os.path.basename(picks.keeper)}"
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

    def _show_member_menu(self, position: QPoint) -> None:
        index = self.members_view.indexAt(position)
        if index.isValid():
            self.member_menu(index).exec(self.members_view.viewport().mapToGlobal(position))

    # -- export -------------------------------------------------------------------------
    def _update_export(self) -> None:
        idle = self._task is None
        self.export_bar.set_available(
            idle and self.members_model.group is not None, idle and self.groups_model.rowCount() > 0
        )

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
