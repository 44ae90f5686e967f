"""What a person does with a similar set besides exporting it: compare, decide, clean up, undo.

The bar under the open set, in two rows: Compare (C), Not Similar, Keep All and Decisions… (list
and reset); Move the Others to the Trash… (this set or every set shown) and Undo Clean-up. The page does the
work; this module holds the controls, the sentence confirming a clean-up, and the decisions list.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .formatting import plural

if TYPE_CHECKING:
    from retrieval_app.core.cleanup import PlannedMove
    from retrieval_app.core.decisions import Decision

TIER_FILTERS = {
    "": "Every tier",
    "exact": "Exact copies",
    "same": "Same picture",
    "similar": "Similar shots",
}


class SetActionsBar(QWidget):
    """Buttons acting on the open set; the page connects their signals."""

    compareRequested = Signal()
    notSimilarRequested = Signal()
    keepAllRequested = Signal()
    trashRequested = Signal(bool)
    """True: every set shown; False: the open set."""
    undoRequested = Signal()
    decisionsRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.compare = QPushButton("&Compare")
        self.compare.setToolTip(
            "Compare two images side by side (select two, or the keeper and the current one)"
        )
        self.not_similar = QPushButton("&Not Similar")
        self.not_similar.setToolTip("Split the selected images out of this set, now and after every rescan")
        self.keep_all = QPushButton("Keep &All")
        self.keep_all.setToolTip("Keep every image of this set: it is never proposed for clean-up")
        self.trash = QPushButton("Move the Others to the &Trash…")
        self.trash.setToolTip("Move the ticked images other than the keeper to the system Trash (undoable)")
        self.scope = QComboBox()
        self.scope.setAccessibleName("Which sets to clean up")
        self.scope.addItem("in this set", False)
        self.scope.addItem("in every set shown", True)
        self.undo = QPushButton("&Undo Clean-up")
        self.undo.setToolTip("Put back the files the last clean-up moved to the Trash")
        self.decisions = QPushButton("Decisions…")
        self.decisions.setToolTip("List and reset your 'not similar' and 'keep all' decisions")
        decide = QHBoxLayout()
        for widget in (self.compare, self.not_similar, self.keep_all, self.decisions):
            decide.addWidget(widget)
        decide.addStretch(1)
        clean = QHBoxLayout()
        for widget in (self.trash, self.scope, self.undo):
            clean.addWidget(widget)
        clean.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(decide)
        layout.addLayout(clean)
        self.compare.clicked.connect(self.compareRequested)
        self.not_similar.clicked.connect(self.notSimilarRequested)
        self.keep_all.clicked.connect(self.keepAllRequested)
        self.trash.clicked.connect(lambda: self.trashRequested.emit(bool(self.scope.currentData())))
        self.undo.clicked.connect(self.undoRequested)
        self.decisions.clicked.connect(self.decisionsRequested)

    def set_available(self, open_set: bool, any_set: bool, idle: bool, can_undo: bool) -> None:
        for button in (self.compare, self.not_similar, self.keep_all):
            button.setEnabled(idle and open_set)
        every = bool(self.scope.currentData())
        self.trash.setEnabled(idle and (any_set if every else open_set))
        self.undo.setEnabled(idle and can_undo)
        self.decisions.setEnabled(idle)


def confirm_text(plan: list[PlannedMove]) -> str:
    """The question asked before a clean-up: how many files, from how many sets, and that it is undoable."""
    sets = len({move.set_id for move in plan})
    return (
        f"Move {plural(len(plan), 'file')} from {plural(sets, 'set')} to the Trash? "
        "Each set's keeper stays, as do files in reference folders. "
        "Undo Clean-up puts them back; nothing is deleted."
    )


class DecisionsDialog(QDialog):
    """The library's decisions, newest last; Reset forgets the selected ones (or all)."""

    resetRequested = Signal(object)
    """A list of decision ids, or None for all of them."""

    def __init__(self, decisions: list[Decision], parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Decisions about sets")
        self.list = QListWidget()
        self.list.setAccessibleName("Your decisions")
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        for decision in decisions:
            kind = "Not similar" if decision.kind == "not_similar" else "Keep all"
            names = ", ".join(os.path.basename(p) for p in decision.paths)
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(decision.created))
            item = QListWidgetItem(f"{kind}: {names}  ({when})")
            item.setToolTip("\n".join(decision.paths))
            item.setData(Qt.ItemDataRole.UserRole, decision.id)
            self.list.addItem(item)
        empty = QLabel("No decisions yet." if not decisions else "")
        empty.setObjectName("muted")
        self.reset_button = reset = QPushButton("Reset Selected")
        self.reset_all_button = reset_all = QPushButton("Reset All")
        reset.clicked.connect(self._reset_selected)
        reset_all.clicked.connect(lambda: self._reset(None))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(reset)
        row.addWidget(reset_all)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(empty)
        layout.addLayout(row)
        self.resize(640, 360)

    def _reset_selected(self) -> None:
        ids = [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]
        if ids:
            self._reset(ids)

    def _reset(self, ids: list[int] | None) -> None:
        self.resetRequested.emit(ids)
        self.accept()
