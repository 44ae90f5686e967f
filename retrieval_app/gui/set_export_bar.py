"""The similar-sets export controls: what (keeper, ticked, duplicates), of which sets, copies or links."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .export import EXPORT_MODES
from .set_picks import EXPORT_CHOICES, describe_choice


class SetExportBar(QWidget):
    """Reads as a sentence: Export [what] [of this set / of every set] as [copies / links] [Export…]."""

    exportRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.what = QComboBox()
        self.what.setAccessibleName("What to export")
        for key, label in EXPORT_CHOICES.items():
            self.what.addItem(label, key)
        self.scope = QComboBox()
        self.scope.setAccessibleName("Which sets to export")
        self.scope.addItem("of this set", False)
        self.scope.addItem("of every set", True)
        self.mode = QComboBox()
        self.mode.setAccessibleName("Copy or link")
        for key, (label, tip) in EXPORT_MODES.items():
            self.mode.addItem(label, key)
            self.mode.setItemData(self.mode.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.button = QPushButton("Export…")
        self.button.setObjectName("primary")
        self.button.setAccessibleName("Export the chosen images")
        self.button.setToolTip("Pick a folder and export into it")
        self.explanation = QLabel()
        self.explanation.setObjectName("muted")
        self.explanation.setWordWrap(True)
        self._available = (False, False)

        label = QLabel("E&xport")
        label.setBuddy(self.what)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label)
        row.addWidget(self.what)
        row.addWidget(self.scope)
        row.addWidget(QLabel("as"))
        row.addWidget(self.mode)
        row.addStretch(1)
        row.addWidget(self.button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 6, 0, 8)
        column.setSpacing(4)
        column.addLayout(row)
        column.addWidget(self.explanation)

        for combo in (self.what, self.scope, self.mode):
            combo.currentIndexChanged.connect(self._explain)
        self.button.clicked.connect(self.exportRequested)
        self._explain()

    def choice(self) -> tuple[str, bool, str]:
        """(what, every set?, mode)."""
        return str(self.what.currentData()), bool(self.scope.currentData()), str(self.mode.currentData())

    def set_choice(self, what: str, every_set: bool, mode: str = "copy") -> None:
        self.what.setCurrentIndex(self.what.findData(what))
        self.scope.setCurrentIndex(self.scope.findData(every_set))
        self.mode.setCurrentIndex(self.mode.findData(mode))

    def set_available(self, open_set: bool, any_set: bool) -> None:
        """Whether a set is open and whether there are sets at all: the button follows the scope."""
        self._available = (open_set, any_set)
        self._explain()

    def _explain(self) -> None:
        what, every_set, mode = self.choice()
        self.explanation.setText(describe_choice(what, every_set, mode))
        open_set, any_set = self._available
        self.button.setEnabled(any_set if every_set else open_set)
