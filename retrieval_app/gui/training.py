"""The work behind the fine-tune dialog, as plain functions the dialog runs in background Tasks.

They import the trainer when called (in a worker thread), report progress through the Task's
report function, and stop when the CancelToken is set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval_app.core.progress import CancelToken, Progress

from .tasks import Report

if TYPE_CHECKING:
    from retrieval_app.core.library import Library

MIN_TRAIN_CLASSES = 4
MIN_METRIC_CLASSES = 2
METRIC_METHODS = {"mmc": "MMC (fast, global)", "lmnn": "LMNN (nearest neighbours)"}


@dataclass
class FolderSummary:
    """What a labelled folder holds, and what stands in the way of learning from it."""

    folder: str
    classes: list[tuple[str, int]]
    images: int
    skipped: list[tuple[str, str]]
    small_classes: list[str]

    def warnings(self, images_per_class: int) -> list[str]:
        notes = []
        if self.small_classes:
            names = ", ".join(self.small_classes[:5]) + ("…" if len(self.small_classes) > 5 else "")
            notes.append(
                f"{len(self.small_classes)} classes have fewer than 2 images and are left out: {names}."
            )
        thin = [name for name, count in self.classes if count < images_per_class]
        if thin:
            notes.append(
                f"{len(thin)} classes have fewer than {images_per_class} images; their images are "
                "repeated in batches. More examples per class train better."
            )
        if len(self.classes) < MIN_TRAIN_CLASSES:
            notes.append(
                f"Fine-tuning needs at least {MIN_TRAIN_CLASSES} classes: half of them are held out "
                "to measure whether training helps."
            )
        if self.skipped:
            notes.append(f"{len(self.skipped)} files cannot be read and are skipped.")
        return notes


def scan_folder(folder: str, report: Report, cancel: CancelToken) -> FolderSummary:
    """Classes and image counts of a labelled folder (each image is test-decoded, so it takes a moment)."""
    from trainer.data import scan_labelled_folder

    report(Progress("scanning", 0, 0, message="Reading the folder"))
    images = scan_labelled_folder(folder)
    counts = np.bincount(np.asarray(images.labels, dtype=np.int64), minlength=len(images.classes))
    return FolderSummary(
        folder=folder,
        classes=[(name, int(count)) for name, count in zip(images.classes, counts, strict=True)],
        images=len(images),
        skipped=[(str(path), reason) for path, reason in images.skipped],
        small_classes=list(images.small_classes),
    )


def run_training(settings: Any, report: Report, cancel: CancelToken) -> Any:
    """Train with `trainer.train`, forwarding steps as Progress and epochs as EpochReports."""
    from trainer.train import train

    def on_step(step: Any) -> None:
        report(
            Progress(
                "training",
                step.step,
                step.steps,
                rate=step.images_per_second,
                message=f"Epoch {step.epoch} of {settings.epochs}",
            )
        )

    Path(settings.out).parent.mkdir(parents=True, exist_ok=True)
    return train(settings, on_step=on_step, on_epoch=report, should_stop=lambda: cancel.cancelled)


@dataclass
class MetricResult:
    path: Path
    method: str
    images: int
    classes: int
    seconds: float


def learn_metric(
    library: Library, folder: str, method: str, out: Path, report: Report, cancel: CancelToken
) -> MetricResult:
    """Embed the labelled folder with the library's own model, fit a linear metric and save it."""
    from trainer.data import scan_labelled_folder
    from trainer.linear_metric import fit_metric, save_metric

    started = time.perf_counter()
    images = scan_labelled_folder(folder)
    if len(images.classes) < MIN_METRIC_CLASSES:
        raise ValueError(f"learning a metric needs at least {MIN_METRIC_CLASSES} classes")
    embedder = library.embedder
    vectors: dict[int, np.ndarray] = {}
    report(Progress("embedding", 0, len(images)))
    items = [(i, str(path)) for i, path in enumerate(images.paths)]
    for batch in embedder.embed_files(items, cancel):
        vectors.update(batch.vectors)
        report(Progress("embedding", len(vectors), len(images)))
    cancel.raise_if_cancelled()
    order = sorted(vectors)
    X = np.stack([vectors[i] for i in order]).astype(np.float64)
    y = np.asarray([images.labels[i] for i in order], dtype=np.int64)
    report(Progress("fitting", 0, 0, message=f"Fitting {method.upper()}"))
    matrix = fit_metric(method, X, y)
    info = {
        "method": method,
        "model": library.model_spec,
        "model_fingerprint": embedder.fingerprint,
        "dim": int(X.shape[1]),
        "classes": len(images.classes),
        "images": len(order),
        "folder": folder,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_metric(str(out), matrix, info)
    return MetricResult(out, method, len(order), len(images.classes), time.perf_counter() - started)
