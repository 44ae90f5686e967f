"""Settings for a CPU-sized training run, shared by the trainer tests."""

from __future__ import annotations

from pathlib import Path

from trainer.options import TrainSettings


def tiny(folder: Path, out: Path, **overrides) -> TrainSettings:
    """A CPU-sized run: small random-init backbone, small images, few steps."""
    values = dict(
        folder=str(folder),
        out=str(out),
        backbone="mobilenet_v3_small",
        pretrained=False,
        embedding_dim=16,
        image_size=32,
        epochs=2,
        classes_per_batch=3,
        images_per_class=3,
        batches_per_epoch=3,
        device="cpu",
        workers=0,
        seed=7,
    )
    values.update(overrides)
    return TrainSettings(**values)
