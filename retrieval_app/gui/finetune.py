"""Fine-tune dialog: pick a labelled folder, train the network (live plot) or learn a linear metric.

Training and metric learning run as background Tasks; the dialog stays responsive, can stop
them, and ends by offering the result to the library (re-embedding runs in the main window).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from retrieval_app.core.metric_learning import DEFAULT_METHOD, LearnedMetric, metric_path
from retrieval_app.core.progress import Progress

from .controller import LibraryController
from .formatting import format_duration, plural
from .settings import AppSettings
from .tasks import Task
from .training import (
    METRIC_METHODS,
    MIN_METRIC_CLASSES,
    MIN_TRAIN_CLASSES,
    FolderSummary,
    run_training,
    scan_folder,
)
from .training_chart import TrainingChart

LOSS_LABELS = {
    "margin": "Margin (Wu et al.)",
    "triplet": "Triplet",
    "contrastive": "Contrastive",
}
SAMPLING_LABELS = {
    "distance": "Distance-weighted",
    "semihard": "Semi-hard negatives",
    "hardest": "Hardest negatives",
    "random": "Random",
}
IMAGES_PER_CLASS = 4


def _combo(items: dict[str, str], current: str, name: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    for value, label in items.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


def _free_path(path: Path) -> Path:
    """`path`, or `name-2.ext`, `name-3.ext`… when it exists already."""
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "labelled"


class FineTuneDialog(QDialog):
    """Teach Lookalike what "similar" means from a folder with one sub-folder per class."""

    scanned = Signal(object)
    trainingEnded = Signal(object)
    metricEnded = Signal(object)

    def __init__(self, controller: LibraryController, settings: AppSettings, parent: Any = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.summary: FolderSummary | None = None
        self.result: Any = None
        self.metric_result: Any = None
        self._task: Task | None = None
        self._close_when_done = False
        self.setWindowTitle("Fine-tune Lookalike")
        self.resize(1020, 720)
        self._build()
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.folder = QLineEdit()
        self.folder.setReadOnly(True)
        self.folder.setPlaceholderText("A folder with one sub-folder of example images per class")
        self.folder.setAccessibleName("Labelled folder")
        choose = QPushButton("Choose…")
        choose.setAccessibleName("Choose the labelled folder")
        choose.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Labelled folder"))
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(choose)

        self.classes = QTreeWidget()
        self.classes.setHeaderLabels(["Class", "Images"])
        self.classes.setRootIsDecorated(False)
        self.classes.setAlternatingRowColors(True)
        self.classes.setAccessibleName("Classes in the labelled folder")
        self.classes.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.classes.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.folder_summary = QLabel("Choose a folder to see its classes.")
        self.folder_summary.setObjectName("muted")
        self.folder_summary.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b45309;")
        left = QVBoxLayout()
        left.addWidget(self.classes, 1)
        left.addWidget(self.folder_summary)
        left.addWidget(self.warnings)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMaximumWidth(330)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_training_tab(), "Fine-tune the network")
        self.tabs.addTab(self._build_metric_tab(), "Learn a metric (seconds)")

        body = QHBoxLayout()
        body.addWidget(left_widget)
        body.addWidget(self.tabs, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(folder_row)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

    def _build_training_tab(self) -> QWidget:
        from trainer.options import BACKBONE_NAMES, DEFAULT_BACKBONE, LOSSES, SAMPLINGS

        info = self.controller.info
        current = info.model if info else DEFAULT_BACKBONE
        self.backbone = _combo(
            {name: name for name in BACKBONE_NAMES},
            current if current in BACKBONE_NAMES else DEFAULT_BACKBONE,
            "Backbone",
        )
        self.loss = _combo({k: LOSS_LABELS.get(k, k) for k in LOSSES}, "margin", "Loss")
        self.sampling = _combo({k: SAMPLING_LABELS.get(k, k) for k in SAMPLINGS}, "distance", "Sampling")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(10)
        self.epochs.setAccessibleName("Epochs")
        self.image_size = QSpinBox()
        self.image_size.setRange(32, 512)
        self.image_size.setSingleStep(32)
        self.image_size.setValue(224)
        self.image_size.setSuffix(" px")
        self.image_size.setAccessibleName("Image size")
        devices = info.devices if info else [("auto", "Automatic"), ("cpu", "CPU")]
        self.device = _combo(dict(devices), self.settings.device, "Device")
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.setObjectName("primary")
        self.train_button.setAccessibleName("Start training")
        self.train_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop training")
        self.stop_button.clicked.connect(self._stop)
        self.use_button = QPushButton("Use this model for the library")
        self.use_button.setAccessibleName("Use the trained model for the library")
        self.use_button.clicked.connect(self.use_model)

        self.chart = TrainingChart()
        self.train_status = QLabel("Training shows its progress here, epoch by epoch.")
        self.train_status.setWordWrap(True)
        self.train_progress = QProgressBar()
        self.train_progress.setTextVisible(False)
        self.train_progress.setFixedHeight(8)
        self.train_progress.setAccessibleName("Training progress")

        form = QGridLayout()
        form.setHorizontalSpacing(14)
        rows = (
            ("Backbone", self.backbone),
            ("Loss", self.loss),
            ("Sampling", self.sampling),
            ("Epochs", self.epochs),
            ("Image size", self.image_size),
            ("Device", self.device),
        )
        for i, (label, widget) in enumerate(rows):
            form.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            form.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.train_status)
        layout.addWidget(self.train_progress)
        layout.addLayout(buttons)
        return tab

    def _build_metric_tab(self) -> QWidget:
        intro = QLabel(
            "Learns a linear (Mahalanobis) metric from your classes on top of the library's current "
            "model, in seconds to a minute on the CPU. Some photos of each class are held out to "
            "check it: only when it finds them better than Euclidean does the search use it as the "
            "“Learned” metric. The library keeps its images."
        )
        intro.setWordWrap(True)
        self.method = _combo(METRIC_METHODS, DEFAULT_METHOD, "Metric learning method")
        self.learn_button = QPushButton("Learn metric")
        self.learn_button.setAccessibleName("Learn a metric")
        self.learn_button.setObjectName("primary")
        self.learn_button.clicked.connect(self.start_metric_learning)
        self.metric_status = QLabel()
        self.metric_status.setWordWrap(True)
        self.metric_progress = QProgressBar()
        self.metric_progress.setTextVisible(False)
        self.metric_progress.setFixedHeight(8)
        self.metric_progress.hide()
        form = QFormLayout()
        form.addRow("Method", self.method)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.learn_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.metric_progress)
        layout.addWidget(self.metric_status)
        layout.addStretch(1)
        return tab

    # -- the labelled folder ------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a labelled folder", self.folder.text())
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str) -> None:
        """Scan the folder in the background; `scanned` follows (with the summary, or None)."""
        self.folder.setText(folder)
        self.summary = None
        self.classes.clear()
        self.warnings.clear()
        self.folder_summary.setText("Reading the folder…")
        task = Task("scan", lambda report, cancel: scan_folder(folder, report, cancel))
        task.finished.connect(self._scanned)
        task.failed.connect(self._scan_failed)
        self._run(task)

    def _scanned(self, summary: FolderSummary) -> None:
        self.summary = summary
        for name, count in summary.classes:
            item = QTreeWidgetItem([name, f"{count:,}"])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.classes.addTopLevelItem(item)
        self.folder_summary.setText(
            f"{plural(len(summary.classes), 'class')} · {plural(summary.images, 'image')}"
        )
        self.warnings.setText("\n".join(summary.warnings(IMAGES_PER_CLASS)))
        self._update_buttons()
        self.scanned.emit(summary)

    def _scan_failed(self, message: str) -> None:
        self.folder_summary.setText("")
        self.warnings.setText(message)
        self._update_buttons()
        self.scanned.emit(None)

    # -- training -----------------------------------------------------------------------
    def training_settings(self) -> Any:
        from trainer.options import TrainSettings

        backbone = str(self.backbone.currentData())
        folder = self.folder.text()
        root = self.controller.info.root if self.controller.info else Path.home()
        out = _free_path(root / "models" / f"{_slug(Path(folder).name)}-{backbone}.safetensors")
        device = str(self.device.currentData())
        on_cpu = device == "cpu" or not any(value.startswith("cuda") for value, _ in self._devices())
        return TrainSettings(
            folder=folder,
            out=str(out),
            backbone=backbone,
            loss=str(self.loss.currentData()),
            sampling=str(self.sampling.currentData()),
            epochs=self.epochs.value(),
            image_size=self.image_size.value(),
            images_per_class=IMAGES_PER_CLASS,
            device=device,
            workers=0 if on_cpu else None,  # no worker processes forked from the GUI on the CPU
        )

    def _devices(self) -> list[tuple[str, str]]:
        return self.controller.info.devices if self.controller.info else []

    def start_training(self) -> None:
        if self.summary is None:
            return
        settings = self.training_settings()
        self.result = None
        self.chart.reset(settings.epochs)
        self.train_status.setText(f"Preparing: {Path(settings.out).name} on {self.device.currentText()}…")
        self.train_progress.setRange(0, 0)
        task = Task("train", lambda report, cancel: run_training(settings, report, cancel))
        task.progressed.connect(self._training_progress)
        task.finished.connect(self._training_done)
        task.cancelled.connect(self._training_done)
        task.failed.connect(self._training_failed)
        self._run(task)

    def _training_progress(self, item: Any) -> None:
        if isinstance(item, Progress):
            self.train_progress.setRange(0, 100)
            self.train_progress.setValue(round(100 * item.fraction))
            return
        self.chart.add_epoch(item.epoch, item.loss, item.recall_at_1, item.is_best)
        if item.epoch == 0:
            self.train_status.setText(f"Before training: held-out Recall@1 {item.recall_at_1:.3f}. Training…")
            return
        parts = [f"Epoch {item.epoch} of {item.epochs}"]
        if item.loss is not None:
            parts.append(f"loss {item.loss:.3f}")
        parts.append(f"Recall@1 {item.recall_at_1:.3f}" + (" (best)" if item.is_best else ""))
        if item.images_per_second:
            parts.append(f"{item.images_per_second:.0f} images/s")
        self.train_status.setText(" · ".join(parts))

    def _training_done(self, result: Any) -> None:
        self.result = result
        self.train_progress.setRange(0, 100)
        self.train_progress.setValue(100 if result is not None and not result.cancelled else 0)
        if result is None:
            self.train_status.setText("Training stopped before anything was saved.")
        else:
            head = (
                f"Stopped after epoch {result.epochs_completed}."
                if result.cancelled
                else f"Done in {format_duration(result.seconds)}."
            )
            kept = (
                "Training did not beat the starting model on them, so the start is kept."
                if result.best_epoch == 0
                else f"Best epoch {result.best_epoch}."
            )
            notes = [note for note in result.data.get("notes", []) if "too few to hold some out" in note]
            lines = [f"{head} {result.payoff()}.", kept, *notes, f"Saved as {Path(result.out).name}."]
            self.train_status.setText(" ".join(lines))
        self._update_buttons()
        self.trainingEnded.emit(result)

    def _training_failed(self, message: str) -> None:
        self.train_progress.setRange(0, 100)
        self.train_progress.setValue(0)
        self.train_status.setText(f"Training failed: {message}")
        self._update_buttons()
        self.trainingEnded.emit(None)

    def use_model(self) -> None:
        """Hand the trained checkpoint to the library (it re-embeds in the background) and close."""
        if self.result is None or not Path(self.result.out).is_file():
            return
        spec = str(self.result.out)
        self.settings.remember_model(spec)
        self.controller.switch_model(spec)
        self.accept()

    # -- metric learning ----------------------------------------------------------------
    def start_metric_learning(self) -> None:
        library = self.controller.library
        if self.summary is None or library is None or self.controller.info is None:
            return
        folder = self.folder.text()
        method = str(self.method.currentData())
        out = metric_path(self.controller.info.root, folder, method)
        self.metric_status.setText(f"Embedding the examples with {Path(library.model_spec).name}…")
        self.metric_progress.show()
        self.metric_progress.setRange(0, 0)
        task = self.controller.learn_metric_task(folder, method, out)
        task.progressed.connect(self._metric_progress)
        task.finished.connect(self._metric_learned)
        task.failed.connect(self._metric_failed)
        task.cancelled.connect(lambda _r: self._metric_failed("Stopped."))
        self._run(task)

    def _metric_progress(self, progress: Progress) -> None:
        if progress.total > 0:
            self.metric_progress.setRange(0, 100)
            self.metric_progress.setValue(round(100 * progress.fraction))
        else:
            self.metric_progress.setRange(0, 0)
            self.metric_status.setText(progress.message or self.metric_status.text())

    def _metric_learned(self, result: LearnedMetric) -> None:
        """Say how it did on the held-out photos; only a metric that beat Euclidean is used."""
        self.metric_result = result
        self.metric_progress.hide()
        head = (
            f"{result.method.upper()} learned from {plural(result.images, 'image')} in "
            f"{plural(result.classes, 'class')} in {format_duration(result.seconds)}."
        )
        verdict = result.held_out.verdict()
        if result.held_out.better:
            self.metric_status.setText(
                f"{head} {verdict[0].upper()}{verdict[1:]}. The search now uses it as the “Learned” metric."
            )
            self.controller.use_learned_metric(str(result.path))
        else:
            self.metric_status.setText(
                f"{head} {verdict[0].upper()}{verdict[1:]}, so the search keeps its current metric."
            )
        self._update_buttons()
        self.metricEnded.emit(result)

    def _metric_failed(self, message: str) -> None:
        self.metric_progress.hide()
        self.metric_status.setText(f"No metric learned: {message}")
        self._update_buttons()
        self.metricEnded.emit(None)

    # -- running and closing ------------------------------------------------------------
    def _run(self, task: Task) -> None:
        self._task = task
        task.settled.connect(self._task_settled)
        self._update_buttons()
        task.start()

    def _task_settled(self) -> None:
        """Runs before the outcome's handler, which then updates the buttons with its result."""
        self._task = None
        if self._close_when_done:
            super().reject()

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.train_status.setText("Stopping after this step…")

    def _update_buttons(self) -> None:
        classes = len(self.summary.classes) if self.summary else 0
        idle = self._task is None
        validated = self.summary.validated_classes() if self.summary else 0
        self.train_button.setEnabled(idle and validated >= MIN_TRAIN_CLASSES)
        self.learn_button.setEnabled(idle and classes >= MIN_METRIC_CLASSES and self.controller.is_open)
        self.stop_button.setEnabled(not idle and self._task.name == "train")
        usable = self.result is not None and Path(self.result.out).is_file()
        self.use_button.setEnabled(idle and usable)
        for widget in (self.backbone, self.loss, self.sampling, self.epochs, self.image_size, self.device):
            widget.setEnabled(idle)

    def reject(self) -> None:
        """Closing while training asks first, then stops the run and closes when it has ended."""
        if self._task is None:
            super().reject()
            return
        answer = QMessageBox.question(self, "Stop training", "Stop the running job and close?")
        if answer == QMessageBox.StandardButton.Yes:
            self._close_when_done = True
            self._task.cancel()

    def closeEvent(self, event: Any) -> None:
        if self._task is not None:
            event.ignore()
            self.reject()
        else:
            super().closeEvent(event)
