"""The export controls under a grid, shared by the search results and the similar sets.

Each reads as a sentence: Export [what] as [copies / links] [Export…], with a line below saying
exactly what will be written, next to [Also a manifest.json]. A manifest.csv is always written.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .export import EXPORT_MODES
from .formatting import plural


class ExportBar(QWidget):
    """The mode, the manifests and the button; subclasses add what to export and say it in `_explain`."""

    exportRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.setAccessibleName("Copy or link")
        for key, (label, tip) in EXPORT_MODES.items():
            self.mode.addItem(label, key)
            self.mode.setItemData(self.mode.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.json = QCheckBox("Also a manifest.json")
        self.json.setAccessibleName("Also write manifest.json")
        self.json.setToolTip(
            "Also write the list of exported files as manifest.json (manifest.csv is always written)"
        )
        self.button = QPushButton("Export…")
        self.button.setObjectName("primary")
        self.button.setAccessibleName("Export the chosen images")
        self.button.setToolTip("Pick a folder and export into it")
        self.explanation = QLabel()
        self.explanation.setObjectName("muted")
        self.explanation.setWordWrap(True)

        self.label = QLabel("E&xport")
        self.label.setBuddy(self.mode)
        self._lead = QHBoxLayout()
        self._lead.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addLayout(self._lead)
        row.addWidget(QLabel("as"))
        row.addWidget(self.mode)
        row.addStretch(1)
        row.addWidget(self.button)
        below = QHBoxLayout()
        below.setContentsMargins(0, 0, 0, 0)
        below.addWidget(self.explanation, 1)
        below.addWidget(self.json, 0, Qt.AlignmentFlag.AlignTop)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 6, 0, 8)
        column.setSpacing(4)
        column.addLayout(row)
        column.addLayout(below)

        self.mode.currentIndexChanged.connect(self._explain)
        self.json.toggled.connect(self._explain)
        self.button.clicked.connect(self.exportRequested)

    def add_lead(self, *widgets: QWidget) -> None:
        """Put the what-to-export widgets between "Export" and "as"; the first focusable one gets Alt+X."""
        for widget in widgets:
            self._lead.addWidget(widget)
        focusable = [w for w in widgets if w.focusPolicy() != Qt.FocusPolicy.NoFocus]
        if focusable:
            self.label.setBuddy(focusable[0])

    def mode_choice(self) -> str:
        """copy or link."""
        return str(self.mode.currentData())

    def manifests(self) -> tuple[str, ...]:
        """The manifest formats to write: always CSV, JSON too when ticked."""
        return ("csv", "json") if self.json.isChecked() else ("csv",)

    def manifest_sentence(self) -> str:
        """The closing sentence of every explanation: which lists are written, and that originals are safe."""
        lists = "A manifest.csv and a manifest.json list" if self.json.isChecked() else "A manifest.csv lists"
        return f"{lists} every file; your originals are never moved or changed."

    def _explain(self) -> None:
        raise NotImplementedError


class ResultsExportBar(ExportBar):
    """Export [the 11 results] as [copies / links]: numbered by rank, the most similar first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.what = QLabel()
        self.add_lead(self.what)
        self.button.setAccessibleName("Export the results")
        self._count = 0
        self.set_available(0, False)

    def set_available(self, count: int, idle: bool) -> None:
        """How many results are on screen, and whether no export of them is running."""
        self._count = count
        self.what.setText(f"the {plural(count, 'result')}")
        self.button.setEnabled(idle and count > 0)
        self._explain()

    def _explain(self) -> None:
        verb = "Copies" if self.mode_choice() == "copy" else "Links"
        self.explanation.setText(
            f"{verb} the {plural(self._count, 'result')} into the folder, numbered by rank "
            f"(01-… is the most similar). {self.manifest_sentence()}"
        )
