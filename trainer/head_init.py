"""Start the projection head from the pretrained features: PCA, or PCA whitened within classes (LDA).

A random head scrambles good pretrained features; projecting centred features on their top
principal axes keeps their geometry (cosine distances of the main variation) instead. Given the
training images' labels, those axes are also whitened by the shrunk within-class scatter (as in
shrinkage LDA), so distances at step 0 are Mahalanobis distances that discount the directions in
which a labelled class's own photos vary: the start already separates the person's classes.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import EmbeddingNet

FILL_SCALE = 1e-3


def init_head(
    model: EmbeddingNet,
    features: torch.Tensor,
    labels: torch.Tensor | None = None,
    shrinkage: float = 0.3,
    seed: int = 0,
) -> None:
    """Set `model.head` to x -> Vᵀ(x - mean) with V the top principal axes of `features`; with
    `labels`, V is whitened by their within-class scatter shrunk by `shrinkage` (`within_class_whitened`).

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
    if labels is not None:
        axes = within_class_whitened(axes, features - mean, labels, shrinkage)
    if axes.shape[0] < out_dim:
        generator = torch.Generator().manual_seed(seed)
        extra = torch.randn(
            out_dim - axes.shape[0], features.shape[1], generator=generator, dtype=torch.float64
        )
        extra = nn.functional.normalize(extra, dim=1) * FILL_SCALE
        axes = torch.cat([axes, extra.to(axes.device)])
    with torch.no_grad():
        head.weight.copy_(axes.to(head.weight.dtype))
        head.bias.copy_((-axes @ mean).to(head.bias.dtype))


def within_class_whitened(
    axes: torch.Tensor, centred: torch.Tensor, labels: torch.Tensor, shrinkage: float
) -> torch.Tensor:
    """`axes` (rows) turned so that projecting on them whitens the shrunk within-class scatter.

    The scatter S of the projected features around their class means becomes
    (1 - shrinkage) S + shrinkage · mean variance · I before whitening. The result is scaled so the
    projected features keep the PCA projection's total variance: the same learning-rate scale.
    Without any within-class variation (one image per class) the axes are returned unchanged.
    `shrinkage` must be above 0: with fewer images than axes the raw scatter is singular.
    """
    projected = centred @ axes.T
    classes, index = labels.to(projected.device).unique(return_inverse=True)
    sums = projected.new_zeros(len(classes), projected.shape[1]).index_add_(0, index, projected)
    counts = torch.bincount(index, minlength=len(classes)).to(projected.dtype)
    within = projected - (sums / counts[:, None])[index]
    scatter = within.T @ within / len(projected)
    mean_variance = scatter.trace() / len(scatter)
    if not mean_variance > 0:
        return axes
    identity = torch.eye(len(scatter), dtype=scatter.dtype, device=scatter.device)
    values, vectors = torch.linalg.eigh((1 - shrinkage) * scatter + shrinkage * mean_variance * identity)
    whitened = (vectors / values.sqrt()).T @ axes
    return whitened * (projected.square().sum() / (centred @ whitened.T).square().sum()).sqrt()
