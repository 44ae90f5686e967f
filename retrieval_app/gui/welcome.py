"""First start: what Lookalike does, and the two ways to begin (sample photos or your own folder)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .resources import app_icon, theme_icon


class WelcomePage(QWidget):
    """Shown while the library has no folders."""

    sampleRequested = Signal()
    addFolderRequested = Signal()

    def __init__(self, has_sample: bool, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Welcome to Lookalike")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        blurb = QLabel(
            "Lookalike finds the photos in your folders that look like a picture you show it: "
            "duplicates, near-duplicates and the same kind of scene. Everything stays on this computer."
        )
        blurb.setWordWrap(True)
        blurb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        blurb.setObjectName("muted")
        blurb.setMinimumWidth(260)
        blurb.setMaximumWidth(480)

        self.sample_button = QPushButton(theme_icon("folder-pictures"), "Try the sample collection")
        self.sample_button.setAccessibleName("Try the sample collection")
        self.sample_button.setVisible(has_sample)
        self.sample_button.clicked.connect(self.sampleRequested)
        self.add_button = QPushButton(
            theme_icon("folder-new"),
            "Add a folder of photos…",
        )
        self.add_button.setAccessibleName("Add a folder of photos")
        (self.sample_button if has_sample else self.add_button).setObjectName("primary")
        self.add_button.clicked.connect(self.addFolderRequested)
        for button in (self.sample_button, self.add_button):
            button.setMinimumHeight(36)
            button.setMinimumWidth(200)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.sample_button)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(icon)
        layout.addSpacing(8)
        layout.addWidget(title)
        blurb_row = QHBoxLayout()
        blurb_row.addStretch(1)
        blurb_row.addWidget(blurb, 6)
        blurb_row.addStretch(1)
        layout.addLayout(blurb_row)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        layout.addStretch(3)
