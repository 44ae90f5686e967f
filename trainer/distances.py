"""Euclidean distances for mining and losses, computed in float32 with a gradient-safe square root.

The square root of a squared distance has an infinite derivative at 0 (duplicate points, the
diagonal); clamping the squared distance at a tiny epsilon first keeps values and gradients finite.
Half-precision inputs are promoted to float32 so squared norms neither overflow nor lose the
small differences that decide rankings.
"""

from __future__ import annotations

import torch

SQUARED_EPS = 1e-12


def pairwise_distances(x: torch.Tensor, eps: float = SQUARED_EPS) -> torch.Tensor:
    """(N, D) -> (N, N) float32 Euclidean distances; the diagonal is exactly 0."""
    x = x.float()
    squared_norms = (x * x).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * (x @ x.T)
    distances = squared.clamp_min(eps).sqrt()
    off_diagonal = 1.0 - torch.eye(len(x), device=x.device, dtype=distances.dtype)
    return distances * off_diagonal


def paired_distances(x: torch.Tensor, y: torch.Tensor, eps: float = SQUARED_EPS) -> torch.Tensor:
    """Row-wise float32 distances ||x_i - y_i|| for two (T, D) tensors (mined pairs)."""
    difference = x.float() - y.float()
    return (difference * difference).sum(dim=1).clamp_min(eps).sqrt()
