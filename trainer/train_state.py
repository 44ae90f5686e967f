"""Resumable training state in one safetensors file: tensors as tensors, everything else as JSON.

Nested state dicts (model, optimizer, scheduler, RNG, history) are split into a flat tensor
table and a JSON tree that refers to the tensors by name; the JSON lives in the file's
metadata, so tensors and the rest are written atomically together. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from foundation.atomicio import atomic_target
from foundation.errors import CheckpointError

STATE_KEY = "lookalike_train_state"
STATE_VERSION = 1


def state_path_for(out: str | os.PathLike) -> Path:
    """Where the resumable state of a run writing `out` lives: `NAME.state.safetensors`."""
    out = Path(out)
    return out.with_name(f"{out.stem}.state.safetensors")


def save_train_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` (nested dicts/lists of tensors and JSON values) atomically."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _pack(state, tensors)
    payload = json.dumps({"version": STATE_VERSION, "state": tree})
    path = Path(path)
    with atomic_target(path) as tmp:
        save_file(tensors, str(tmp), metadata={STATE_KEY: payload})
    return path


def load_train_state(path: str | os.PathLike, map_location: str = "cpu") -> dict[str, Any]:
    """Read a state written by `save_train_state`; raises CheckpointError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} is not a safetensors training state: {exc}") from exc
    if STATE_KEY not in metadata:
        raise CheckpointError(f"{path} is not a training state (resume from the NAME.state.safetensors file)")
    document = json.loads(metadata[STATE_KEY])
    if document.get("version") != STATE_VERSION:
        raise CheckpointError(f"{path} has training-state version {document.get('version')}, expected 1")
    return _unpack(document["state"], tensors)


def _pack(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": name}
    if isinstance(value, dict):
        return {"__dict__": [[_pack_key(k), _pack(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_pack(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_pack(v, tensors) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a training state")


def _pack_key(key: Any) -> Any:
    if isinstance(key, bool | int | str):
        return key
    raise TypeError(f"state dict keys must be str or int, got {type(key).__name__}")


def _unpack(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, list):
        return [_unpack(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__tuple__" in tree:
            return tuple(_unpack(v, tensors) for v in tree["__tuple__"])
        return {k: _unpack(v, tensors) for k, v in tree["__dict__"]}
    return tree
