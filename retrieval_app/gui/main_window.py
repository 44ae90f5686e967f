"""The main window: query and controls on the left; on the right the search results and the similar sets.

It composes the pages (results_page.py, similar_sets.py), wires them to the LibraryController and
owns what belongs to the whole window: menus and shortcuts, tabs, drag and drop, messages and the
status bar. Every call into the core happens in the controller's background tasks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from foundation.imagetypes import supported_suffixes

from .controller import LibraryController, LibraryInfo
from .drops import QueryCandidate, accepts, candidate_from_path, candidates_from_mime
from .folders import SkippedDialog
from .formatting import format_duration, plural
from .message_bar import MessageBar
from .resources import app_icon, has_icon_theme, sample_folder
from .results_page import ResultsPage
from .search_session import QueryInfo
from .settings import AppSettings
from .sidebar import LEFT_WIDTH, Sidebar
from .similar_sets import SetsPage
from .thumbnails import ThumbnailCache
from .welcome import WelcomePage
from .window_actions import MENUS, TOOLBAR, create_actions, fill


class MainWindow(QMainWindow):
    """Open with `start()` after `show()`: the library then opens in the background."""

    def __init__(
        self,
        settings: AppSettings,
        library_dir: Path | None,
        model: str | None = None,
        add_sample: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.library_dir = Path(library_dir) if library_dir else None
        self._model_override = model
        self._add_sample = add_sample
        self._pending_query: QueryCandidate | None = None
        self._job_cancellable = False
        self.status = None
        self.info: LibraryInfo | None = None
        self.sample = sample_folder()

        self.controller = LibraryController(self)
        self.thumbnails = ThumbnailCache(settings.thumbnail_size, parent=self)

        self.setWindowTitle("Lookalike")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._connect()
        self._restore()
        self._set_library_ready(False)

    # -- construction -------------------------------------------------------------------
    def _build_actions(self) -> None:
        actions = self.actions_by_name = create_actions(self)
        self.open_action, self.paste_action, self.export_action = (
            actions["open"],
            actions["paste"],
            actions["export"],
        )
        self.add_folder_action, self.sample_action = actions["add_folder"], actions["sample"]
        self.rescan_action, self.skipped_action = actions["rescan"], actions["skipped"]
        self.cancel_action, self.finetune_action = actions["cancel"], actions["finetune"]
        self.results_tab_action, self.sets_tab_action = actions["results_tab"], actions["sets_tab"]
        self.cancel_action.setEnabled(False)
        self.sample_action.setVisible(self.sample is not None)

    def _build_ui(self) -> None:
        self.sidebar = Sidebar()
        self.query_panel = self.sidebar.query_panel
        self.controls = self.sidebar.controls
        self.controls.set_values(self.settings.metric, self.settings.k)
        self.model_picker = self.sidebar.model_picker
        self.folders = self.sidebar.folders

        self.message_bar = MessageBar()
        self.welcome = WelcomePage(self.sample is not None)
        self.results_page = ResultsPage(self.controller, self.thumbnails, self.settings.thumbnail_size)
        self.sets_page = SetsPage(
            self.controller, self.thumbnails, self.settings.thumbnail_size, settings=self.settings
        )
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.results_page, "Search results")
        self.tabs.addTab(self.sets_page, "Similar sets")
        self.tabs.setTabToolTip(0, "Images similar to the query (Ctrl+1)")
        self.tabs.setTabToolTip(1, "Sets of similar images across the library, to review and export (Ctrl+2)")
        self.tabs.setAccessibleName("Search results or similar sets")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(self.welcome)

        right = QWidget()
        right.setObjectName("resultsArea")
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        right_layout.addWidget(self.message_bar)
        right_layout.addWidget(self.stack, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([LEFT_WIDTH, 900])
        self.setCentralWidget(self.splitter)

        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon
            if has_icon_theme()
            else Qt.ToolButtonStyle.ToolButtonTextOnly
        )
        fill(toolbar, self.actions_by_name, TOOLBAR)
        self.addToolBar(toolbar)

        self.library_label = QLabel()
        self.library_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.library_label)

    def _build_menus(self) -> None:
        for title, names in MENUS.items():
            fill(self.menuBar().addMenu(title), self.actions_by_name, names)

    def _connect(self) -> None:
        c = self.controller
        c.opened.connect(self._opened)
        c.openFailed.connect(self._open_failed)
        c.statusChanged.connect(self._status_changed)
        c.jobStarted.connect(self._job_started)
        c.jobProgress.connect(self.folders.progress.update_progress)
        c.jobEnded.connect(self._job_ended)
        c.modelChanged.connect(self._model_changed)
        c.metricLearned.connect(self._metric_learned)
        c.search.queryChanged.connect(self._query_changed)
        c.search.queryFailed.connect(self._query_failed)
        c.search.searchStarted.connect(lambda: self.query_panel.set_state("Searching…"))
        c.search.resultsChanged.connect(self._results_changed)
        c.search.searchFailed.connect(self._search_failed)
        c.error.connect(self.show_error)
        c.message.connect(self.show_info)
        self.sets_page.error.connect(self.show_error)
        self.sets_page.message.connect(self.show_info)
        self.sets_page.openRequested.connect(self.open_externally)
        self.sets_page.busyChanged.connect(self._update_cancel)
        page = self.results_page
        page.error.connect(self.show_error)
        page.message.connect(self.show_info)
        page.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 5000))
        page.openRequested.connect(self.open_externally)
        page.queryRequested.connect(self.use_as_query)
        page.refineRequested.connect(self.refine_query)
        page.exportChanged.connect(self._update_export)
        self.tabs.currentChanged.connect(self._tab_changed)

        self.query_panel.openRequested.connect(self.choose_query)
        self.query_panel.pasteRequested.connect(self.paste)
        self.query_panel.regionChanged.connect(lambda region: self.controller.search.set_region(region))
        self.query_panel.flipsChanged.connect(lambda on: self.controller.search.set_flips(on))
        self.controls.changed.connect(self._params_changed)
        self.model_picker.modelChosen.connect(self.switch_model)
        self.folders.addRequested.connect(self.choose_folder)
        self.folders.removeRequested.connect(self.remove_folder)
        self.folders.rescanRequested.connect(self.rescan)
        self.folders.skippedRequested.connect(self.show_skipped)
        self.folders.progress.cancelRequested.connect(self.cancel_library_job)
        self.welcome.sampleRequested.connect(self.add_sample)
        self.welcome.addFolderRequested.connect(self.choose_folder)

    def _restore(self) -> None:
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        else:
            self.resize(1280, 820)
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)
        if self.settings.splitter_state is not None:
            self.splitter.restoreState(self.settings.splitter_state)

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Open the library in the background (the window is already usable)."""
        self.controller.open(
            self.library_dir, self._model_override, self.settings.device, self.settings.threads
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.splitter_state = self.splitter.saveState()
        metric, k, _ = self.controls.params()
        self.settings.metric, self.settings.k = metric, k
        self.settings.sync()
        self.sets_page.cancel()
        self.results_page.cancel()
        self.thumbnails.clear()
        self.controller.shutdown()
        event.accept()

    def _set_library_ready(self, ready: bool) -> None:
        for widget in (self.controls, self.model_picker, self.folders):
            widget.setEnabled(ready)
        for action in (
            self.add_folder_action,
            self.sample_action,
            self.rescan_action,
            self.skipped_action,
            self.finetune_action,
        ):
            action.setEnabled(ready)
        self.results_page.set_ready(ready)
        self.sets_page.set_ready(ready)

    def _opened(self, info: LibraryInfo) -> None:
        self.info = info
        self.library_dir = info.root
        self.setWindowTitle(f"Lookalike — {info.root}")
        self._set_library_ready(True)
        self.model_picker.set_models(info.backbones, self._known_checkpoints(), info.model)
        self.controls.set_metrics(info.metrics, self.settings.metric)
        self.controls.describe_metrics(info.metric_rows)
        self.sets_page.reset()
        self.sets_page.set_metric(str(self.controls.metric.currentData()), self.controls.metric.currentText())
        self.controller.search.set_params(*self.controls.params())
        if self._add_sample:
            self._add_sample = False
            self.add_sample()
        if self._pending_query is not None:
            candidate, self._pending_query = self._pending_query, None
            self._use_candidate(candidate)

    def _open_failed(self, message: str) -> None:
        self.folders.progress.finish()
        self.results_page.open_failed(message)
        where = f" at {self.library_dir}" if self.library_dir else ""
        self.show_error(f"Could not open the library{where}: {message}")

    def _known_checkpoints(self) -> list[str]:
        models = self.info.root / "models" if self.info else Path()
        found = sorted(str(p) for p in models.glob("*.safetensors")) if models.is_dir() else []
        return self.settings.recent_models + found

    # -- status and jobs ----------------------------------------------------------------
    def _status_changed(self, status: Any) -> None:
        self.status = status
        self.folders.set_status(status)
        self.skipped_action.setEnabled(bool(status.skipped))
        model = Path(status.model).name
        self.library_label.setText(f"{plural(status.indexed, 'image')} · {model}")
        has_folders = bool(status.folders)
        self.stack.setCurrentWidget(
            self.stack.widget(0) if has_folders or self.controller.search.query_label else self.welcome
        )

    def _job_started(self, title: str) -> None:
        self.statusBar().clearMessage()
        self._job_cancellable = title != "Opening library"
        self.folders.progress.start(title, cancellable=self._job_cancellable)
        self._update_cancel()

    def _job_ended(self, summary: str, ok: bool) -> None:
        self.folders.progress.finish()
        self.sets_page.library_changed()
        self._job_cancellable = False
        self._update_cancel()
        if ok:
            self.statusBar().showMessage(summary, 10000)
        else:
            self.show_error(summary)
            if self.info is not None:  # a model that failed to load is not the library's model
                self.model_picker.set_current(self.info.model)

    def cancel(self) -> None:
        """Esc: stop the results export, else the similar sets' search or export, else the library job."""
        if self.results_page.busy():
            self.results_page.cancel()
        elif self.sets_page.busy():
            self.sets_page.cancel()
        else:
            self.cancel_library_job()

    def cancel_library_job(self) -> None:
        """Stop indexing (or another library job); what is done so far is kept."""
        if self.controller.cancel_job():
            self.statusBar().showMessage("Stopping after the current batch…", 5000)

    def _update_cancel(self) -> None:
        """Esc is enabled while something it can stop is running."""
        self.cancel_action.setEnabled(
            self._job_cancellable or self.results_page.busy() or self.sets_page.busy()
        )

    # -- folders ------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", str(Path.home()))
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        if self._require_open():
            self.stack.setCurrentIndex(0)
            self.controller.add_folders(folders)

    def add_sample(self) -> None:
        if self.sample is None:
            self.show_error("This installation has no sample collection.")
            return
        self.add_folders([str(self.sample)])

    def remove_folder(self, folder: str) -> None:
        answer = QMessageBox.question(
            self,
            "Remove folder",
            f"Remove “{folder}” from the library?\n\nYour photos stay where they are; only Lookalike "
            "forgets them.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.remove_folder(folder)

    def rescan(self) -> None:
        if self._require_open():
            self.controller.index()

    def show_skipped(self) -> None:
        if self.status is not None:
            SkippedDialog(self.status.skipped, self).exec()

    # -- queries ------------------------------------------------------------------------
    def choose_query(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(supported_suffixes()))
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Search with images", str(Path.home()), f"Images ({patterns});;All files (*)"
        )
        if paths:
            self._use_candidates([candidate_from_path(path) for path in paths])

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            self.show_error("The clipboard is empty.")
            return
        self.handle_mime(mime)

    def handle_mime(self, mime: Any) -> None:
        """A drop or a paste: search with it (several files: one query of several examples), or say
        why it cannot be used."""
        self._use_candidates(candidates_from_mime(mime))

    def _use_candidates(self, candidates: list[QueryCandidate]) -> None:
        """Several examples make one query; files that cannot be examples are named, the rest used."""
        usable = [c for c in candidates if not c.error]
        if len(usable) < 2 or not self.controller.is_open:
            self._use_candidate(usable[0] if usable else candidates[0])
            return
        self._use_candidate(usable[0], [c.source for c in usable[1:]])
        refused = [c.error for c in candidates if c.error]
        if refused:
            self.show_error(f"{refused[0]} The other images are searched with.")

    def refine_query(self, path: str, more: bool) -> None:
        """Refine the current query in place with a result: "more like this" or "less like this"."""
        self.controller.search.refine(path, more)

    def use_as_query(self, path: str) -> None:
        self._use_candidate(candidate_from_path(path))

    def _use_candidate(self, candidate: QueryCandidate, more: list | None = None) -> None:
        if candidate.error:
            self.show_error(candidate.error)
            return
        if not self.controller.is_open:
            self._pending_query = candidate
            self.statusBar().showMessage("The search starts as soon as the library is open…")
            return
        self.message_bar.hide()
        self.stack.setCurrentIndex(0)
        self.tabs.setCurrentIndex(0)
        self.controller.search.set_examples([candidate.source, *(more or [])], candidate.label)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accepts(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:
        if accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        event.acceptProposedAction()
        self.handle_mime(event.mimeData())

    def _query_changed(self, info: QueryInfo) -> None:
        self.query_panel.set_query(info)

    def _query_failed(self, message: str) -> None:
        self.query_panel.set_state("")
        self.show_error(message)

    def _params_changed(self) -> None:
        self.sets_page.set_metric(str(self.controls.metric.currentData()), self.controls.metric.currentText())
        if self.controller.is_open:
            self.controller.search.set_params(*self.controls.params())

    def _results_changed(self, results: list, seconds: float) -> None:
        _, _, limit = self.controls.params()
        library_empty = self.status is not None and not self.status.indexed
        self.results_page.show_results(results, self.controls.metric.currentText(), limit, library_empty)
        if limit is None and results:
            self.controls.set_scale(max(r.distance for r in results))
        self.query_panel.set_state(f"{plural(len(results), 'result')} in {format_duration(seconds)}")

    def _search_failed(self, message: str) -> None:
        self.query_panel.set_state("")
        self.show_error(message)

    # -- what the pages ask of the window -----------------------------------------------
    def open_externally(self, path: str) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.show_error(f"No program is set up to open {os.path.basename(path)}.")

    def export_results(self) -> None:
        """Copy or link the results on screen into a folder the person picks (Ctrl+E, Export…)."""
        self.results_page.choose_destination()

    def _update_export(self) -> None:
        """The Export action follows the results page; so does Esc."""
        self.export_action.setEnabled(self.results_page.can_export())
        self._update_cancel()

    # -- similar sets -------------------------------------------------------------------
    def show_search_results(self) -> None:
        self.stack.setCurrentIndex(0)
        self.tabs.setCurrentIndex(0)

    def show_similar_sets(self) -> None:
        """Switch to the similar sets (found in the background if the ones shown are out of date)."""
        self.stack.setCurrentIndex(0)
        self.tabs.setCurrentWidget(self.sets_page)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.sets_page:
            self.sets_page.activate()

    # -- model, metric, settings ----------------------------------------------------------
    def switch_model(self, spec: str, confirm: bool = True) -> None:
        indexed = self.status.indexed if self.status is not None else 0
        if confirm and indexed:
            answer = QMessageBox.question(
                self,
                "Switch model",
                f"Use {Path(spec).name} for this library?\n\nIts {plural(indexed, 'image')} will be "
                "indexed again with the new model, in the background.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.model_picker.set_current(self.info.model if self.info else "")
                return
        if spec.endswith(".safetensors"):
            self.settings.remember_model(spec)
        self.controller.switch_model(spec)

    def _model_changed(self, spec: str) -> None:
        if self.info is not None:
            self.model_picker.set_models(self.info.backbones, self._known_checkpoints(), spec)

    def _metric_learned(self, path: str) -> None:
        if self.controller.info is not None:
            self.controls.describe_metrics(self.controller.info.metric_rows)
        index = self.controls.metric.findData("learned")
        self.controls.metric.setCurrentIndex(index)
        self.show_info(f"The learned metric from {Path(path).name} is now used for “Learned”.")

    def show_finetune(self) -> None:
        from .finetune import FineTuneDialog

        FineTuneDialog(self.controller, self.settings, self).exec()

    def show_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        devices = self.info.devices if self.info else [("auto", "Automatic"), ("cpu", "CPU")]
        dialog = SettingsDialog(self.settings, self.library_dir, devices, self)
        if dialog.exec():
            self.apply_settings(dialog.restart_needed())

    def apply_settings(self, reopen: bool) -> None:
        """Use the saved settings now; `reopen` closes the library and opens it (or another) again."""
        size = self.settings.thumbnail_size
        self.thumbnails.set_size(size)
        self.results_page.set_thumbnail_size(size)
        self.sets_page.set_thumbnail_size(size)
        if reopen:
            self.library_dir = self.settings.library_dir or self.library_dir
            self.controller.shutdown()
            self.info = None
            self._set_library_ready(False)
            self.results_page.clear()
            self.query_panel.clear()
            self.sets_page.reset()
            self.start()

    def show_about(self) -> None:
        from retrieval_app import __version__

        QMessageBox.about(
            self,
            "About Lookalike",
            f"<b>Lookalike {__version__}</b><p>Find similar images in your own photo folders, and teach "
            "it what similar means to you. Everything runs on this computer.</p>",
        )

    # -- messages -----------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.statusBar().clearMessage()
        self.message_bar.show_error(message)

    def show_info(self, message: str) -> None:
        self.message_bar.show_info(message)

    def _require_open(self) -> bool:
        if not self.controller.is_open:
            self.show_error("The library is still opening; try again in a moment.")
            return False
        return True
