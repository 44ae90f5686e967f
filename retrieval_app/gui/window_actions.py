"""The main window's commands: one QAction each, shared by the menus, the toolbar and the shortcuts."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle, QToolBar, QWidget

from .resources import standard_icon

Key = QKeySequence.StandardKey
Pixmap = QStyle.StandardPixmap


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    handler: str
    """Name of the window method the action triggers."""
    shortcut: str | QKeySequence.StandardKey | None = None
    icon: tuple[str, QStyle.StandardPixmap] | None = None
    """Theme icon name and the built-in fallback."""
    tip: str = ""


ACTIONS = (
    ActionSpec(
        "open",
        "&Open Image…",
        "choose_query",
        Key.Open,
        ("document-open", Pixmap.SP_DialogOpenButton),
        "Search with an image file",
    ),
    ActionSpec(
        "paste",
        "&Paste Image",
        "paste",
        Key.Paste,
        ("edit-paste", Pixmap.SP_FileDialogDetailedView),
        "Search with the image on the clipboard",
    ),
    ActionSpec(
        "export",
        "&Export Results…",
        "export_results",
        "Ctrl+E",
        ("document-save-as", Pixmap.SP_DialogSaveButton),
        "Copy or link the results on screen into a folder",
    ),
    ActionSpec(
        "add_folder",
        "&Add Folder…",
        "choose_folder",
        "Ctrl+Shift+O",
        ("folder-new", Pixmap.SP_FileDialogNewFolder),
        "Add a folder of photos to the library",
    ),
    ActionSpec("sample", "Add &Sample Collection", "add_sample", tip="Add the bundled sample photos"),
    ActionSpec(
        "rescan",
        "&Rescan Folders",
        "rescan",
        Key.Refresh,
        ("view-refresh", Pixmap.SP_BrowserReload),
        "Look for new or changed photos",
    ),
    ActionSpec("skipped", "S&kipped Files…", "show_skipped", tip="Files that could not be indexed, and why"),
    ActionSpec(
        "cancel", "&Cancel", "cancel", "Esc", ("process-stop", Pixmap.SP_BrowserStop), "Stop the running job"
    ),
    ActionSpec(
        "finetune",
        "&Fine-tune…",
        "show_finetune",
        "Ctrl+T",
        ("system-run", Pixmap.SP_ComputerIcon),
        "Teach Lookalike what similar means to you",
    ),
    ActionSpec(
        "settings",
        "&Settings…",
        "show_settings",
        "Ctrl+,",
        ("preferences-system", Pixmap.SP_FileDialogInfoView),
    ),
    ActionSpec(
        "results_tab",
        "Search &Results",
        "show_search_results",
        "Ctrl+1",
        tip="Show the images similar to the query",
    ),
    ActionSpec(
        "sets_tab",
        "Similar &Sets",
        "show_similar_sets",
        "Ctrl+2",
        tip="Sets of similar images across the library, to review and export",
    ),
    ActionSpec("quit", "&Quit", "close", Key.Quit),
    ActionSpec("about", "&About Lookalike", "show_about"),
)

MENUS = {
    "&File": ("open", "paste", "export", None, "settings", None, "quit"),
    "&View": ("results_tab", "sets_tab"),
    "&Library": ("add_folder", "sample", "rescan", "skipped", None, "cancel"),
    "&Model": ("finetune",),
    "&Help": ("about",),
}
TOOLBAR = ("open", "paste", None, "add_folder", "rescan", None, "finetune", "export")


def create_actions(window: QWidget) -> dict[str, QAction]:
    """Every action, connected to its window method and added to the window (so shortcuts work)."""
    actions = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.icon is not None:
            action.setIcon(standard_icon(*spec.icon))
        if spec.tip:
            action.setToolTip(spec.tip)
            action.setStatusTip(spec.tip)
        action.triggered.connect(getattr(window, spec.handler))
        window.addAction(action)
        actions[spec.name] = action
    return actions


def fill(container: QMenu | QToolBar, actions: dict[str, QAction], names: tuple[str | None, ...]) -> None:
    """Add the named actions in order; None is a separator."""
    for name in names:
        if name is None:
            container.addSeparator()
        else:
            container.addAction(actions[name])
