"""In which precision training runs on its device: bf16/fp16 autocast on CUDA, full precision elsewhere.

The device itself is resolved once for the app and the trainer, by `foundation.devices`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def autocast_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """bf16 on CUDA GPUs that support it, else fp16 on CUDA; full precision elsewhere."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Mixed precision when `dtype` is set, a no-op otherwise."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def describe_device(device: torch.device, amp: bool = True) -> str:
    """What a run will use, for people checking their GPU: `cuda (NVIDIA H200, bf16 autocast)`."""
    if device.type == "cuda":
        dtype = autocast_dtype(device, amp)
        precision = f"{str(dtype).removeprefix('torch.')} autocast" if dtype else "full precision"
        return f"cuda ({torch.cuda.get_device_name(device)}, {precision})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
