"""Live plot of a training run: loss and held-out Recall@1 per epoch (QtCharts)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QScatterSeries, QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter, QPen

LOSS_COLOUR = "#d9822b"
RECALL_COLOUR = "#2f6fde"


class TrainingChart(QChartView):
    """Loss on the left axis (from epoch 1), Recall@1 on the right (0 to 1, from the untrained epoch 0)."""

    def __init__(self, parent: Any = None) -> None:
        chart = QChart()
        chart.setBackgroundRoundness(6)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(220)
        self.setAccessibleName("Training progress chart")

        self.loss = QLineSeries()
        self.loss.setName("Training loss")
        self.loss.setPen(QPen(QColor(LOSS_COLOUR), 2))
        self.recall = QLineSeries()
        self.recall.setName("Held-out Recall@1")
        self.recall.setPen(QPen(QColor(RECALL_COLOUR), 2))
        self.best = QScatterSeries()
        self.best.setName("Best so far")
        self.best.setMarkerSize(10)
        self.best.setColor(QColor(RECALL_COLOUR))
        self.best.setBorderColor(QColor("white"))
        for series in (self.loss, self.recall, self.best):
            chart.addSeries(series)

        self.epoch_axis = QValueAxis()
        self.epoch_axis.setTitleText("Epoch")
        self.epoch_axis.setLabelFormat("%d")
        self.loss_axis = QValueAxis()
        self.loss_axis.setTitleText("Loss")
        self.loss_axis.setLabelFormat("%.2f")
        self.loss_axis.setTickCount(6)
        self.recall_axis = QValueAxis()
        self.recall_axis.setTitleText("Recall@1")
        self.recall_axis.setRange(0.0, 1.0)
        self.recall_axis.setLabelFormat("%.1f")
        self.recall_axis.setTickCount(6)
        chart.addAxis(self.epoch_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.loss_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self.recall_axis, Qt.AlignmentFlag.AlignRight)
        for series, axis in (
            (self.loss, self.loss_axis),
            (self.recall, self.recall_axis),
            (self.best, self.recall_axis),
        ):
            series.attachAxis(self.epoch_axis)
            series.attachAxis(axis)
        self.reset(10)

    def reset(self, epochs: int) -> None:
        for series in (self.loss, self.recall, self.best):
            series.clear()
        self.epoch_axis.setRange(0, max(1, epochs))
        self.epoch_axis.setTickCount(min(max(2, epochs + 1), 11))
        self.loss_axis.setRange(0.0, 1.0)

    def add_epoch(self, epoch: int, loss: float | None, recall_at_1: float, is_best: bool) -> None:
        """One point per series; the loss axis grows to fit, the best epoch is marked."""
        if loss is not None:
            self.loss.append(epoch, loss)
            top = max(point.y() for point in self.loss.points())
            self.loss_axis.setRange(0.0, max(0.1, top * 1.15))
        self.recall.append(epoch, recall_at_1)
        if is_best:
            self.best.clear()
            self.best.append(epoch, recall_at_1)

    def points(self) -> dict[str, list[tuple[float, float]]]:
        return {
            "loss": [(p.x(), p.y()) for p in self.loss.points()],
            "recall": [(p.x(), p.y()) for p in self.recall.points()],
        }
