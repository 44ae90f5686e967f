"""Preferences: where the library lives, thumbnail size, CPU threads, the device the model uses,
and how similar sets choose their keeper (keeper_settings.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from .keeper_settings import KeeperSettings
from .settings import THUMBNAIL_SIZES, AppSettings


class SettingsDialog(QDialog):
    """Writes the settings on OK; `restart_needed()` says whether the library must be reopened."""

    def __init__(
        self,
        settings: AppSettings,
        library_dir: Path | None,
        devices: list[tuple[str, str]],
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self._initial = (str(library_dir or ""), settings.device, settings.threads)

        self.location = QLineEdit(str(library_dir or ""))
        self.location.setAccessibleName("Library location")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        location_row = QHBoxLayout()
        location_row.addWidget(self.location, 1)
        location_row.addWidget(browse)

        self.thumbnail_size = QComboBox()
        self.thumbnail_size.setAccessibleName("Thumbnail size")
        for size in THUMBNAIL_SIZES:
            self.thumbnail_size.addItem(f"{size} px", size)
        self.thumbnail_size.setCurrentIndex(max(0, self.thumbnail_size.findData(settings.thumbnail_size)))

        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Automatic (one per core)")
        self.threads.setValue(settings.threads)
        self.threads.setAccessibleName("CPU threads")

        self.device = QComboBox()
        self.device.setAccessibleName("Device")
        for value, label in devices:
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))

        note = QLabel("A new location or device reopens the library.")
        note.setObjectName("muted")
        form = QFormLayout()
        form.addRow("Library location", location_row)
        form.addRow("Thumbnail size", self.thumbnail_size)
        form.addRow("CPU threads", self.threads)
        form.addRow("Run the model on", self.device)
        self.keeper = KeeperSettings(settings)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.keeper)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library location", self.location.text())
        if folder:
            self.location.setText(folder)

    def accept(self) -> None:
        text = self.location.text().strip()
        self.settings.library_dir = Path(text).expanduser() if text else None
        self.settings.thumbnail_size = int(self.thumbnail_size.currentData())
        self.settings.threads = self.threads.value()
        self.settings.device = str(self.device.currentData())
        self.keeper.save()
        self.settings.sync()
        super().accept()

    def restart_needed(self) -> bool:
        current = (str(self.settings.library_dir or ""), self.settings.device, self.settings.threads)
        return current != self._initial
