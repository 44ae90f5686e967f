"""Metric, number of results and distance limit: every change asks for a new search at once."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

METRIC_LABELS = {
    "euclidean": ("Euclidean", "Straight-line distance between the image vectors (the default)."),
    "cosine": ("Cosine", "Angle between the vectors, shown as 1 − cos: same ranking as Euclidean."),
    "mahalanobis": (
        "Mahalanobis",
        "Euclidean after whitening by how this library's own photos vary; refitted as the library grows.",
    ),
    "learned": (
        "Learned",
        "Learned from your labelled examples (Fine-tune → Learn a metric); used only when it beat "
        "Euclidean on your held-out photos.",
    ),
}
SLIDER_STEPS = 1000
DEFAULT_SCALE = 2.0
MAX_K = 500


class SearchControls(QWidget):
    """`changed` fires for every edit; `params()` gives (metric, k, max_distance or None)."""

    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.metric = QComboBox()
        self.metric.setAccessibleName("Distance metric")
        self.set_metrics(tuple(METRIC_LABELS), "euclidean")
        self.k = QSpinBox()
        self.k.setRange(1, MAX_K)
        self.k.setAccessibleName("Number of results")
        self.k.setToolTip("How many similar images to show")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(SLIDER_STEPS)
        self.slider.setAccessibleName("Maximum distance")
        self.slider.setToolTip("Hide results farther than this; all the way right shows every result")
        self.limit_label = QLabel()
        self.limit_label.setMinimumWidth(44)
        self.limit_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._scale = DEFAULT_SCALE

        slider_row = QHBoxLayout()
        slider_row.setContentsMargins(0, 0, 0, 0)
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.limit_label)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Metric", self.metric)
        form.addRow("Results", self.k)
        form.addRow("Max distance", slider_row)

        self.metric.currentIndexChanged.connect(self._metric_changed)
        self.k.valueChanged.connect(self.changed)
        self.slider.valueChanged.connect(self._slider_moved)
        self._update_label()

    def set_metrics(self, metrics: tuple[str, ...], current: str) -> None:
        """The core's metrics (known once the library is open), keeping `current` selected."""
        self.metric.blockSignals(True)
        self.metric.clear()
        for name in metrics:
            label, tip = METRIC_LABELS.get(name, (name.capitalize(), ""))
            self.metric.addItem(label, name)
            self.metric.setItemData(self.metric.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.metric.setCurrentIndex(max(0, self.metric.findData(current)))
        self.metric.blockSignals(False)

    def describe_metrics(self, rows: list[dict]) -> None:
        """Add what the core knows of each metric's fit (`Library.metrics_available`): the learned
        one's held-out before/after in its label, fit dates and notes in the tooltips."""
        for row in rows:
            index = self.metric.findData(row["name"])
            if index < 0:
                continue
            label, tip = METRIC_LABELS.get(row["name"], (str(row["name"]).capitalize(), ""))
            held_out = row.get("held_out")
            if held_out and row["name"] == "learned":
                label += f" ({held_out['euclidean']:.2f} → {held_out['learned']:.2f} held-out)"
            details = [tip]
            if row.get("fitted_at"):
                details.append(f"Fitted {row['fitted_at']}.")
            if row.get("note"):
                details.append(f"{str(row['note'])[0].upper()}{str(row['note'])[1:]}.")
            self.metric.setItemText(index, label)
            self.metric.setItemData(index, " ".join(details), Qt.ItemDataRole.ToolTipRole)

    def set_values(self, metric: str, k: int) -> None:
        """Restore saved choices without emitting `changed`."""
        self.blockSignals(True)
        index = self.metric.findData(metric)
        self.metric.setCurrentIndex(max(0, index))
        self.k.setValue(k)
        self.blockSignals(False)

    def params(self) -> tuple[str, int, float | None]:
        return str(self.metric.currentData()), self.k.value(), self.max_distance()

    def max_distance(self) -> float | None:
        value = self.slider.value()
        return None if value >= SLIDER_STEPS else self._scale * value / SLIDER_STEPS

    def set_scale(self, largest: float) -> None:
        """Make the slider span 0 .. a little past the farthest result seen without a limit."""
        if self.max_distance() is None and largest > 0:
            self._scale = largest * 1.05
            self._update_label()

    def _metric_changed(self) -> None:
        """Distances of one metric mean nothing in another: the limit starts over."""
        self.slider.blockSignals(True)
        self.slider.setValue(SLIDER_STEPS)
        self.slider.blockSignals(False)
        self._scale = DEFAULT_SCALE
        self._update_label()
        self.changed.emit()

    def _slider_moved(self) -> None:
        self._update_label()
        self.changed.emit()

    def _update_label(self) -> None:
        limit = self.max_distance()
        self.limit_label.setText("any" if limit is None else f"≤ {limit:.2f}")
