"""Compare two members of a similar set: side by side at one zoom, panned together, or flicker/slider.

Both images are laid out in one normalised frame (0..1 across each image), so a resized copy
shows the same part of the scene as its original: "Fit" fits the larger image to the pane and
"1:1" shows the larger one at its own pixels (the smaller is enlarged to match, which is where
its lost detail shows). Dragging pans both, the wheel zooms both. "Flicker" alternates the two in
one pane; "Slider" shows the left image left of a divider and the right image right of it.
The differences (dimensions, file size, format, dates, camera, tier) are listed underneath.

Keys: Left/Right show the previous/next other member on the right, K makes the right one the
keeper, Space ticks or unticks it, F fits, 1 is 1:1, M cycles the modes, Esc closes.
Images decode in a background Task.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QStackedLayout,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .qimages import pil_to_qimage
from .tasks import Task

if TYPE_CHECKING:
    from retrieval_app.core.set_review import ReviewedMember

    from .set_picks import SetPicks

MODES = ("side", "flicker", "slider")
MODE_LABELS = {"side": "Side by Side", "flicker": "Flicker", "slider": "Slider"}
FLICKER_MS = 600
ZOOM_STEP = 1.25
TIER_NAMES = {"exact": "Exact copy", "same": "Same picture", "similar": "Similar shot"}


class SharedView:
    """The zoom and centre both panes show: `zoom` screen pixels per pixel of the larger image."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.fit = True
        self.zoom = 1.0
        self.centre = QPointF(0.5, 0.5)
        self.reference_width = 1
        self._on_change = on_change

    def frame(self, pane: QRectF, image: QImage) -> QRectF:
        """Where `image` lands in `pane` (normalised frame scaled by the shared zoom, centred)."""
        aspect = image.height() / max(1, image.width())
        zoom = self.fit_zoom(pane, aspect) if self.fit else self.zoom
        width = self.reference_width * zoom
        height = width * aspect
        left = pane.center().x() - self.centre.x() * width
        top = pane.center().y() - self.centre.y() * height
        return QRectF(left, top, width, height)

    def fit_zoom(self, pane: QRectF, aspect: float) -> float:
        return min(pane.width() / self.reference_width, pane.height() / (self.reference_width * aspect))

    def set_one_to_one(self) -> None:
        self.fit, self.zoom = False, 1.0
        self._on_change()

    def set_fit(self) -> None:
        self.fit, self.centre = True, QPointF(0.5, 0.5)
        self._on_change()

    def zoom_by(self, factor: float, pane: QRectF, aspect: float) -> None:
        if self.fit:
            self.zoom, self.fit = self.fit_zoom(pane, aspect), False
        self.zoom = min(16.0, max(0.02, self.zoom * factor))
        self._on_change()

    def pan(self, delta: QPointF, frame: QRectF) -> None:
        if frame.width() <= 0 or frame.height() <= 0:
            return
        if self.fit:
            self.zoom, self.fit = frame.width() / self.reference_width, False
        x = min(1.0, max(0.0, self.centre.x() - delta.x() / frame.width()))
        y = min(1.0, max(0.0, self.centre.y() - delta.y() / frame.height()))
        self.centre = QPointF(x, y)
        self._on_change()


class ImagePane(QWidget):
    """Paints one image (or, in slider mode, two split by a divider) through the shared view."""

    def __init__(self, view: SharedView, caption: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.view = view
        self.caption = caption
        self.images: list[QImage | None] = [None, None]
        self.showing = 0
        self.split: float | None = None  # slider mode: the divider's place, 0..1 of the width
        self._drag: QPointF | None = None
        self.setMinimumSize(240, 200)
        self.setMouseTracking(False)

    def current(self) -> QImage | None:
        return self.images[self.showing]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(32, 32, 32))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        pane = QRectF(self.rect())
        first = self.current()
        if first is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Loading…")
            return
        painter.drawImage(self.view.frame(pane, first), first)
        second = self.images[1]
        if self.split is not None and second is not None:
            x = pane.width() * self.split
            painter.save()
            painter.setClipRect(QRectF(x, 0, pane.width() - x, pane.height()))
            painter.fillRect(QRectF(x, 0, pane.width() - x, pane.height()), QColor(32, 32, 32))
            painter.drawImage(self.view.frame(pane, second), second)
            painter.restore()
            painter.setPen(QPen(QColor("white"), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, pane.height()))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        text = self.caption if self.split is None else "◀ left · right ▶"
        box = QRectF(
            8, 8, painter.fontMetrics().horizontalAdvance(text) + 16, painter.fontMetrics().height() + 6
        )
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        image = self.current()
        if self._drag is None or image is None:
            return
        delta = event.position() - self._drag
        self._drag = event.position()
        self.view.pan(delta, self.view.frame(QRectF(self.rect()), image))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:
        image = self.current()
        if image is None:
            return
        factor = ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP
        self.view.zoom_by(factor, QRectF(self.rect()), image.height() / max(1, image.width()))


