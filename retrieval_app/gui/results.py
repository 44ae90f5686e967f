"""The results grid: a list model of search results, a thumbnail card delegate and an icon-mode view.

The base model, the delegate and the view also serve the similar-sets page (similar_sets.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QUrl,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from .thumbnails import ThumbnailCache

PathRole = Qt.ItemDataRole.UserRole + 1
DistanceRole = Qt.ItemDataRole.UserRole + 2
RankRole = Qt.ItemDataRole.UserRole + 3
FailureRole = Qt.ItemDataRole.UserRole + 4
DetailRole = Qt.ItemDataRole.UserRole + 5
"""The card's second, muted line of text."""
BadgeRole = Qt.ItemDataRole.UserRole + 6
"""The number in the pill on the thumbnail (None: no pill)."""

PADDING = 8
TEXT_LINES = 2
RADIUS = 8.0
GRID_GAP = 12

Index = QModelIndex | QPersistentModelIndex


class ThumbnailListModel(QAbstractListModel):
    """Rows that each show one image file; a row repaints when the cache delivers its thumbnail."""

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._rows: list = []
        self._rows_by_path: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._thumbnail_ready)

    def row_path(self, row: Any) -> str:
        """The image file a row shows."""
        return str(row.path)

    def _reset(self, rows: list) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._rows_by_path = {}
        for number, row in enumerate(self._rows):
            self._rows_by_path.setdefault(self.row_path(row), []).append(number)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def image_data(self, path: str, role: int) -> Any:
        """The roles every card shares: thumbnail, path and why the file cannot be shown."""
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.pixmap(path)
        if role == PathRole:
            return path
        if role == FailureRole:
            return self.thumbnails.failure(path)
        return None

    def _thumbnail_ready(self, path: str) -> None:
        for row in self._rows_by_path.get(path, []):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ResultsModel(ThumbnailListModel):
    """Rows are the core's SearchResult objects, in rank order; thumbnails come from the cache."""

    def set_results(self, results: list) -> None:
        self._reset(results)

    def results(self) -> list:
        return list(self._rows)

    def result(self, row: int) -> Any:
        return self._rows[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        result = self._rows[index.row()]
        name = os.path.basename(result.path)
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == DetailRole:
            return f"distance {result.distance:.3f}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{result.path}\nRank {result.rank} · distance {result.distance:.4f}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Result {result.rank}: {name}, distance {result.distance:.3f}"
        if role == DistanceRole:
            return result.distance
        if role in (RankRole, BadgeRole):
            return result.rank
        return self.image_data(result.path, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        """Dragging results out gives the file manager (or another app) their files."""
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self._rows[i.row()].path) for i in indexes if i.isValid()])
        return mime


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints one result as a card: thumbnail, rank badge, file name and distance."""

    def __init__(self, thumbnail_size: int, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size

    def card_size(self, metrics: QFontMetrics) -> QSize:
        """Thumbnail square plus two lines of text, with padding."""
        side = self.thumbnail_size + 2 * PADDING
        return QSize(side, side + TEXT_LINES * metrics.height() + PADDING // 2)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return self.card_size(option.fontMetrics)

    def card_rect(self, option: QStyleOptionViewItem) -> QRect:
        """The card, centred in the item's cell."""
        card = QRect(QPoint(0, 0), self.card_size(option.fontMetrics))
        card.moveCenter(option.rect.center())
        return card.adjusted(2, 2, -2, -2)

    def image_rect(self, option: QStyleOptionViewItem) -> QRect:
        """The thumbnail square inside the card."""
        card = self.card_rect(option)
        side = self.thumbnail_size
        return QRect(card.left() + PADDING - 2, card.top() + PADDING - 2, side, side)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        card = self.card_rect(option)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        self._paint_card(painter, card, palette, selected, hovered)

        side = self.thumbnail_size
        image_rect = self.image_rect(option)
        self._paint_thumbnail(painter, image_rect, palette, index)
        self._paint_badge(painter, image_rect, palette, index.data(BadgeRole))

        line = option.fontMetrics.height()
        text_rect = QRect(image_rect.left(), image_rect.bottom() + 4, side, line)
        name = option.fontMetrics.elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)), Qt.TextElideMode.ElideMiddle, side
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.setPen(
            palette.color(QPalette.ColorRole.PlaceholderText) if not selected else palette.color(role)
        )
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.9))
        painter.setFont(small)
        detail = option.fontMetrics.elidedText(
            str(index.data(DetailRole) or ""), Qt.TextElideMode.ElideRight, side
        )
        painter.drawText(
            text_rect.translated(0, line), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, detail
        )
        painter.restore()

    def _paint_card(
        self, painter: QPainter, card: QRect, palette: QPalette, selected: bool, hovered: bool
    ) -> None:
        path = QPainterPath()
        path.addRoundedRect(card, RADIUS, RADIUS)
        if selected:
            fill = palette.color(QPalette.ColorRole.Highlight)
            border = fill.darker(115)
        else:
            fill = palette.color(QPalette.ColorRole.Base)
            border = palette.color(QPalette.ColorRole.Highlight if hovered else QPalette.ColorRole.Mid)
            if not hovered:
                border.setAlpha(110)
        painter.fillPath(path, fill)
        painter.setPen(QPen(border, 1.5 if hovered or selected else 1.0))
        painter.drawPath(path)

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, palette: QPalette, index: Index) -> None:
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        backdrop = QPainterPath()
        backdrop.addRoundedRect(rect, RADIUS - 3, RADIUS - 3)
        painter.fillPath(backdrop, palette.color(QPalette.ColorRole.AlternateBase))
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(rect.center())
            painter.save()
            painter.setClipPath(backdrop)
            painter.drawPixmap(target, pixmap)
            painter.restore()
            return
        failure = index.data(FailureRole)
        if failure:
            icon = QIcon.fromTheme("image-missing")
            if icon.isNull():
                icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            icon.paint(painter, QRect(rect.center().x() - 16, rect.center().y() - 24, 32, 32))
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                rect.adjusted(6, 40, -6, 0), Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, failure
            )

    def _paint_badge(self, painter: QPainter, image_rect: QRect, palette: QPalette, rank: Any) -> None:
        if rank is None:
            return
        text = str(rank)
        metrics = painter.fontMetrics()
        width = max(metrics.horizontalAdvance(text) + 12, metrics.height() + 4)
        badge = QRect(image_rect.left() + 5, image_rect.top() + 5, width, metrics.height() + 4)
        path = QPainterPath()
        path.addRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.fillPath(path, QColor(0, 0, 0, 150))
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


