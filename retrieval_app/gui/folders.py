"""The library's folders with their counts, the buttons that change them, and the skipped-files list."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from .formatting import plural
from .progress_panel import ProgressPanel
from .resources import standard_icon

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Folder", "Indexed", "Skipped", "Pending")


class FoldersModel(QAbstractTableModel):
    """One row per library folder (the core's FolderStatus), with indexed/skipped/pending counts."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._folders: list = []

    def set_folders(self, folders: list) -> None:
        self.beginResetModel()
        self._folders = list(folders)
        self.endResetModel()

    def folder(self, row: int) -> Any:
        return self._folders[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._folders)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignLeft if section == 0 else Qt.AlignmentFlag.AlignRight
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        folder = self._folders[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return os.path.basename(folder.path.rstrip(os.sep)) or folder.path
            return f"{(folder.indexed, folder.skipped, folder.pending)[column - 1]:,}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{folder.path}\n{plural(folder.files, 'file')}: {folder.indexed:,} indexed, "
                f"{folder.skipped:,} skipped, {folder.pending:,} waiting"
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return standard_icon("folder", QStyle.StandardPixmap.SP_DirIcon)
        if role == Qt.ItemDataRole.UserRole:
            return folder.path
        return None


def _tool_button(icon_name: str, fallback: QStyle.StandardPixmap, tip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(standard_icon(icon_name, fallback))
    button.setToolTip(tip)
    button.setAccessibleName(tip)
    button.setAutoRaise(True)
    return button


class FoldersPanel(QWidget):
    """Folder table, add/remove/rescan, a summary line and the indexing progress."""

    addRequested = Signal()
    removeRequested = Signal(str)
    rescanRequested = Signal()
    skippedRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.model = FoldersModel(self)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setAccessibleName("Library folders")
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.add_button = _tool_button(
            "list-add", QStyle.StandardPixmap.SP_FileDialogNewFolder, "Add folder…"
        )
        self.remove_button = _tool_button(
            "list-remove", QStyle.StandardPixmap.SP_TrashIcon, "Remove the selected folder from the library"
        )
        self.rescan_button = _tool_button(
            "view-refresh", QStyle.StandardPixmap.SP_BrowserReload, "Look for new or changed photos"
        )
        self.skipped_button = QPushButton("Skipped…")
        self.skipped_button.setFlat(True)
        self.skipped_button.setToolTip("Files that could not be indexed, and why")
        self.skipped_button.setAccessibleName("Show skipped files")
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.progress = ProgressPanel()

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.rescan_button)
        buttons.addStretch(1)
        buttons.addWidget(self.skipped_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)

        self.add_button.clicked.connect(self.addRequested)
        self.rescan_button.clicked.connect(self.rescanRequested)
        self.skipped_button.clicked.connect(self.skippedRequested)
        self.remove_button.clicked.connect(self._remove_selected)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self._update_buttons()

    def set_status(self, status: Any) -> None:
        """Show a core LibraryStatus: per-folder counts and the library total."""
        selected = self.selected_folder()
        self.model.set_folders(status.folders)
        for row in range(self.model.rowCount()):
            if self.model.folder(row).path == selected:
                self.view.setCurrentIndex(self.model.index(row, 0))
        skipped = len(status.skipped)
        parts = [f"{plural(status.indexed, 'image')} indexed"]
        if status.pending:
            parts.append(f"{status.pending:,} waiting")
        if skipped:
            parts.append(f"{skipped:,} skipped")
        self.summary.setText(" · ".join(parts))
        self.skipped_button.setText(f"Skipped ({skipped:,})…")
        self.skipped_button.setEnabled(skipped > 0)

    def selected_folder(self) -> str | None:
        index = self.view.currentIndex()
        return (
            self.model.data(index.siblingAtColumn(0), Qt.ItemDataRole.UserRole) if index.isValid() else None
        )

    def _remove_selected(self) -> None:
        folder = self.selected_folder()
        if folder:
            self.removeRequested.emit(folder)

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.view.currentIndex().isValid())


class SkippedDialog(QDialog):
    """Every file that could not be indexed, with the reason in plain words."""

    def __init__(self, skipped: list[tuple[str, str]], parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        intro = QLabel(
            f"{plural(len(skipped), 'file')} could not be indexed. Fix or replace them and press "
            "Rescan; they are tried again whenever they change."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(len(skipped), 2)
        self.table.setHorizontalHeaderLabels(["File", "Reason"])
        self.table.setAccessibleName("Skipped files")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        for row, (path, reason) in enumerate(skipped):
            name = QTableWidgetItem(os.path.basename(path))
            name.setToolTip(path)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(reason))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy list", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: self._copy(skipped))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    @staticmethod
    def _copy(skipped: list[tuple[str, str]]) -> None:
        QGuiApplication.clipboard().setText("\n".join(f"{path}\t{reason}" for path, reason in skipped))
