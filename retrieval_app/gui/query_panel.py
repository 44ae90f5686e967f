"""The query on the left: its preview (draw a rectangle on it to search with that region), its
name, the buttons that choose another one, and whether turned copies should match."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .resources import theme_icon
from .search_session import QueryInfo

PREVIEW_HEIGHT = 220
MIN_DRAG = 6  # pixels on screen: a shorter drag is a click, not a region
Region = tuple[float, float, float, float]


class QueryPreview(QLabel):
    """Shows the query scaled to fit, or an invitation to drop one; a rectangle dragged on the image
    is emitted as a region (fractions left, top, right, bottom of the image)."""

    regionDrawn = Signal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.region: Region | None = None
        self._drag_start: QPointF | None = None
        self._drag_now: QPointF | None = None
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setObjectName("queryPreview")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(200, PREVIEW_HEIGHT))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Query image")
        self._pixmap = QPixmap()
        self.clear_query()

    def clear_query(self) -> None:
        self._pixmap = QPixmap()
        self.region = None
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

    def set_region(self, region: Region | None) -> None:
        self.region = region
        self.update()

    def image_rect(self) -> QRectF:
        """Where the scaled image lies inside the label (centred, aspect kept)."""
        if self._pixmap.isNull():
            return QRectF()
        area = QRectF(self.contentsRect())
        size = self._pixmap.size().toSizeF().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRectF(
            area.center().x() - size.width() / 2,
            area.center().y() - size.height() / 2,
            size.width(),
            size.height(),
        )

    def region_of(self, start: QPointF, end: QPointF) -> Region | None:
        """The fractions of the image between two points on screen (clipped to it), None for a click."""
        image = self.image_rect()
        if image.isEmpty() or (end - start).manhattanLength() < MIN_DRAG:
            return None
        box = QRectF(start, end).normalized().intersected(image)
        if box.width() < 2 or box.height() < 2:
            return None
        return (
            (box.left() - image.left()) / image.width(),
            (box.top() - image.top()) / image.height(),
            (box.right() - image.left()) / image.width(),
            (box.bottom() - image.top()) / image.height(),
        )

    def mousePressEvent(self, event: Any) -> None:
        if self.has_image() and event.button() == Qt.MouseButton.LeftButton:
            self._drag_start = self._drag_now = event.position()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: Any) -> None:
        if self._drag_start is not None:
            self._drag_now = event.position()
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:
        if self._drag_start is not None and event.button() == Qt.MouseButton.LeftButton:
            region = self.region_of(self._drag_start, event.position())
            self._drag_start = self._drag_now = None
            self.update()
            if region is not None:
                self.region = region
                self.regionDrawn.emit(region)
        super().mouseReleaseEvent(event)

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        if self._drag_start is not None and self._drag_now is not None:
            box = QRectF(self._drag_start, self._drag_now).normalized()
        elif self.region is not None and self.has_image():
            image = self.image_rect()
            left, top, right, bottom = self.region
            box = QRectF(
                image.left() + left * image.width(),
                image.top() + top * image.height(),
                (right - left) * image.width(),
                (bottom - top) * image.height(),
            )
        else:
            return
        painter = QPainter(self)
        painter.setPen(QPen(self.palette().highlight().color(), 2))
        painter.setBrush(QColor(255, 255, 255, 40))
        painter.drawRect(box)
        painter.end()

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
    regionChanged = Signal(object)  # a region (fractions of the image) or None for all of it
    flipsChanged = Signal(bool)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.preview = QueryPreview()
        self.preview.setToolTip("Drag a rectangle on the image to search with that part of it")
        self.preview.regionDrawn.connect(self._region_drawn)
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

        self.whole_button = QPushButton("Whole Image")
        self.whole_button.setToolTip("Search with the whole image again, not the region drawn on it")
        self.whole_button.setAccessibleName("Search with the whole image")
        self.whole_button.clicked.connect(self._whole_image)
        self.whole_button.setVisible(False)

        self.flips = QCheckBox("Match flips and rotations")
        self.flips.setToolTip("Also find copies that were mirrored or turned by 90, 180 or 270 degrees")
        self.flips.toggled.connect(self.flipsChanged)

        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(paste_button)
        buttons.addWidget(self.whole_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.preview)
        layout.addWidget(self.name)
        layout.addWidget(self.state)
        layout.addLayout(buttons)
        layout.addWidget(self.flips)

    def set_query(self, info: QueryInfo) -> None:
        self.preview.set_image(QPixmap.fromImage(info.preview))
        self.preview.set_region(info.region)
        self.whole_button.setVisible(info.region is not None)
        self.name.setText(info.label)
        self.name.setToolTip(info.path or "")

    def _region_drawn(self, region: Region) -> None:
        self.whole_button.setVisible(True)
        self.regionChanged.emit(region)

    def _whole_image(self) -> None:
        self.preview.set_region(None)
        self.whole_button.setVisible(False)
        self.regionChanged.emit(None)

    def clear(self) -> None:
        self.whole_button.setVisible(False)
        self.preview.clear_query()
        self.name.setText("No query yet")
        self.name.setToolTip("")
        self.state.clear()

    def set_state(self, text: str) -> None:
        self.state.setText(text)
