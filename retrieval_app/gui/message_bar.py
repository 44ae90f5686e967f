"""An inline banner above the results for errors and notices (no modal dialog for a bad drop)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton

from .resources import standard_icon

INFO_SECONDS = 6


class MessageBar(QFrame):
    """One message at a time; errors stay until closed or replaced, notices fade after a few seconds."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName("Message")
        close = QToolButton()
        close.setAutoRaise(True)
        close.setIcon(standard_icon("window-close", QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setAccessibleName("Close message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_error(self, text: str) -> None:
        self._show(text, "error", QStyle.StandardPixmap.SP_MessageBoxWarning, "dialog-warning")
        self._timer.stop()

    def show_info(self, text: str) -> None:
        self._show(text, "info", QStyle.StandardPixmap.SP_MessageBoxInformation, "dialog-information")
        self._timer.start(INFO_SECONDS * 1000)

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    @property
    def kind(self) -> str:
        return str(self.property("kind") or "")

    def _show(self, text: str, kind: str, pixmap: QStyle.StandardPixmap, theme: str) -> None:
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.icon.setPixmap(standard_icon(theme, pixmap).pixmap(20, 20))
        self.label.setText(text)
        self.show()
