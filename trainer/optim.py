"""AdamW with separate learning rates for backbone, head and loss parameters; warm-up then cosine."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .model import EmbeddingNet


def build_optimizer(
    model: EmbeddingNet,
    loss: nn.Module,
    head_lr: float,
    backbone_lr: float,
    loss_lr: float,
    weight_decay: float,
) -> torch.optim.AdamW:
    """One group each for backbone, head and loss parameters (β); no decay on biases, norms or β."""
    groups: list[dict] = []
    for name, params, lr in (
        ("backbone", model.backbone.parameters(), backbone_lr),
        ("head", model.head.parameters(), head_lr),
    ):
        trainable = [p for p in params if p.requires_grad]
        decay = [p for p in trainable if p.ndim >= 2]
        no_decay = [p for p in trainable if p.ndim < 2]
        if decay:
            groups.append({"name": name, "params": decay, "lr": lr, "weight_decay": weight_decay})
        if no_decay:
            groups.append({"name": f"{name}-no-decay", "params": no_decay, "lr": lr, "weight_decay": 0.0})
    loss_params = [p for p in loss.parameters() if p.requires_grad]
    if loss_params:
        groups.append({"name": "loss", "params": loss_params, "lr": loss_lr, "weight_decay": 0.0})
    return torch.optim.AdamW(groups)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR factor: linear from ~0 to 1 over `warmup_steps`, then cosine down to 0 at `total_steps`."""
    total_steps = max(1, total_steps)
    warmup_steps = min(max(0, warmup_steps), total_steps - 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def group_schedules(
    groups: list[dict], total_steps: int, warmup_steps: int, head_only_steps: int
) -> list[Callable[[int], float]]:
    """One LR factor per optimizer group: the backbone's held at 0 for `head_only_steps` (the head
    warms up on the pretrained features first), then its own warm-up and cosine; the rest as usual."""
    shared = warmup_cosine(total_steps, warmup_steps)
    if head_only_steps <= 0:
        return [shared] * len(groups)
    head_only_steps = min(head_only_steps, total_steps - 1)
    later = warmup_cosine(total_steps - head_only_steps, warmup_steps)

    def backbone(step: int) -> float:
        return 0.0 if step < head_only_steps else later(step - head_only_steps)

    return [backbone if g["name"].startswith("backbone") else shared for g in groups]
