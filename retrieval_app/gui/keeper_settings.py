"""The keeper part of the settings: the rules in order (tick to use, move up or down) and the folders."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .settings import AppSettings

RULE_LABELS = {
    "pixels": "More pixels",
    "format": "Richer format (RAW, HEIC, PNG, TIFF over JPEG)",
    "size": "Larger file at equal pixels (less compressed)",
    "metadata": "More metadata (EXIF date, GPS, camera)",
    "oldest": "Oldest capture date",
    "folders": "In a preferred folder",
}


class KeeperSettings(QWidget):
    """Edits `AppSettings.keeper_rules`, `reference_folders` and `preferred_folders`; `save()` writes them."""

    def __init__(self, settings: AppSettings, parent: Any = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.rules = QListWidget()
        self.rules.setAccessibleName("Keeper rules, first decides first")
        self.rules.setToolTip(
            "A rule decides only when the copies differ by 5 % or more; ties go to the next"
        )
        for name, on in settings.keeper_rules:
            item = QListWidgetItem(RULE_LABELS[name])
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.rules.addItem(item)
        self.rules.setMaximumHeight(self.rules.sizeHintForRow(0) * (len(RULE_LABELS) + 1))
        up, down = QPushButton("Up"), QPushButton("Down")
        up.clicked.connect(lambda: self.move_rule(-1))
        down.clicked.connect(lambda: self.move_rule(1))
        moves = QVBoxLayout()
        moves.addWidget(up)
        moves.addWidget(down)
        moves.addStretch(1)
        rules_row = QHBoxLayout()
        rules_row.addWidget(self.rules, 1)
        rules_row.addLayout(moves)
        self.reference = QPlainTextEdit("\n".join(settings.reference_folders))
        self.reference.setAccessibleName("Reference folders, one per line")
        self.reference.setPlaceholderText("One folder per line: never proposed for removal, win ties")
        self.preferred = QPlainTextEdit("\n".join(settings.preferred_folders))
        self.preferred.setAccessibleName("Preferred folders, one per line")
        self.preferred.setPlaceholderText(
            "One folder per line: the keeper comes from here when the rule is on"
        )
        for edit in (self.reference, self.preferred):
            edit.setMaximumHeight(64)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Keeper rules", rules_row)
        form.addRow("Reference folders", self.reference)
        form.addRow("Preferred folders", self.preferred)

    def move_rule(self, offset: int) -> None:
        """Move the current rule up (-1) or down (+1); the two items swap their contents, so the
        list keeps owning the same items (taking one out hands it to Python, which crashed at exit)."""
        row = self.rules.currentRow()
        target = row + offset
        if row < 0 or not 0 <= target < self.rules.count():
            return
        here, there = self.rules.item(row), self.rules.item(target)
        contents = [
            (item.text(), item.data(Qt.ItemDataRole.UserRole), item.checkState()) for item in (here, there)
        ]
        for item, (text, name, state) in zip((there, here), contents, strict=True):
            item.setText(text)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setCheckState(state)
        self.rules.setCurrentRow(target)

    def chosen_rules(self) -> list[tuple[str, bool]]:
        items = [self.rules.item(i) for i in range(self.rules.count())]
        return [(i.data(Qt.ItemDataRole.UserRole), i.checkState() == Qt.CheckState.Checked) for i in items]

    def save(self) -> None:
        self.settings.keeper_rules = self.chosen_rules()
        self.settings.reference_folders = _lines(self.reference.toPlainText())
        self.settings.preferred_folders = _lines(self.preferred.toPlainText())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
