"""The left column: query, search controls, model and folders, scrolling only on very small screens."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from .folders import FoldersPanel
from .model_picker import ModelPicker
from .query_panel import QueryPanel
from .search_controls import SearchControls

LEFT_WIDTH = 330


def _section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("sectionTitle")
    return label


class Sidebar(QScrollArea):
    """Holds the panels; the window connects to them directly."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.query_panel = QueryPanel()
        self.controls = SearchControls()
        self.model_picker = ModelPicker()
        self.folders = FoldersPanel()

        content = QWidget()
        content.setObjectName("sidebar")
        column = QVBoxLayout(content)
        column.setContentsMargins(14, 12, 14, 12)
        column.setSpacing(8)
        for title, panel, stretch in (
            ("Query", self.query_panel, 0),
            ("Search", self.controls, 0),
            ("Model", self.model_picker, 0),
            ("Folders", self.folders, 1),
        ):
            if column.count():
                column.addSpacing(6)
            column.addWidget(_section(title))
            column.addWidget(panel, stretch)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(LEFT_WIDTH - 40)
