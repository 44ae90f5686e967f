"""Lookalike's look: Fusion with a calm light (or dark, following the desktop) palette and a little QSS."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

LIGHT = {
    QPalette.ColorRole.Window: "#f4f5f7",
    QPalette.ColorRole.WindowText: "#1f2328",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f0f2f5",
    QPalette.ColorRole.Text: "#1f2328",
    QPalette.ColorRole.PlaceholderText: "#6b7280",
    QPalette.ColorRole.Button: "#ffffff",
    QPalette.ColorRole.ButtonText: "#1f2328",
    QPalette.ColorRole.Highlight: "#2f6fde",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Mid: "#cfd4dc",
    QPalette.ColorRole.Midlight: "#e4e7ec",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1f2328",
    QPalette.ColorRole.Link: "#2f6fde",
}
DARK = {
    QPalette.ColorRole.Window: "#1f2227",
    QPalette.ColorRole.WindowText: "#e6e8eb",
    QPalette.ColorRole.Base: "#17191d",
    QPalette.ColorRole.AlternateBase: "#262a30",
    QPalette.ColorRole.Text: "#e6e8eb",
    QPalette.ColorRole.PlaceholderText: "#9aa3ad",
    QPalette.ColorRole.Button: "#2a2e35",
    QPalette.ColorRole.ButtonText: "#e6e8eb",
    QPalette.ColorRole.Highlight: "#4c86f0",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Mid: "#3a3f47",
    QPalette.ColorRole.Midlight: "#30343b",
    QPalette.ColorRole.ToolTipBase: "#2a2e35",
    QPalette.ColorRole.ToolTipText: "#e6e8eb",
    QPalette.ColorRole.Link: "#7aa7f5",
}

STYLE_SHEET = """
#sidebar { background: palette(window); }
#resultsArea, #welcome { background: palette(base); }
QSplitter::handle { background: palette(midlight); width: 1px; }
QToolBar#mainToolbar {
    background: palette(window); border: none; border-bottom: 1px solid palette(midlight);
    spacing: 4px; padding: 4px 8px;
}
QToolBar#mainToolbar QToolButton { padding: 4px 8px; border-radius: 6px; }
QToolBar#mainToolbar QToolButton:hover { background: palette(midlight); }
QLabel#sectionTitle {
    color: palette(placeholder-text); font-size: 8.5pt; font-weight: 600; letter-spacing: 0.6px;
    padding-top: 2px;
}
QLabel#muted, QLabel#progressDetail { color: palette(placeholder-text); }
QLabel#queryName { font-weight: 600; }
QLabel#resultsTitle { font-size: 11pt; font-weight: 600; padding: 4px 2px; }
QLabel#queryPreview {
    background: palette(base); border: 1px solid palette(midlight); border-radius: 10px; padding: 6px;
}
QLabel#queryPreview[empty="true"] {
    border: 2px dashed palette(mid); color: palette(placeholder-text); background: palette(alternate-base);
}
QFrame#messageBar { border: none; border-bottom: 1px solid palette(midlight); }
QFrame#messageBar[kind="error"] { background: rgba(220, 53, 69, 0.13); }
QFrame#messageBar[kind="info"] { background: rgba(47, 111, 222, 0.12); }
QProgressBar { border: none; border-radius: 4px; background: palette(midlight); }
QProgressBar::chunk { border-radius: 4px; background: palette(highlight); }
QTreeView, QTableView { border: 1px solid palette(midlight); border-radius: 6px; background: palette(base); }
QPushButton { padding: 5px 12px; }
QPushButton#primary {
    background: palette(highlight); color: palette(highlighted-text); border: 1px solid palette(highlight);
    border-radius: 4px; font-weight: 600;
}
QPushButton#primary:hover { background: palette(link); }
QPushButton#primary:disabled { background: palette(midlight); color: palette(placeholder-text); border-color: palette(mid); }
QStatusBar { border-top: 1px solid palette(midlight); }
"""


def apply_style(app: QApplication) -> None:
    """Fusion everywhere, so the app looks the same on every desktop; dark when the desktop is dark."""
    app.setStyle("Fusion")
    dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    palette = QPalette()
    for role, colour in (DARK if dark else LIGHT).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor(DARK[QPalette.ColorRole.PlaceholderText] if dark else "#a0a6b0")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
