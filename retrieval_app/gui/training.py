"""The work behind the fine-tune dialog, as plain functions the dialog runs in background Tasks.

They import the trainer when called (in a worker thread), report progress through the Task's
report function, and stop when the CancelToken is set. Learning a metric is the core's
(`core.metric_learning`, through `LibraryController.learn_metric_task`), shared with the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval_app.core.progress import CancelToken, Progress

from .tasks import Report

MIN_TRAIN_CLASSES = 2  # classes that can spare held-out images (options.VAL_MIN_IMAGES + TRAIN_MIN_IMAGES)
MIN_VALIDATED_IMAGES = 4
MIN_METRIC_CLASSES = 2
METRIC_METHODS = {"lmnn": "LMNN (nearest neighbours, default)", "mmc": "MMC (similar pairs close)"}


@dataclass
class FolderSummary:
    """What a labelled folder holds, and what stands in the way of learning from it."""

    folder: str
    classes: list[tuple[str, int]]
    images: int
    skipped: list[tuple[str, str]]
    small_classes: list[str]

    def validated_classes(self) -> int:
        """Classes with enough images to hold some out and still train on the rest."""
        return sum(count >= MIN_VALIDATED_IMAGES for _, count in self.classes)

    def warnings(self, images_per_class: int) -> list[str]:
        notes = []
        if self.small_classes:
            names = ", ".join(self.small_classes[:5]) + ("…" if len(self.small_classes) > 5 else "")
            notes.append(
                f"{len(self.small_classes)} classes have fewer than 2 images and are left out: {names}."
            )
        thin = [name for name, count in self.classes if MIN_VALIDATED_IMAGES <= count < images_per_class]
        if thin:
            notes.append(
                f"{len(thin)} classes have fewer than {images_per_class} images; their images are "
                "repeated in batches. More examples per class train better."
            )
        few = [name for name, count in self.classes if count < MIN_VALIDATED_IMAGES]
        if few:
            notes.append(
                f"{len(few)} classes have fewer than {MIN_VALIDATED_IMAGES} images: they train, but "
                "none of their images can be held out to measure the result."
            )
        if self.validated_classes() < MIN_TRAIN_CLASSES:
            notes.append(
                f"Fine-tuning needs at least {MIN_TRAIN_CLASSES} classes with {MIN_VALIDATED_IMAGES} or "
                "more images: some of each class's images are held out to measure whether training helps."
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
