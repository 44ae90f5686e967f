"""The similar-sets export controls: what (keeper, ticked, duplicates), of which sets, copies or links."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox

from .export_bar import ExportBar
from .set_picks import EXPORT_CHOICES, describe_choice


class SetExportBar(ExportBar):
    """Reads as a sentence: Export [what] [of this set / of every set] as [copies / links] [Export…]."""

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
        self.add_lead(self.what, self.scope)
        self._available = (False, False)
        for combo in (self.what, self.scope):
            combo.currentIndexChanged.connect(self._explain)
        self._explain()

    def choice(self) -> tuple[str, bool, str]:
        """(what, every set?, mode)."""
        return str(self.what.currentData()), bool(self.scope.currentData()), self.mode_choice()

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
