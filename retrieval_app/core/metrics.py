"""The adjustable metric: every metric is a linear map (after centring, with optional L2
normalisation) followed by Euclidean distance.

That keeps one kind of index (L2 HNSW) for all of them:
- euclidean: identity.
- cosine: identity on unit vectors, distance reported as 1 - cos = d² / 2.
- mahalanobis: PCA whitening fitted on the library's own vectors, as image retrieval does it
  (Jégou & Chum 2012): the principal directions the data supports (at most one per
  `SAMPLES_PER_COMPONENT` vectors, `MAX_COMPONENTS` in all), each variance shrunk 70 % of the way
  toward their mean before whitening, then L2 normalisation; chosen on the three shared sets. Whitening all 1280 directions by a
  Ledoit–Wolf covariance instead took Caltech-101 Recall@1 from 0.83 to 0.25 (benchmarks/QUALITY.md).
- learned: the factor L of a PSD matrix M (LᵀL = M) from a metric learned on labelled folders,
  with the centring and normalisation stored beside it (`core/metric_learning.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from foundation.errors import InputError, UserError
from trainer.linear_metric import load_metric_file, transform_from_metric, whitening

METRICS = ("euclidean", "cosine", "mahalanobis", "learned")
DESCRIPTIONS = {
    "euclidean": "straight-line distance between the image vectors (the default)",
    "cosine": "angle between the vectors, shown as 1 - cos; ranks exactly like Euclidean",
    "mahalanobis": "Euclidean after whitening by how this library's own photos vary (refitted as it grows)",
    "learned": "learned from your labelled folders (train-metric); used only if it beat Euclidean on held-out photos",
}
MAX_COMPONENTS = 256
SAMPLES_PER_COMPONENT = 8
SHRINKAGE = 0.7  # of each kept variance toward their mean
FIT_SAMPLE = 20_000  # vectors the whitening is estimated from (a seeded sample of larger libraries)
REFIT_GROWTH = 1.5  # refit when the library has grown by half or shrunk by a third since


class MetricError(UserError, ValueError):
    """A metric cannot be used with this library (unknown, not fitted, wrong dimension)."""


@dataclass(frozen=True)
class MetricSpace:
    """How to map vectors into the space an index searches, and how to report distances."""

    name: str
    transform: np.ndarray | None
    mean: np.ndarray | None = None
    normalize: bool = False
    fitted_on: int = 0  # vectors a fitted space was estimated from

    @property
    def index_key(self) -> str:
        """Metrics that share a space share an index (cosine ranks exactly like euclidean)."""
        return "euclidean" if self.name == "cosine" else self.name

    @property
    def dim(self) -> int | None:
        """Dimensions of the searched space (None: those of the vectors)."""
        return None if self.transform is None else int(self.transform.shape[0])

    @cached_property
    def token(self) -> str:
        """Changes whenever the mapping changes, so stale indexes are detected (hashed once: every
        search compares it)."""
        if self.transform is None and self.mean is None and not self.normalize:
            return "identity"
        digest = hashlib.sha256(b"normalized" if self.normalize else b"linear")
        for part in (self.mean, self.transform):
            if part is not None:
                digest.update(np.ascontiguousarray(part, dtype=np.float32).tobytes())
        return digest.hexdigest()[:16]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float32)
        if self.mean is not None:
            matrix = matrix - self.mean.astype(np.float32)
        if self.transform is not None:
            matrix = matrix @ self.transform.T.astype(np.float32)
        if self.normalize:
            norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
            matrix = matrix / np.maximum(norms, np.float32(1e-12))
        return np.ascontiguousarray(matrix, dtype=np.float32)

    def report(self, l2: np.ndarray) -> np.ndarray:
        """Index (L2) distances to the distances people see for this metric."""
        return (l2 * l2 / 2.0).astype(np.float32) if self.name == "cosine" else l2

    def stale(self, count: int) -> bool:
        """Whether a fitted space should be refitted for a library now holding `count` vectors."""
        return (
            self.fitted_on > 0 and not self.fitted_on / REFIT_GROWTH <= count <= self.fitted_on * REFIT_GROWTH
        )


def euclidean_space(name: str = "euclidean") -> MetricSpace:
    return MetricSpace(name, None)


def mahalanobis_space(vectors: np.ndarray, seed: int = 0, library_size: int | None = None) -> MetricSpace:
    """Shrunk PCA whitening of `vectors` (a seeded sample of FIT_SAMPLE when there are more),
    then L2 normalisation; `library_size` (default: the count of `vectors`) is what staleness is
    judged against when `vectors` is already a sample."""
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or len(data) < 2:
        raise MetricError("the Mahalanobis metric needs at least two indexed images")
    if len(data) > FIT_SAMPLE:
        data = data[np.sort(np.random.default_rng(seed).choice(len(data), FIT_SAMPLE, replace=False))]
    components = max(1, min(MAX_COMPONENTS, len(data) // SAMPLES_PER_COMPONENT))
    try:
        mean, transform = whitening(data, components, SHRINKAGE)
    except InputError as exc:
        raise MetricError(f"cannot fit the Mahalanobis metric: {exc}") from None
    size = len(vectors) if library_size is None else library_size
    return MetricSpace("mahalanobis", transform.astype(np.float32), mean.astype(np.float32), True, size)


def learned_space(path: str, dim: int, model_fingerprint: str | None = None) -> MetricSpace:
    """The learned metric from a file written by `lookalike train-metric`."""
    metric = load_metric_file(path)
    matrix, info = metric.matrix, metric.info
    if matrix.shape != (dim, dim):
        raise MetricError(
            f"the learned metric is {matrix.shape[0]}-dimensional but this library's vectors have "
            f"{dim} dimensions; train it with the library's model"
        )
    expected = info.get("model_fingerprint")
    if model_fingerprint and expected and expected != model_fingerprint:
        raise MetricError("the learned metric was trained for a different model than this library uses")
    factor = transform_from_metric(matrix)
    norms = np.linalg.norm(factor, axis=1)
    kept = norms > 1e-6 * max(float(norms.max()), 1e-300)  # eigenvalues below 1e-12 of the largest: rank
    mean = None if metric.mean is None else metric.mean.astype(np.float32)
    return MetricSpace("learned", factor[kept].astype(np.float32), mean, bool(info.get("normalize")))


def check_metric_name(name: str) -> str:
    if name not in METRICS:
        raise MetricError(f"unknown metric {name!r}; choose one of: {', '.join(METRICS)}")
    return name
