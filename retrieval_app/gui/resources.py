"""Bundled things the window shows: the app icon, theme icons with fallbacks, the sample collection."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle


def sample_folder() -> Path | None:
    """The bundled sample photos, or None when this installation has none."""
    try:
        from retrieval_app.resources import sample_collection
    except ImportError:
        return None
    try:
        folder = Path(sample_collection())
    except (OSError, ValueError):
        return None
    return folder if folder.is_dir() else None


def app_icon() -> QIcon:
    """Lookalike's own icon when installed with its resources, else a neutral standard one."""
    try:
        svg = resources.files("retrieval_app.resources").joinpath("icons", "lookalike.svg")
        if svg.is_file():
            return QIcon(str(svg))
    except (ImportError, OSError, TypeError):
        pass
    return standard_icon("", QStyle.StandardPixmap.SP_DesktopIcon)


def standard_icon(theme_name: str, fallback: QStyle.StandardPixmap) -> QIcon:
    """The desktop theme's icon by name, or Qt's built-in one where the theme has none."""
    icon = QIcon.fromTheme(theme_name) if theme_name else QIcon()
    if icon.isNull():
        icon = QApplication.style().standardIcon(fallback)
    return icon


def has_icon_theme() -> bool:
    """Whether the desktop supplies themed icons (without one, buttons read better as text only)."""
    return QIcon.hasThemeIcon("document-open")


def theme_icon(name: str) -> QIcon:
    """The theme's icon, or none at all: for push buttons, where Qt's generic pixmaps look dated."""
    return QIcon.fromTheme(name)