class ResultsView(QListView):
    """An icon-mode grid of results that shows a hint in place of an empty grid."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setAccessibleName("Similar images")
        self._hint_title = "Drop an image here"
        self._hint_detail = "or paste one (Ctrl+V), or open one (Ctrl+O)"
        self._hint_icon = QIcon()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit_grid()

    def show_menu(self, position: QPoint, build: Callable[[QModelIndex], QMenu]) -> None:
        """Show the menu `build` makes for the card at `position` (viewport coordinates, as the
        customContextMenuRequested signal gives it); nothing between the cards."""
        index = self.indexAt(position)
        if index.isValid():
            build(index).exec(self.viewport().mapToGlobal(position))

    def fit_grid(self) -> None:
        """Spread the cards over the full width: as many columns as fit, the slack shared between them."""
        delegate = self.itemDelegate()
        if not isinstance(delegate, ThumbnailDelegate):
            return
        card = delegate.card_size(self.fontMetrics())
        # QListView lays a wrapping grid out as if the vertical scroll bar were shown, even while it is not
        width = self.maximumViewportSize().width() - self.verticalScrollBar().sizeHint().width()
        columns = max(1, (width + GRID_GAP) // (card.width() + GRID_GAP))
        cell = QSize(max(card.width() + GRID_GAP, width // columns), card.height() + GRID_GAP)
        if cell != self.gridSize():
            self.setGridSize(cell)

    def set_hint(self, title: str, detail: str = "", icon: QIcon | None = None) -> None:
        """The text shown while there are no results."""
        self._hint_title, self._hint_detail = title, detail
        if icon is not None:
            self._hint_icon = icon
        self.viewport().update()

    def hint(self) -> tuple[str, str]:
        return self._hint_title, self._hint_detail

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() > 0:
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.viewport().rect()
        centre_y = area.center().y()
        if not self._hint_icon.isNull():
            self._hint_icon.paint(painter, QRect(area.center().x() - 40, centre_y - 110, 80, 80))
        title_font = QFont(self.font())
        title_font.setPointSizeF(self.font().pointSizeF() * 1.5)
        painter.setFont(title_font)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        title_rect = QRect(area.left() + 20, centre_y - 20, area.width() - 40, 40)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignCenter, self._hint_title)
        painter.setFont(self.font())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        detail_rect = QRect(area.left() + 20, centre_y + 22, area.width() - 40, 60)
        painter.drawText(
            detail_rect, Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, self._hint_detail
        )
        painter.end()
