"""In-batch triplet mining: one negative for every anchor-positive pair, chosen on the device.

Every miner takes detached embeddings (N, D), their labels (N,) and an optional torch.Generator
on the embeddings' device, and returns index tensors. Anchor-positive pairs are all (i, j) with
i != j and the same label, in row-major order; anchors without any negative in the batch are
dropped. All work is vectorised over the batch (no Python loops over samples).

- random: a uniformly random negative.
- semihard: a random negative with d(a,p) < d(a,n) < d(a,p) + margin (FaceNet); otherwise the
  closest negative farther than d(a,p); otherwise a random one.
- hardest: the closest negative (lowest index on ties).
- distance: distance-weighted sampling (Wu et al. 2017, "Sampling Matters in Deep Embedding
  Learning"), which draws negatives evenly over distances instead of the concentrated
  distribution of distances between random points on a high-dimensional sphere.
- all: every valid (a, p, n) triplet; O(N^3) memory, meant as a reference.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from foundation.errors import InputError

from .distances import pairwise_distances


class Triplets(NamedTuple):
    """Indices into the batch: triplet t is (anchor[t], positive[t], negative[t])."""

    anchor: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor


class MiningBatch(NamedTuple):
    """What a miner sees: distances (N, N), negative mask (N, N), the pairs, the embedding size."""

    distances: torch.Tensor
    negatives: torch.Tensor
    anchor: torch.Tensor
    positive: torch.Tensor
    dim: int


class Miner:
    """Base class: finds anchor-positive pairs and asks `choose_negatives` for one negative each."""

    def __call__(
        self, embeddings: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> Triplets:
        with torch.no_grad():
            labels = labels.to(embeddings.device)
            distances = pairwise_distances(embeddings)
            same = labels[:, None] == labels[None, :]
            negatives = ~same
            eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
            positives = same & ~eye & negatives.any(dim=1, keepdim=True)
            anchor, positive = positives.nonzero(as_tuple=True)
            if len(anchor) == 0:
                empty = anchor.new_empty(0)
                return Triplets(empty, empty.clone(), empty.clone())
            batch = MiningBatch(distances, negatives, anchor, positive, embeddings.shape[1])
            return Triplets(anchor, positive, self.choose_negatives(batch, generator))

    def choose_negatives(self, batch: MiningBatch, generator: torch.Generator | None) -> torch.Tensor:
        """One negative index per (anchor, positive) pair; every anchor has at least one negative."""
        raise NotImplementedError


def sample_rows(weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One column index per row, drawn with probability proportional to the row's weights."""
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


class RandomMiner(Miner):
    """A uniformly random negative for each pair."""

    def choose_negatives(self, batch: MiningBatch, generator: torch.Generator | None) -> torch.Tensor:
        return sample_rows(batch.negatives[batch.anchor].float(), generator)


class HardestMiner(Miner):
    """The negative closest to the anchor (first index on ties)."""

    def choose_negatives(self, batch: MiningBatch, generator: torch.Generator | None) -> torch.Tensor:
        masked = batch.distances.masked_fill(~batch.negatives, float("inf"))
        return masked.argmin(dim=1)[batch.anchor]


class SemihardMiner(Miner):
    """A random semi-hard negative, else the closest farther than the positive, else a random one."""

    def __init__(self, margin: float = 0.2) -> None:
        self.margin = margin

    def choose_negatives(self, batch: MiningBatch, generator: torch.Generator | None) -> torch.Tensor:
        anchor_to_all = batch.distances[batch.anchor]
        anchor_to_positive = batch.distances[batch.anchor, batch.positive][:, None]
        candidates = batch.negatives[batch.anchor]
        farther = candidates & (anchor_to_all > anchor_to_positive)
        semihard = farther & (anchor_to_all < anchor_to_positive + self.margin)
        closest_farther = anchor_to_all.masked_fill(~farther, float("inf")).argmin(dim=1)
        has_semihard = semihard.any(dim=1)
        weights = torch.where(has_semihard[:, None], semihard, candidates).float()
        chosen = sample_rows(weights, generator)
        use_closest = ~has_semihard & farther.any(dim=1)
        return torch.where(use_closest, closest_farther, chosen)


class DistanceWeightedMiner(Miner):
    """Negatives drawn with probability proportional to 1/q(d) (Wu et al. 2017).

    For unit vectors in n dimensions, pairwise distances have density
    q(d) ∝ d^(n-2) (1 - d²/4)^((n-3)/2); weighting by 1/q flattens the distances of the sampled
    negatives. d is clamped below at `cutoff` (avoids the noisiest, closest negatives), and
    negatives at or beyond `nonzero_loss_cutoff` get weight 0 (they would give no loss).
    Meant for unit-length embeddings, which is what the network outputs.
    """

    def __init__(self, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4, eps: float = 1e-6) -> None:
        self.cutoff = cutoff
        self.nonzero_loss_cutoff = nonzero_loss_cutoff
        self.eps = eps

    def negative_weights(self, distances: torch.Tensor, negatives: torch.Tensor, dim: int) -> torch.Tensor:
        """(N, N) sampling probabilities per anchor row; uniform over negatives where all weights are 0.

        Rows of anchors without negatives are all zero.
        """
        clamped = distances.float().clamp_min(self.cutoff)
        log_q = (dim - 2.0) * torch.log(clamped) + ((dim - 3.0) / 2.0) * torch.log(
            (1.0 - 0.25 * clamped * clamped).clamp_min(self.eps)
        )
        allowed = negatives & (clamped < self.nonzero_loss_cutoff)
        log_weights = (-log_q).masked_fill(~allowed, float("-inf"))
        row_max = log_weights.max(dim=1, keepdim=True).values
        has_weight = allowed.any(dim=1, keepdim=True)
        weights = torch.exp(log_weights - torch.where(has_weight, row_max, torch.zeros_like(row_max)))
        weights = torch.where(has_weight, weights, negatives.float())
        totals = weights.sum(dim=1, keepdim=True)
        return weights / totals.clamp_min(torch.finfo(weights.dtype).tiny)

    def choose_negatives(self, batch: MiningBatch, generator: torch.Generator | None) -> torch.Tensor:
        weights = self.negative_weights(batch.distances, batch.negatives, batch.dim)
        return sample_rows(weights[batch.anchor], generator)


class AllTripletsMiner(Miner):
    """Every valid triplet (reference for the other miners and losses)."""

    def __call__(
        self, embeddings: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> Triplets:
        labels = labels.to(embeddings.device)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        valid = (same & ~eye)[:, :, None] & ~same[:, None, :]
        anchor, positive, negative = valid.nonzero(as_tuple=True)
        return Triplets(anchor, positive, negative)


MINERS = {
    "random": RandomMiner,
    "semihard": SemihardMiner,
    "hardest": HardestMiner,
    "distance": DistanceWeightedMiner,
    "all": AllTripletsMiner,
}


def make_miner(name: str, **kwargs) -> Miner:
    """A miner by name: random, semihard (margin=0.2), hardest, distance (cutoff=0.5,
    nonzero_loss_cutoff=1.4) or all."""
    if name not in MINERS:
        raise InputError(f"unknown sampling {name!r}; choose one of: {', '.join(MINERS)}")
    return MINERS[name](**kwargs)
