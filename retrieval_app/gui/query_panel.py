"""The query on the left: its preview, its name, and the buttons that choose another one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from .resources import theme_icon
from .search_session import QueryInfo

PREVIEW_HEIGHT = 220


class QueryPreview(QLabel):
    """Shows the query scaled to fit, or an invitation to drop one."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("queryPreview")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(200, PREVIEW_HEIGHT))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Query image")
        self._pixmap = QPixmap()
        self.clear_query()

    def clear_query(self) -> None:
        self._pixmap = QPixmap()
        self.setProperty("empty", True)
        self.setText("Drop an image here\nor paste one")
        self.style().unpolish(self)
        self.style().polish(self)

    def set_image(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self.setProperty("empty", False)
        self.style().unpolish(self)
        self.style().polish(self)
        self._rescale()

    def has_image(self) -> bool:
        return not self._pixmap.isNull()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap.isNull():
            return
        ratio = self.devicePixelRatioF()
        target = self.contentsRect().size() * ratio
        scaled = self._pixmap.scaled(
            target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        scaled.setDevicePixelRatio(ratio)
        self.setPixmap(scaled)


class QueryPanel(QWidget):
    """Preview plus Open… and Paste; emits what the person asked for, the window does the work."""

    openRequested = Signal()
    pasteRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.preview = QueryPreview()
        self.name = QLabel("No query yet")
        self.name.setObjectName("queryName")
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name.setAccessibleName("Query name")
        self.state = QLabel()
        self.state.setObjectName("muted")
        open_button = QPushButton(theme_icon("document-open"), "Open…")
        open_button.setToolTip("Choose a query image (Ctrl+O)")
        open_button.setAccessibleName("Open a query image")
        open_button.clicked.connect(self.openRequested)
        paste_button = QPushButton(theme_icon("edit-paste"), "Paste")
        paste_button.setToolTip("Use the image on the clipboard (Ctrl+V)")
        paste_button.setAccessibleName("Paste a query image")
        paste_button.clicked.connect(self.pasteRequested)

        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(paste_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.preview)
        layout.addWidget(self.name)
        layout.addWidget(self.state)
        layout.addLayout(buttons)

    def set_query(self, info: QueryInfo) -> None:
        self.preview.set_image(QPixmap.fromImage(info.preview))
        self.name.setText(info.label)
        self.name.setToolTip(info.path or "")

    def clear(self) -> None:
        self.preview.clear_query()
        self.name.setText("No query yet")
        self.name.setToolTip("")
        self.state.clear()

    def set_state(self, text: str) -> None:
        self.state.setText(text)
