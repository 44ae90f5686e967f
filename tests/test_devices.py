"""Device choice: `auto` falls back to the CPU, a named but missing GPU is a clear error."""

from __future__ import annotations

import pytest
import torch

from trainer.devices import describe_device, resolve_device


def test_auto_without_accelerators_is_the_cpu_and_says_how_many_threads(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    device = resolve_device("auto")
    assert device.type == "cpu"
    assert describe_device(device) == f"cpu ({torch.get_num_threads()} threads)"


def test_a_named_gpu_that_is_missing_is_refused_in_plain_words(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        resolve_device("cuda")
