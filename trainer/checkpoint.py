"""Checkpoint format: `NAME.safetensors` (weights + config in its metadata) and `NAME.json`.

The JSON sidecar repeats the config and adds the training summary and metrics for people
and tools to read. Nothing is ever unpickled: pickle-based files are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from foundation.atomicio import atomic_target, atomic_write_bytes
from foundation.errors import CheckpointError

from .backbones import backbone_spec
from .model import EmbeddingNet, ModelConfig, build_model
from .options import MAX_EMBEDDING_DIM, MAX_IMAGE_SIZE, PICKLE_SUFFIXES, is_checkpoint_spec

CONFIG_KEY = "lookalike_config"
FORMAT_KEY = "lookalike_format"
FORMAT_VERSION = "1"


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(path: str | os.PathLike, model: EmbeddingNet, info: dict[str, Any] | None = None) -> Path:
    """Save weights and config atomically; `info` (training summary, metrics) goes to the sidecar."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"checkpoints are saved as .safetensors, not {path.name}")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {CONFIG_KEY: model.config.to_json(), FORMAT_KEY: FORMAT_VERSION}
    with atomic_target(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    sidecar = {"config": json.loads(model.config.to_json()), **(info or {})}
    atomic_write_bytes(sidecar_path(path), json.dumps(sidecar, indent=2, sort_keys=True).encode())
    return path


def read_config(path: str | os.PathLike) -> ModelConfig:
    """Read only the config of a checkpoint (cheap: no tensors are loaded)."""
    path = _checked_path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if CONFIG_KEY not in metadata:
        raise CheckpointError(f"{path} has no Lookalike model config; was it saved by the trainer?")
    try:
        data = json.loads(metadata[CONFIG_KEY])
        _check_sizes(data)
        return ModelConfig.from_dict(data)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} has an invalid model config: {exc}") from exc


def _check_sizes(data: dict[str, Any]) -> None:
    """Sizes a network would be built with, bounded before anything is allocated (a declared
    embedding_dim of 1e9 would ask for a 5 TB projection)."""
    for key, largest in (("embedding_dim", MAX_EMBEDDING_DIM), ("image_size", MAX_IMAGE_SIZE)):
        value = data.get(key)
        if value is None:  # not given, or no projection head
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= largest:
            raise ValueError(f"{key} must be a whole number from 1 to {largest}, not {value!r}")


def read_info(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar's training summary and metrics, or {} when there is none."""
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        return {}
    try:
        return json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> EmbeddingNet:
    """Rebuild the network from a checkpoint without downloading any pretrained weights."""
    config = read_config(path)
    model = build_model(dataclasses.replace(config, pretrained=False))
    model.config = config
    try:
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read weights from {path}: {exc}") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match its config: {exc}") from exc
    return model


def load_model(spec: str, image_size: int | None = None) -> EmbeddingNet:
    """A backbone name (pretrained, pooled features) or a checkpoint path, ready for inference."""
    if is_checkpoint_spec(spec):
        model = load_checkpoint(spec)
        if image_size is not None and image_size != model.config.image_size:
            model.config = dataclasses.replace(model.config, image_size=image_size)
    else:
        config = ModelConfig(backbone=spec, image_size=image_size or 224)
        model = build_model(config)
    return model.eval()


def model_fingerprint(spec: str, config: ModelConfig) -> str:
    """Identifies the function image -> vector: changes whenever re-embedding is needed."""
    digest = hashlib.sha256(config.to_json().encode())
    if is_checkpoint_spec(spec):
        with open(_checked_path(spec), "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    else:
        digest.update(backbone_spec(config.backbone).weights_id.encode())
    return digest.hexdigest()[:16]


def _checked_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path.name} looks like a pickle file; Lookalike never unpickles files. "
            "Use a .safetensors checkpoint written by `lookalike train`."
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head[:1] == b"\x80" or head == b"PK":
        raise CheckpointError(f"{path.name} is a pickle/zip file, not safetensors; refusing to load it")
    return path