def differences(left: ReviewedMember, right: ReviewedMember) -> list[tuple[str, str, str]]:
    """(property, left, right) for what people compare copies by; equal values are listed too."""

    def facts_of(member: ReviewedMember) -> dict[str, str]:
        fact = member.facts
        if fact is None:
            return {"File": os.path.basename(member.path), "Dimensions": "cannot be read"}
        return {
            "File": os.path.basename(member.path),
            "Folder": os.path.dirname(member.path),
            "Dimensions": f"{fact.width}×{fact.height} ({fact.pixels / 1e6:.1f} MP)",
            "File size": f"{fact.size / 1e6:.2f} MB" if fact.size >= 100_000 else f"{fact.size / 1e3:.1f} kB",
            "Format": fact.format,
            "Taken": fact.taken.strftime("%Y-%m-%d %H:%M:%S") if fact.taken else "—",
            "Modified": datetime.fromtimestamp(fact.mtime).strftime("%Y-%m-%d %H:%M"),
            "Camera": fact.camera or "—",
            "GPS": "yes" if fact.has_gps else "—",
        }

    a, b = facts_of(left), facts_of(right)
    rows = [(key, a.get(key, "—"), b.get(key, "—")) for key in dict.fromkeys([*a, *b])]
    tier = "keeper" if right.keeper else TIER_NAMES.get(right.tier, right.tier)
    rows.append(
        ("Tier (right, to the keeper)", "keeper" if left.keeper else TIER_NAMES.get(left.tier, ""), tier)
    )
    return rows


