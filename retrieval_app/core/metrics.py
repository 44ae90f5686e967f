"""The adjustable metric: every metric is a linear map followed by Euclidean distance.

That keeps one kind of index (L2 HNSW) for all of them:
- euclidean: identity.
- cosine: identity on unit vectors, distance reported as 1 - cos = d² / 2.
- mahalanobis: whitening by the library's shrunk covariance, scaled so unrelated pairs sit
  near the same distances as on the unit sphere (mean squared distance 2).
- learned: the factor L of a PSD matrix M (LᵀL = M) from the trainer's linear metric learning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from trainer.linear_metric import fit_covariance, load_metric, transform_from_metric

METRICS = ("euclidean", "cosine", "mahalanobis", "learned")


class MetricError(ValueError):
    """A metric cannot be used with this library (unknown, not fitted, wrong dimension)."""


@dataclass(frozen=True)
class MetricSpace:
    """How to map vectors into the space an index searches, and how to report distances."""

    name: str
    transform: np.ndarray | None

    @property
    def index_key(self) -> str:
        """Metrics that share a space share an index (cosine ranks exactly like euclidean)."""
        return "euclidean" if self.name == "cosine" else self.name

    @property
    def token(self) -> str:
        """Changes whenever the transform changes, so stale indexes are detected."""
        if self.transform is None:
            return "identity"
        return hashlib.sha256(np.ascontiguousarray(self.transform, dtype=np.float32).tobytes()).hexdigest()[
            :16
        ]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float32)
        if self.transform is None:
            return np.ascontiguousarray(matrix)
        return np.ascontiguousarray(matrix @ self.transform.T, dtype=np.float32)

    def report(self, l2: np.ndarray) -> np.ndarray:
        """Index (L2) distances to the distances people see for this metric."""
        return (l2 * l2 / 2.0).astype(np.float32) if self.name == "cosine" else l2


def euclidean_space(name: str = "euclidean") -> MetricSpace:
    return MetricSpace(name, None)


def mahalanobis_space(vectors: np.ndarray) -> MetricSpace:
    """Whitening from the covariance of `vectors` (shrinkage-regularised, scaled to mean d² = 2)."""
    if len(vectors) < 2:
        raise MetricError("the Mahalanobis metric needs at least two indexed images")
    matrix = fit_covariance(np.asarray(vectors, dtype=np.float64))
    transform = transform_from_metric(matrix)
    centred = vectors - vectors.mean(axis=0)
    mean_sq = 2.0 * float(np.mean(np.sum((centred @ transform.T) ** 2, axis=1)))
    if mean_sq > 0:
        transform = transform * np.sqrt(2.0 / mean_sq)
    return MetricSpace("mahalanobis", transform.astype(np.float32))


def learned_space(path: str, dim: int, model_fingerprint: str | None = None) -> MetricSpace:
    """The learned metric from a file written by `lookalike train-metric`."""
    matrix, info = load_metric(path)
    if matrix.shape != (dim, dim):
        raise MetricError(
            f"the learned metric is {matrix.shape[0]}-dimensional but this library's vectors have "
            f"{dim} dimensions; train it with the library's model"
        )
    expected = info.get("model_fingerprint")
    if model_fingerprint and expected and expected != model_fingerprint:
        raise MetricError("the learned metric was trained for a different model than this library uses")
    return MetricSpace("learned", transform_from_metric(matrix).astype(np.float32))


def check_metric_name(name: str) -> str:
    if name not in METRICS:
        raise MetricError(f"unknown metric {name!r}; choose one of: {', '.join(METRICS)}")
    return name
