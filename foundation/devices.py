"""Where the network runs: the one resolution of a device name for the app, the CLI and the trainer.

`auto` picks CUDA, then Apple MPS, then the CPU; a named device must exist here, or the person
gets one line saying what is available instead of a traceback from deep inside torch.
"""

from __future__ import annotations

import re

import torch

from .errors import InputError

DEVICE_NAME = re.compile(r"(auto|cpu|mps|cuda)(?::(\d+))?")
DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps"


class DeviceError(InputError):
    """A device name that is not one of ours, or a device this machine does not have."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for `name`; raises DeviceError with a one-line reason when it cannot be used."""
    match = DEVICE_NAME.fullmatch(name.strip().lower())
    if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
        raise DeviceError(f"unknown device {name!r}: use {DEVICE_HELP}")
    kind, number = match.group(1), match.group(2)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} was asked for but torch sees no CUDA GPU; use auto or cpu")
        count = torch.cuda.device_count()
        if number is not None and int(number) >= count:
            raise DeviceError(
                f"device {name!r} does not exist: torch sees {count} CUDA GPU(s), numbered from 0"
            )
        return torch.device(f"cuda:{number}" if number is not None else "cuda")
    if kind == "mps" and not _mps_available():
        raise DeviceError(f"device {name!r} was asked for but this torch build has no MPS support here")
    return torch.device(kind)


def available_devices() -> list[tuple[str, str]]:
    """(value, label) for every device the model can run on here; the GPU's name when there is one."""
    devices = [("auto", "Automatic (GPU when present)"), ("cpu", "CPU")]
    if torch.cuda.is_available():
        for number in range(torch.cuda.device_count()):
            devices.append((f"cuda:{number}", f"GPU {number}: {torch.cuda.get_device_name(number)}"))
    if _mps_available():
        devices.append(("mps", "Apple GPU (Metal)"))
    return devices