class CompareDialog(QDialog):
    """Two members of one set; `keeperChosen` and `tickToggled` carry the person's choices (paths)."""

    keeperChosen = Signal(str)
    tickToggled = Signal(str)

    def __init__(
        self,
        members: Sequence[ReviewedMember],
        picks: SetPicks,
        left: int,
        right: int,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare")
        self.members = list(members)
        self.picks = picks
        self.left, self.right = left, right
        self.mode = "side"
        self._images: dict[str, QImage] = {}
        self._tasks: list[Task] = []
        self.view = SharedView(self._repaint)
        self.view.reference_width = max((m.facts.width for m in self.members if m.facts), default=1)
        self._flicker = QTimer(self)
        self._flicker.setInterval(FLICKER_MS)
        self._flicker.timeout.connect(self._flip)
        self._build()
        self._show_pair()

    def _build(self) -> None:
        self.left_pane = ImagePane(self.view, "left")
        self.right_pane = ImagePane(self.view, "right")
        self.single_pane = ImagePane(self.view, "")
        panes = QWidget()
        side = QHBoxLayout(panes)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.left_pane)
        side.addWidget(self.right_pane)
        self.stack = QStackedLayout()
        self.stack.addWidget(panes)
        self.stack.addWidget(self.single_pane)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.setAccessibleName("Divider between the two images")
        self.slider.valueChanged.connect(self._slide)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.fit_button = QPushButton("&Fit")
        self.one_button = QPushButton("&1:1")
        self.mode_buttons = QButtonGroup(self)
        controls = QHBoxLayout()
        for button in (self.fit_button, self.one_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            controls.addWidget(button)
        controls.addSpacing(12)
        for i, mode in enumerate(MODES):
            button = QPushButton(MODE_LABELS[mode])
            button.setCheckable(True)
            button.setChecked(mode == self.mode)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.mode_buttons.addButton(button, i)
            controls.addWidget(button)
        controls.addStretch(1)
        self.state = QLabel()
        self.state.setObjectName("muted")
        controls.addWidget(self.state)
        self.fit_button.clicked.connect(self.view.set_fit)
        self.one_button.clicked.connect(self.view.set_one_to_one)
        self.mode_buttons.idClicked.connect(lambda i: self.set_mode(MODES[i]))

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["", "Left", "Right"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setAccessibleName("Differences between the two images")
        self.table.setMaximumHeight(250)
        help_text = QLabel(
            "←/→ other image · K keep the right one · Space tick/untick it · F fit · 1 1:1 · M mode · Esc close"
        )
        help_text.setObjectName("muted")

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(self.stack, 1)
        layout.addWidget(self.slider)
        layout.addWidget(self.table)
        layout.addWidget(help_text)
        self.slider.setVisible(False)
        self.resize(1100, 780)

    # -- what is shown ------------------------------------------------------------------
    def _show_pair(self) -> None:
        left, right = self.members[self.left], self.members[self.right]
        self.left_pane.caption = f"left: {os.path.basename(left.path)}"
        self.right_pane.caption = f"right: {os.path.basename(right.path)}"
        rows = differences(left, right)
        self.table.setRowCount(len(rows))
        for row, (name, a, b) in enumerate(rows):
            cells = [QTableWidgetItem(name), QTableWidgetItem(a), QTableWidgetItem(b)]
            if a != b:
                for cell in cells[1:]:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, cell)
        self._update_state()
        for member in (left, right):
            self._load(member.path)
        self._place_images()

    def _update_state(self) -> None:
        right = self.members[self.right]
        if right.path == self.picks.keeper:
            state = "right: the keeper"
        else:
            state = "right: ticked" if self.picks.is_ticked(right.path) else "right: unticked (left out)"
        self.state.setText(state)

    def _load(self, path: str) -> None:
        if path in self._images:
            return

        def run(report: Any, cancel: Any) -> QImage:
            from foundation.images import load_image

            return pil_to_qimage(load_image(path))

        task = Task("compare image", run, self)
        task.finished.connect(lambda image: self._loaded(path, image))
        task.done.connect(lambda: self._tasks.remove(task) if task in self._tasks else None)
        self._tasks.append(task)
        task.start(priority=1)

    def _loaded(self, path: str, image: QImage) -> None:
        self._images[path] = image
        self._place_images()

    def loaded(self) -> bool:
        """Both images of the pair are decoded and on screen."""
        return all(self.members[i].path in self._images for i in (self.left, self.right))

    def _place_images(self) -> None:
        first = self._images.get(self.members[self.left].path)
        second = self._images.get(self.members[self.right].path)
        self.left_pane.images = [first, None]
        self.right_pane.images = [second, None]
        self.single_pane.images = [first, second]
        self.single_pane.split = self.slider.value() / 100 if self.mode == "slider" else None
        self._repaint()

    def _repaint(self) -> None:
        for pane in (self.left_pane, self.right_pane, self.single_pane):
            pane.update()

    def set_mode(self, mode: str) -> None:
        """Side by side, flicker (the two alternate in one pane) or slider (one pane, a divider)."""
        self.mode = mode
        self.mode_buttons.button(MODES.index(mode)).setChecked(True)
        self.stack.setCurrentIndex(0 if mode == "side" else 1)
        self.slider.setVisible(mode == "slider")
        self.single_pane.showing = 0
        self.single_pane.caption = "left"
        if mode == "flicker":
            self._flicker.start()
        else:
            self._flicker.stop()
        self._place_images()

    def _flip(self) -> None:
        pane = self.single_pane
        pane.showing = 1 - pane.showing if pane.images[1] is not None else 0
        pane.caption = "right" if pane.showing else "left"
        pane.update()

    def _slide(self, value: int) -> None:
        if self.mode == "slider":
            self.single_pane.split = value / 100
            self.single_pane.update()

    def step(self, offset: int) -> None:
        """Show the next (or previous) member other than the left one on the right."""
        others = [i for i in range(len(self.members)) if i != self.left]
        if not others:
            return
        position = others.index(self.right) if self.right in others else 0
        self.right = others[(position + offset) % len(others)]
        self._show_pair()

    # -- keys -----------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        right = self.members[self.right].path
        if key == Qt.Key.Key_Right:
            self.step(1)
        elif key == Qt.Key.Key_Left:
            self.step(-1)
        elif key == Qt.Key.Key_K:
            self.keeperChosen.emit(right)
            self._update_state()
        elif key == Qt.Key.Key_Space:
            self.tickToggled.emit(right)
            self._update_state()
        elif key == Qt.Key.Key_F:
            self.view.set_fit()
        elif key == Qt.Key.Key_1:
            self.view.set_one_to_one()
        elif key == Qt.Key.Key_M:
            self.set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])
        else:
            super().keyPressEvent(event)

    def done(self, result: int) -> None:
        self._flicker.stop()
        for task in list(self._tasks):
            task.cancel()
        super().done(result)
