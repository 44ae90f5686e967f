"""Retrieval quality of embeddings with class labels: Recall@K and MAP@R (Musgrave et al. 2020).

Every item queries all others by exact Euclidean nearest-neighbour search in float64 (float32
on Apple MPS, which has no float64); the query itself is excluded, its duplicates are not.
Ties in distance go to the lower index, so results are deterministic. Queries are processed in
chunks, so memory stays bounded for large sets (10k x 1280 takes a few seconds on a CPU).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from foundation.errors import InputError

CHUNK_ELEMENTS = 1 << 22  # query x database entries per chunk (~170 MB of working memory)


def retrieval_metrics(
    embeddings: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor | Sequence[int],
    ks: Sequence[int] = (1, 2, 4, 8),
    chunk_size: int | None = None,
) -> dict[str, float]:
    """`recall@K` for each K and `map@r` over the items that have another item of their class.

    recall@K: fraction of queries with at least one same-class item among their K nearest.
    map@r: mean over queries of (1/R) * sum over ranks i <= R of precision@i * [item i is relevant],
    R being the number of other items of the query's class. Queries whose class has no other item
    cannot succeed and are left out of both.
    """
    vectors = torch.as_tensor(np.asarray(embeddings) if not torch.is_tensor(embeddings) else embeddings)
    vectors = vectors.detach()
    vectors = vectors.to(torch.float32 if vectors.device.type == "mps" else torch.float64)
    classes = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
    classes = classes.detach().to(vectors.device).long()
    if vectors.ndim != 2 or classes.shape != (len(vectors),):
        raise ValueError(
            f"expected (N, D) embeddings and N labels, got {tuple(vectors.shape)} and {tuple(classes.shape)}"
        )
    if any(k < 1 for k in ks):
        raise InputError(f"K must be at least 1, got {list(ks)}")
    if not torch.isfinite(vectors).all():
        raise ValueError("embeddings contain NaN or infinite values")
    n = len(vectors)
    vectors = vectors - vectors.mean(dim=0)  # smaller norms: less cancellation in |q|² + |x|² - 2 q·x
    _, inverse, counts = torch.unique(classes, return_inverse=True, return_counts=True)
    relevant_counts = counts[inverse] - 1
    if not (relevant_counts > 0).any():
        raise InputError("retrieval needs at least one class with two or more items")
    chunk = chunk_size or max(1, CHUNK_ELEMENTS // max(n, 1))
    squared_norms = (vectors * vectors).sum(dim=1)
    positions = torch.arange(1, n, device=vectors.device, dtype=vectors.dtype)
    hits = dict.fromkeys(ks, 0)
    average_precision = 0.0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        query = torch.arange(start, stop, device=vectors.device)
        distances = squared_norms[query, None] + squared_norms[None, :] - 2.0 * (vectors[query] @ vectors.T)
        distances[query - start, query] = float("inf")  # a query never retrieves itself
        order = torch.sort(distances, dim=1, stable=True).indices[:, : n - 1]
        relevant = (classes[order] == classes[query, None]).to(vectors.dtype)
        r = relevant_counts[query]
        used = r > 0
        for k in ks:
            hits[k] += int((relevant[:, :k].sum(dim=1) > 0)[used].sum())
        within_r = positions[None, :] <= r[:, None]
        precision = relevant.cumsum(dim=1) / positions
        per_query = (precision * relevant * within_r).sum(dim=1) / r.clamp_min(1)
        average_precision += float(per_query[used].sum())
    queries = int((relevant_counts > 0).sum())
    metrics = {f"recall@{k}": hits[k] / queries for k in ks}
    metrics["map@r"] = average_precision / queries
    return metrics
