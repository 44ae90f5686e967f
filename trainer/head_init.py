"""Start the projection head at PCA of the pretrained features, so step 0 is zero-shot retrieval.

A random head scrambles good pretrained features; projecting centred features on their top
principal axes keeps their geometry (cosine distances of the main variation) instead.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import EmbeddingNet

FILL_SCALE = 1e-3


def init_head_from_pca(model: EmbeddingNet, features: torch.Tensor, seed: int = 0) -> None:
    """Set `model.head` to x -> Vᵀ(x - mean) with V the top principal axes of `features`.

    With fewer samples than output dimensions the remaining rows are tiny random directions:
    they barely change distances at the start but can still learn (zero rows never would).
    """
    head = model.head
    if not isinstance(head, nn.Linear):
        return
    out_dim = head.out_features
    features = features.double()
    mean = features.mean(dim=0)
    _, singular, vh = torch.linalg.svd(features - mean, full_matrices=False)
    rank = int((singular > singular.max() * 1e-6).sum()) if singular.numel() else 0
    axes = vh[: min(rank, out_dim)]
    if axes.shape[0] < out_dim:
        generator = torch.Generator().manual_seed(seed)
        extra = torch.randn(
            out_dim - axes.shape[0], features.shape[1], generator=generator, dtype=torch.float64
        )
        extra = nn.functional.normalize(extra, dim=1) * FILL_SCALE
        axes = torch.cat([axes, extra])
    with torch.no_grad():
        head.weight.copy_(axes.to(head.weight.dtype))
        head.bias.copy_((-axes @ mean).to(head.bias.dtype))
