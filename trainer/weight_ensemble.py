"""Weight-space ensembling of the start and the fine-tuned network (WiSE-FT).

Wortsman et al. 2022, "Robust fine-tuning of zero-shot models": the weights
start + α (trained − start) keep most of what fine-tuning gained on the labelled classes and
lose less on classes nobody labelled than the trained weights do. It costs nothing at
inference: the result is one network of the same shape. Here the start is the pretrained
backbone with its head start (`head_init`), so α = 0 is the untrained start and α = 1 the
trained network.
"""

from __future__ import annotations

import copy

import torch

from .model import EmbeddingNet


def interpolate_state(
    start: dict[str, torch.Tensor], trained: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """start + α (trained − start) for every floating-point entry; the rest (counters) from `trained`."""
    if start.keys() != trained.keys():
        raise ValueError("the two state dicts hold different entries")
    mixed = {}
    for name, value in trained.items():
        base = start[name].to(value.device)
        if value.is_floating_point():
            mixed[name] = torch.lerp(base.to(torch.float64), value.to(torch.float64), alpha).to(value.dtype)
        else:
            mixed[name] = value.clone()
    return mixed


def snapshot(model: EmbeddingNet) -> dict[str, torch.Tensor]:
    """A detached copy of the network's weights, to interpolate from later."""
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def ensembled(model: EmbeddingNet, start: dict[str, torch.Tensor], alpha: float) -> EmbeddingNet:
    """A new network with the weights start + α (model − start); `model` is left as it is."""
    mixed = copy.deepcopy(model)
    mixed.load_state_dict(interpolate_state(start, model.state_dict(), alpha))
    return mixed
