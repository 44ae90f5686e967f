"""The "Search results" page: the images similar to the query, what can be done with one, and their export.

The window hands it each answer of the search (`show_results`); the page shows them as a grid
under a title, or a hint that says why there are none. Its context menu opens, copies, excludes,
searches with or refines by a result; its export bar writes the results, numbered by rank, in a
background Task with progress and Stop (export.py, as the similar sets do). Like SetsPage it
reports through signals: the window shows the messages, opens files and changes the query.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QVBoxLayout, QWidget

from .export import export_items_task, follow_export
from .export_bar import ResultsExportBar
from .formatting import plural
from .progress_panel import ProgressPanel
from .resources import app_icon
from .results import PathRole, ResultsModel, ResultsView, ThumbnailDelegate
from .tasks import Task

if TYPE_CHECKING:
    from .controller import LibraryController
    from .thumbnails import ThumbnailCache


class ResultsPage(QWidget):
    """Call `set_ready` when the library opens or closes and `show_results` with each search's answer."""

    exportChanged = Signal()
    """The results shown, the library's readiness or the export changed (the window's Ctrl+E and Esc
    follow `can_export` and `busy`)."""
    error = Signal(str)
    message = Signal(str)
    statusMessage = Signal(str)
    """A passing note for the window's status bar."""
    openRequested = Signal(str)
    queryRequested = Signal(str)
    """Search with this result instead ("Use as Query")."""
    refineRequested = Signal(str, bool)
    """Add this result to the query as an example (True) or a counter-example (False)."""

    def __init__(
        self,
        controller: LibraryController,
        thumbnails: ThumbnailCache,
        thumbnail_size: int,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._export: Task | None = None
        self.model = ResultsModel(thumbnails, self)
        self.delegate = ThumbnailDelegate(thumbnail_size, self)
        self._build()
        self._connect()
        self.set_ready(False)

    # -- construction -------------------------------------------------------------------
    def _build(self) -> None:
        self.title = QLabel()
        self.title.setObjectName("resultsTitle")
        self.view = ResultsView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        self.progress = ProgressPanel()
        self.progress.bar.setAccessibleName("Export progress")
        self.progress.cancel.setAccessibleName("Stop the export")
        self.progress.cancel.setToolTip("Stop (Esc): what is already written stays, with its list")
        self.export_bar = ResultsExportBar()
        self.export_bar.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 0)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.export_bar)

    def _connect(self) -> None:
        self.export_bar.exportRequested.connect(self.choose_destination)
        self.progress.cancelRequested.connect(self.cancel)
        self.view.activated.connect(lambda index: self.openRequested.emit(index.data(PathRole)))
        self.view.customContextMenuRequested.connect(lambda at: self.view.show_menu(at, self.result_menu))

    # -- state from the window ----------------------------------------------------------
    def set_ready(self, ready: bool) -> None:
        """Whether the library is open: the hint says so, and nothing is exported before."""
        if ready:
            self.view.set_hint(
                "Drop an image here", "or paste one (Ctrl+V), or open one (Ctrl+O)", app_icon()
            )
        else:
            self.view.set_hint("Opening your library…", "", app_icon())
        self._update_export()

    def open_failed(self, message: str) -> None:
        """The library could not be opened: say why in place of the grid."""
        self.view.set_hint("The library could not be opened", message)

    def clear(self) -> None:
        """Forget the results shown (the library is opened again)."""
        self.model.set_results([])
        self.title.clear()
        self._update_export()

    def show_results(
        self, results: list, metric_label: str, limit: float | None, library_empty: bool
    ) -> None:
        """Show a search's answer; none: a hint on what to change (the limit, the library, the metric)."""
        self.model.set_results(results)
        self.title.setText(
            f"{plural(len(results), 'similar image')} to “{self.controller.search.query_label}” · "
            f"{metric_label} distance"
        )
        if not results:
            if limit is not None:
                detail = f"Nothing is within distance {limit:.2f}. Move the Max distance slider to the right."
            elif library_empty:
                detail = (
                    "The library has no indexed images yet. Add a folder, or wait for indexing to finish."
                )
            else:
                detail = "Try another metric or a larger number of results."
            self.view.set_hint("No similar images", detail)
        self._update_export()

    def set_thumbnail_size(self, size: int) -> None:
        self.delegate.thumbnail_size = size
        self.view.fit_grid()
        self.view.doItemsLayout()

    # -- acting on results --------------------------------------------------------------
    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [self.model.result(row).path for row in rows]

    def result_menu(self, index: QModelIndex) -> QMenu:
        """Open, open containing folder, copy path, use as query, exclude (the selection, or this one)."""
        path = index.data(PathRole)
        paths = self.selected_paths() if path in self.selected_paths() else [path]
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.openRequested.emit(path))
        menu.addAction("Open Containing Folder", lambda: self.openRequested.emit(os.path.dirname(path)))
        menu.addAction(
            "Copy Path" if len(paths) == 1 else f"Copy {len(paths)} Paths",
            lambda: QGuiApplication.clipboard().setText("\n".join(paths)),
        )
        menu.addSeparator()
        menu.addAction("Use as Query", lambda: self.queryRequested.emit(path))
        if self.controller.search.query_label is not None:
            menu.addAction("More Like This", lambda: self.refineRequested.emit(path, True))
            menu.addAction("Less Like This", lambda: self.refineRequested.emit(path, False))
        exclude = "Exclude from Results" if len(paths) == 1 else f"Exclude {len(paths)} Images from Results"
        menu.addAction(exclude, lambda: self.controller.exclude(paths))
        return menu

    # -- export -------------------------------------------------------------------------
    def choose_destination(self) -> None:
        """Copy or link the results on screen into a folder the person picks (Ctrl+E, Export…)."""
        if self._export is not None or not self.model.rowCount():
            return
        folder = QFileDialog.getExistingDirectory(self, "Export the results into", str(Path.home()))
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str) -> Task | None:
        """Export the results on screen into `folder`, numbered by rank as the bar says, in the background."""
        results = self.model.results()
        if self._export is not None or not results:
            return None
        from retrieval_app.core.export import items_for_results

        search = self.controller.search
        items = items_for_results(results, search.query_path or search.query_label)
        task = export_items_task(
            items, folder, self.export_bar.mode_choice(), manifests=self.export_bar.manifests()
        )
        follow_export(task, folder, self.progress, self.message.emit, self.error.emit)
        task.done.connect(self._export_done)
        self._export = task
        self._update_export()
        return task.start()

    def cancel(self) -> None:
        """Stop the export; the files written so far stay, listed in the manifest."""
        if self._export is not None:
            self._export.cancel()
            self.statusMessage.emit("Stopping the export…")

    def busy(self) -> bool:
        """Whether an export runs (Esc stops it)."""
        return self._export is not None

    def can_export(self) -> bool:
        return self.controller.is_open and self.model.rowCount() > 0 and self._export is None

    def _export_done(self) -> None:
        self._export = None
        self.progress.finish()
        self._update_export()

    def _update_export(self) -> None:
        """The export bar follows the results on screen and whether an export is running."""
        count = self.model.rowCount()
        self.export_bar.set_available(count, self.controller.is_open and self._export is None)
        self.export_bar.setVisible(count > 0)
        self.exportChanged.emit()
