"""Progress of the running background job: bar, what is happening, rate, time left, Cancel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QStyle, QToolButton, QVBoxLayout, QWidget

from retrieval_app.core.progress import Progress

from .formatting import describe_progress
from .resources import standard_icon

STAGE_NAMES = {
    "scanning": "Looking for photos",
    "embedding": "Indexing",
    "opening": "Opening library",
    "loading model": "Loading model",
    "tuning search": "Tuning search",
}


class ProgressPanel(QWidget):
    """Hidden while idle; shown with a determinate or busy bar while a job reports progress."""

    cancelRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("progressTitle")
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setAccessibleName("Indexing progress")
        self.detail = QLabel()
        self.detail.setObjectName("progressDetail")
        self.cancel = QToolButton()
        self.cancel.setIcon(standard_icon("process-stop", QStyle.StandardPixmap.SP_DialogCancelButton))
        self.cancel.setToolTip("Cancel (Esc)")
        self.cancel.setAccessibleName("Cancel the running job")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(self.cancelRequested)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)
        self.hide()

    def start(self, title: str, cancellable: bool = True) -> None:
        self.title.setText(title)
        self.detail.setText("")
        self.bar.setRange(0, 0)
        self.cancel.setVisible(cancellable)
        self.show()

    def update_progress(self, progress: Progress) -> None:
        if progress.total > 0:
            self.bar.setRange(0, 100)
            self.bar.setValue(round(100 * progress.fraction))
        else:
            self.bar.setRange(0, 0)
        self.title.setText(STAGE_NAMES.get(progress.stage, progress.stage.capitalize()))
        self.detail.setText(describe_progress(progress))

    def finish(self) -> None:
        self.hide()
