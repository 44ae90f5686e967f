"""Image preprocessing shared by training, evaluation and the app's indexer."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from .model import ModelConfig


def eval_transform(config: ModelConfig) -> v2.Compose:
    """Shorter side to `image_size`, centre crop, normalise: the view used for embedding."""
    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(config.image_size, antialias=True),
            v2.CenterCrop(config.image_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(config.mean, config.std),
        ]
    )


def train_transform(config: ModelConfig, min_scale: float = 0.35, flip: bool = True) -> v2.Compose:
    """Random resized crop covering at least `min_scale` of the image, and an optional horizontal flip."""
    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.RandomResizedCrop(config.image_size, scale=(min_scale, 1.0), antialias=True),
            *([v2.RandomHorizontalFlip()] if flip else []),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(config.mean, config.std),
        ]
    )
