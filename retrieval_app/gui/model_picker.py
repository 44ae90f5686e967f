"""Which network embeds the library: the default, another torchvision backbone, or a trained checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog

OTHER = "__other__"
DEFAULT_MODEL = "efficientnet-lite0"


def model_label(spec: str) -> str:
    """A backbone's name, or a checkpoint's file name marked as trained."""
    if spec.endswith(".safetensors"):
        return f"{Path(spec).stem} (trained)"
    if spec == DEFAULT_MODEL:
        return f"{spec} (default)"
    return spec


class ModelPicker(QComboBox):
    """Emits `modelChosen(spec)` when the person picks a different model (or a checkpoint file)."""

    modelChosen = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Model")
        self.setToolTip("The network that turns images into vectors; changing it re-indexes the library")
        self._current = ""
        self.activated.connect(self._activated)

    def set_models(self, backbones: list[str], checkpoints: list[str], current: str) -> None:
        """Fill the list (backbones, then trained checkpoints, then "Other checkpoint…")."""
        self.blockSignals(True)
        self.clear()
        for name in backbones:
            self.addItem(model_label(name), name)
        known = [c for c in dict.fromkeys(checkpoints) if Path(c).is_file()]
        if current and current not in backbones and current not in known:
            known.insert(0, current)
        if known:
            self.insertSeparator(self.count())
            for spec in known:
                self.addItem(model_label(spec), spec)
                self.setItemData(self.count() - 1, spec, Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem("Other checkpoint…", OTHER)
        self.blockSignals(False)
        self.set_current(current)

    def set_current(self, spec: str) -> None:
        """Select `spec` without emitting (also used to undo a choice the person declined)."""
        self._current = spec
        index = self.findData(spec)
        if index < 0 and spec:
            self.insertItem(0, model_label(spec), spec)
            index = 0
        self.blockSignals(True)
        self.setCurrentIndex(index)
        self.blockSignals(False)

    def current_spec(self) -> str:
        return self._current

    def _activated(self, index: int) -> None:
        spec = self.itemData(index)
        if spec == OTHER:
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a trained model", "", "Lookalike checkpoints (*.safetensors)"
            )
            if not path:
                self.set_current(self._current)
                return
            spec = path
        if spec and spec != self._current:
            self.modelChosen.emit(str(spec))
