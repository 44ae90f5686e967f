"""The trainer's choices and defaults as plain values, importable without torch.

Command lines and dialogs build their options from these, so `lookalike --help` and the
GUI's first window do not wait for torch to load.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BACKBONE = "efficientnet-lite0"
BACKBONE_NAMES = (
    DEFAULT_BACKBONE,
    "resnet18",
    "resnet34",
    "resnet50",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "convnext_tiny",
)
DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
LOSSES = ("contrastive", "triplet", "margin")
SAMPLINGS = ("random", "semihard", "hardest", "distance")
SELECT_METRICS = ("map@r", "recall@1")
# "pca": the pooled features' principal axes; "lda": those axes whitened by the training images'
# shrunk within-class scatter, so the start already separates the labelled classes (experiment P21)
HEAD_INITS = ("lda", "pca")
# "images": hold out other photos of every class (the person's case: their categories, new photos);
# "classes": hold out whole classes (generality beyond the labelled categories)
VAL_SPLITS = ("images", "classes")
# a class is validated when it can spare VAL_MIN_IMAGES and keep TRAIN_MIN_IMAGES; smaller ones train only
VAL_MIN_IMAGES = 2
TRAIN_MIN_IMAGES = 2
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"})
# sizes beyond these only ask for tens of GB and crash: refused before anything is allocated
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024  # input pixels per side
MAX_EMBEDDING_DIM = 8192  # the widest backbone feature is 2048


def image_size_arg(text: str) -> int:
    """argparse type of `--image-size`: an integer from MIN_IMAGE_SIZE to MAX_IMAGE_SIZE."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not MIN_IMAGE_SIZE <= value <= MAX_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels, not {value}"
        )
    return value


def ensemble_alpha_arg(text: str) -> float:
    """argparse type of `--ensemble-alpha`: a number from 0 (the start) to 1 (as trained)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {value}")
    return value


def is_checkpoint_spec(spec: str) -> bool:
    """True when a model spec names a file rather than a backbone."""
    return spec.endswith(".safetensors") or os.sep in spec or Path(spec).suffix in PICKLE_SUFFIXES


@dataclass
class TrainSettings:
    """Everything a training run depends on; the CLI flags map one to one onto these fields."""

    folder: str
    out: str = "model.safetensors"
    backbone: str = DEFAULT_BACKBONE
    pretrained: bool = True
    embedding_dim: int | None = 256  # experiment P15: 128 lost Caltech-101 generality
    image_size: int = 224
    loss: str = "margin"
    sampling: str = "distance"
    epochs: int = 10
    classes_per_batch: int = 8
    images_per_class: int = 4
    batches_per_epoch: int | None = None
    lr: float = 1e-3
    backbone_lr_factor: float = 0.3
    beta_lr: float = 1e-3
    class_beta: bool = True
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    head_warmup_fraction: float = 0.0  # the first steps train the head only (backbone LR 0)
    max_grad_norm: float = 10.0
    crop_scale: float = 0.7
    flip: bool = True
    frozen_bn: bool = True
    freeze_stem: bool = True  # a pretrained stem keeps its weights (experiment P48)
    amp: bool = True
    device: str = "auto"
    seed: int = 0
    workers: int | None = None
    val_folder: str | None = None
    val_split: str = "images"
    val_fraction: float = 0.2
    train_class_fraction: float = 0.5
    resume: str | None = None
    select_metric: str = "map@r"
    pooled_start: bool = True
    head_init: str = "lda"  # experiment P21: the PCA start retrieved the labelled classes worse
    head_shrinkage: float = 0.3  # of the within-class scatter toward its mean variance (lda only)
    ensemble_alpha: float = 0.75  # kept: start + α (trained − start), WiSE-FT; 1 = as trained
    eval_batch_size: int = 64
