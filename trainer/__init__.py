"""Lookalike's trainer: deep metric learning for the embedding network, independent of the app."""

from .checkpoint import CheckpointError, load_model, model_fingerprint, save_checkpoint
from .model import EmbeddingNet, ModelConfig, build_model

__all__ = [
    "CheckpointError",
    "EmbeddingNet",
    "ModelConfig",
    "build_model",
    "load_model",
    "model_fingerprint",
    "save_checkpoint",
]
