"""Metric-learning losses on mined triplets: contrastive, triplet and margin (Wu et al. 2017).

Each loss is an nn.Module called as `loss(embeddings, labels, triplets) -> LossOutput`. Distances
are Euclidean (not squared), computed in float32 with a gradient-safe square root, so the losses
work with half-precision embeddings and duplicate points. With no triplets the loss is a zero
that is still connected to the embeddings (and β), so backward and DDP see every parameter.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from foundation.errors import InputError

from .distances import paired_distances
from .miners import Triplets
from .options import LOSSES


class LossOutput(NamedTuple):
    """The scalar loss and the fraction of its pairs or triplets that contribute (non-zero terms)."""

    loss: torch.Tensor
    active_fraction: torch.Tensor


def _triplet_distances(embeddings: torch.Tensor, triplets: Triplets) -> tuple[torch.Tensor, torch.Tensor]:
    anchors = embeddings[triplets.anchor]
    return (
        paired_distances(anchors, embeddings[triplets.positive]),
        paired_distances(anchors, embeddings[triplets.negative]),
    )


def _zero(*tensors: torch.Tensor) -> torch.Tensor:
    """0.0 that depends on `tensors`, so gradients (all zero) reach them."""
    return sum((t.float().sum() * 0.0 for t in tensors), torch.zeros((), device=tensors[0].device))


def _fraction(active: torch.Tensor, total: int) -> torch.Tensor:
    return (active.sum().float() / max(total, 1)).detach()


class ContrastiveLoss(nn.Module):
    """Siamese loss on the mined pairs: a-p pulled within `pos_margin`, a-n pushed beyond `neg_margin`.

    loss = mean_ap relu(d_ap - pos_margin) + mean_an relu(neg_margin - d_an).
    """

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 0.5) -> None:
        super().__init__()
        self.pos_margin = pos_margin
        self.neg_margin = neg_margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, triplets: Triplets) -> LossOutput:
        if len(triplets.anchor) == 0:
            return LossOutput(_zero(embeddings), torch.zeros((), device=embeddings.device))
        d_ap, d_an = _triplet_distances(embeddings, triplets)
        pull = F.relu(d_ap - self.pos_margin)
        push = F.relu(self.neg_margin - d_an)
        active = torch.cat([pull > 0, push > 0])
        return LossOutput(pull.mean() + push.mean(), _fraction(active, len(active)))


class TripletLoss(nn.Module):
    """loss = mean over triplets of relu(d_ap - d_an + margin)."""

    def __init__(self, margin: float = 0.2) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, triplets: Triplets) -> LossOutput:
        if len(triplets.anchor) == 0:
            return LossOutput(_zero(embeddings), torch.zeros((), device=embeddings.device))
        d_ap, d_an = _triplet_distances(embeddings, triplets)
        terms = F.relu(d_ap - d_an + self.margin)
        return LossOutput(terms.mean(), _fraction(terms > 0, len(terms)))


class MarginLoss(nn.Module):
    """Margin loss of Wu et al. 2017 with a learnable boundary β.

    Per mined pair: relu(alpha + (d_ap - β)) + relu(alpha - (d_an - β)), with β of the anchor's
    class when `num_classes` is given, else one shared β. As in the paper (and its reference
    code) the sum is divided by the number of non-zero terms, not by the number of pairs, so
    the loss does not fade as more pairs are satisfied. `nu` adds ν·Σβ (over the triplets' anchors)
    before that division, which pushes β up (wider positive regions), as in the paper.
    Give β its own learning rate via `beta_parameters()`.
    """

    def __init__(
        self,
        alpha: float = 0.2,
        beta: float = 1.2,
        num_classes: int | None = None,
        learn_beta: bool = True,
        nu: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        self.alpha = alpha
        self.nu = nu
        self.num_classes = num_classes
        self.beta = nn.Parameter(torch.full((num_classes or 1,), float(beta)), requires_grad=learn_beta)

    def beta_parameters(self) -> list[nn.Parameter]:
        return [self.beta]

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, triplets: Triplets) -> LossOutput:
        if len(triplets.anchor) == 0:
            return LossOutput(_zero(embeddings, self.beta), torch.zeros((), device=embeddings.device))
        d_ap, d_an = _triplet_distances(embeddings, triplets)
        if self.num_classes is None:
            beta = self.beta.expand(len(d_ap))
        else:
            beta = self.beta[labels.to(self.beta.device)[triplets.anchor]]
        pull = F.relu(self.alpha + (d_ap - beta))
        push = F.relu(self.alpha - (d_an - beta))
        active = torch.cat([pull > 0, push > 0])
        total = pull.sum() + push.sum() + self.nu * beta.sum()
        loss = total / active.sum().clamp_min(1)
        return LossOutput(loss, _fraction(active, len(active)))


def make_loss(name: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """A loss by name: contrastive, triplet, or margin (per-class β when `num_classes` is given)."""
    if name == "contrastive":
        return ContrastiveLoss(**kwargs)
    if name == "triplet":
        return TripletLoss(**kwargs)
    if name == "margin":
        return MarginLoss(num_classes=num_classes, **kwargs)
    raise InputError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
