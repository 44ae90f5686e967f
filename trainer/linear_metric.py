"""Linear (Mahalanobis) metric learning on frozen embeddings: d_M(x, y)² = (x − y)ᵀ M (x − y), M ⪰ 0.

- covariance: M = Σ⁻¹ of the Ledoit–Wolf shrunk covariance (no labels needed).
- mmc: Xing et al. 2002, "Distance metric learning with application to clustering with
  side-information": similar pairs close, dissimilar pairs apart.
- lmnn: Weinberger & Saul 2009, large-margin nearest neighbours: each point's k same-class
  target neighbours closer than any differently-labelled point, by a margin of 1.

All in float64 numpy; M stays PSD by eigenvalue clipping. An app applies a metric as the linear
map L of `transform_from_metric` followed by Euclidean distance. Metric files are npz archives
read without unpickling and validated before use.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
from scipy import sparse

from foundation.atomicio import atomic_target
from foundation.errors import InputError, UserError

from .options import MAX_EMBEDDING_DIM

METHODS = ("covariance", "mmc", "lmnn")
SYMMETRY_TOLERANCE = 1e-6  # relative to the largest entry
PSD_TOLERANCE = 1e-6  # most negative eigenvalue allowed, relative to the largest one
CHUNK_ELEMENTS = 1 << 22  # pairwise-distance entries computed at once
INITIAL_TARGET_MARGINS = 100.0  # LMNN's start: mean squared target distance, in margins
RETRIEVAL_COMPONENTS = 128  # most whitened directions a learned retrieval metric keeps
RETRIEVAL_SHRINKAGE = 0.5  # of each kept variance toward their mean
RETRIEVAL_BLEND = 0.3  # weight of the learned matrix against the whitened identity (QUALITY.md)
MAX_INFO_BYTES = 1 << 20  # the JSON beside the matrix
# distances are searched in float32 between unit vectors, where a squared distance is at most
# 4 x the largest eigenvalue: beyond these bounds every distance overflows (inf, NaN) or is 0
MAX_EIGENVALUE = float(np.finfo(np.float32).max) / 16
MIN_EIGENVALUE = float(np.finfo(np.float32).tiny) * 16


class MetricFileError(UserError, ValueError):
    """A metric file is missing, unsafe, or does not hold a usable metric matrix."""


# ---------------------------------------------------------------- helpers


@overload
def _data(X: np.ndarray) -> tuple[np.ndarray, None]: ...
@overload
def _data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def _data(X: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Checked float64 vectors, and their labels when given (at least two classes)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2 or X.shape[1] < 1:
        raise InputError(f"expected at least two vectors as an (N, D) array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("vectors contain NaN or infinite values")
    if y is None:
        return X, None
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"expected {len(X)} labels, got shape {y.shape}")
    if len(np.unique(y)) < 2:
        raise InputError("metric learning from labels needs at least two classes")
    return X, y


def _psd_factor(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P, L): P the nearest (Frobenius) PSD matrix (negative eigenvalues set to 0), LᵀL = P."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    factor = np.sqrt(np.clip(values, 0.0, None))[:, None] * vectors.T
    return factor.T @ factor, factor


def project_psd(matrix: np.ndarray) -> np.ndarray:
    """The nearest (Frobenius) positive semi-definite matrix: negative eigenvalues set to 0."""
    return _psd_factor(matrix)[0]


def transform_from_metric(matrix: np.ndarray) -> np.ndarray:
    """L with LᵀL = M, so ||L(x − y)||² = (x − y)ᵀ M (x − y); tiny negative eigenvalues are clipped."""
    return _psd_factor(np.asarray(matrix, dtype=np.float64))[1]


def _pairwise_squared(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    squared = np.sum(A * A, axis=1)[:, None] + np.sum(B * B, axis=1)[None, :] - 2.0 * (A @ B.T)
    return np.maximum(squared, 0.0)


def _nearest_masked(
    Z: np.ndarray, count: int, excluded: Callable[[slice], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the `count` (< N) nearest rows of Z not excluded, nearest first, chunked over rows.

    Returns (indices, valid), both (N, count); `valid` is False where fewer rows were eligible.
    """
    n = len(Z)
    indices = np.zeros((n, count), dtype=np.int64)
    valid = np.zeros((n, count), dtype=bool)
    chunk = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        squared = _pairwise_squared(Z[rows], Z)
        squared[excluded(rows)] = np.inf
        nearest = np.argpartition(squared, count - 1, axis=1)[:, :count]
        chosen = np.take_along_axis(squared, nearest, axis=1)
        by_distance = np.argsort(chosen, axis=1, kind="stable")
        indices[rows] = np.take_along_axis(nearest, by_distance, axis=1)
        valid[rows] = np.isfinite(np.take_along_axis(chosen, by_distance, axis=1))
    return indices, valid


def _sample_pairs(
    y: np.ndarray, count: int, rng: np.random.Generator, same: bool
) -> tuple[np.ndarray, np.ndarray]:
    """`count` random index pairs (with replacement) of the same or of different classes."""
    _, inverse, sizes = np.unique(y, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank_in_class = np.empty(len(y), dtype=np.int64)
    rank_in_class[order] = np.arange(len(y)) - starts[inverse[order]]
    if same:
        eligible = np.flatnonzero(sizes[inverse] >= 2)
        if len(eligible) == 0:
            raise InputError("similar pairs need a class with at least two items")
        first = rng.choice(eligible, size=count)
        c = inverse[first]
        offset = rng.integers(1, sizes[c])
        return first, order[starts[c] + (rank_in_class[first] + offset) % sizes[c]]
    first = rng.integers(0, len(y), size=count)
    c = inverse[first]
    position = rng.integers(0, len(y) - sizes[c])
    position = np.where(position >= starts[c], position + sizes[c], position)
    return first, order[position]


# ---------------------------------------------------------------- covariance


def ledoit_wolf_shrinkage(X: np.ndarray) -> float:
    """The Ledoit–Wolf (2004) shrinkage intensity toward μI for the sample covariance of X."""
    X, _ = _data(X)
    centred = X - X.mean(axis=0)
    n, d = centred.shape
    covariance = centred.T @ centred / n
    mu = np.trace(covariance) / d
    target_gap = np.sum((covariance - mu * np.eye(d)) ** 2) / d
    if target_gap <= 0.0:
        return 0.0
    fourth = np.sum(np.sum(centred**2, axis=1) ** 2)
    noise = (fourth / n - np.sum(covariance**2)) / (n * d)
    return float(min(max(noise, 0.0), target_gap) / target_gap)


def fit_covariance(X: np.ndarray, shrinkage: float | None = None) -> np.ndarray:
    """M = ((1 − s) S + s μ I)⁻¹, S the (1/N) covariance, μ = trace(S)/D; s by Ledoit–Wolf when None."""
    X, _ = _data(X)
    if shrinkage is None:
        shrinkage = ledoit_wolf_shrinkage(X)
    if not 0.0 <= shrinkage <= 1.0:
        raise InputError(f"shrinkage must be in [0, 1], got {shrinkage}")
    centred = X - X.mean(axis=0)
    d = X.shape[1]
    covariance = centred.T @ centred / len(X)
    mu = np.trace(covariance) / d
    if mu <= 0.0:
        raise InputError("the vectors have no variance; a covariance metric needs distinct vectors")
    shrunk = (1.0 - shrinkage) * covariance + shrinkage * mu * np.eye(d)
    values, vectors = np.linalg.eigh(shrunk)
    if values.min() <= 1e-12 * values.max():
        raise InputError("the covariance is singular; use shrinkage > 0")
    inverse = (vectors / values) @ vectors.T
    return (inverse + inverse.T) / 2.0


# ---------------------------------------------------------------- MMC


def fit_mmc(
    X: np.ndarray,
    y: np.ndarray,
    pairs: int = 5000,
    max_iter: int = 20,
    ridge: float = 1e-3,
    tol: float = 1e-6,
    seed: int = 0,
) -> np.ndarray:
    """Xing et al.: min Σ_similar d_M² subject to Σ_dissimilar d_M >= 1, M ⪰ 0.

    Solved in the equivalent form max Σ_dissimilar d_M subject to Σ_similar d_M² = 1 by
    projected gradient ascent (PSD projection by eigenvalue clipping, then rescaling onto the
    constraint, step halved on failure), on `pairs` sampled similar and dissimilar pairs. `ridge`
    adds ridge·trace/D·I to the similar-pair scatter, which keeps the problem bounded when the
    similar differences span fewer dimensions than the data. Returns M scaled so the
    dissimilar constraint holds with equality (on the sampled pairs).

    The default iterations are few on purpose: the full-matrix optimum tends to low rank (it
    favours spreading well-separated classes apart over separating neighbours), which on
    synthetic 100-class 128-d data took 1-NN accuracy from 0.93 after 10 iterations down to
    0.36 after 100 while the objective kept improving on held-out pairs. Stopping early from
    the Euclidean start acts as the regulariser.
    """
    X, y = _data(X, y)
    rng = np.random.default_rng(seed)
    first, second = _sample_pairs(y, pairs, rng, same=True)
    similar = X[first] - X[second]
    first, second = _sample_pairs(y, pairs, rng, same=False)
    dissimilar = X[first] - X[second]
    d = X.shape[1]
    scatter = similar.T @ similar
    scatter += ridge * max(np.trace(scatter), 1e-300) / d * np.eye(d)

    def spread(matrix: np.ndarray) -> tuple[float, np.ndarray]:
        squared = np.maximum(np.sum((dissimilar @ matrix) * dissimilar, axis=1), 1e-300)
        return float(np.sqrt(squared).sum()), squared

    metric = np.eye(d) / np.trace(scatter)
    value, squared = spread(metric)
    step = 0.1
    for _ in range(max_iter):
        # gradient of Σ_dissimilar d_M / sqrt(Σ_similar d_M²), which is scale-free, at Σ_similar d_M² = 1
        gradient = (dissimilar / (2.0 * np.sqrt(squared))[:, None]).T @ dissimilar - value / 2.0 * scatter
        gradient *= np.linalg.norm(metric) / max(float(np.linalg.norm(gradient)), 1e-300)
        candidate = project_psd(metric + step * gradient)
        size = float(np.sum(scatter * candidate))
        if size <= 0.0:
            step *= 0.5
            continue
        candidate /= size
        candidate_value, candidate_squared = spread(candidate)
        if candidate_value > value:
            gain = (candidate_value - value) / value
            metric, value, squared = candidate, candidate_value, candidate_squared
            step = min(1.0, step * 1.5)
            if gain < tol:
                break
        else:
            step *= 0.5
            if step < 1e-10:
                break
    return metric / value**2


# ---------------------------------------------------------------- LMNN


def fit_lmnn(
    X: np.ndarray,
    y: np.ndarray,
    k: int = 3,
    push_weight: float = 0.5,
    max_iter: int = 100,
    candidates: int = 20,
    refresh: int = 5,
    tol: float = 1e-6,
) -> np.ndarray:
    """Weinberger & Saul's LMNN by projected (sub)gradient descent with an adaptive step.

    Loss: (1 − μ) Σ_{i, j target} d_M(i,j)² + μ Σ_{i, j target, l other class} [1 + d_M(i,j)² − d_M(i,l)²]₊,
    targets being each point's k nearest same-class points by Euclidean distance. As in the
    authors' solver, impostors are tracked in an active set: each point's `candidates` nearest
    differently-labelled points under the current M, refreshed every `refresh` iterations.
    Starts from I scaled so the mean squared target distance is `INITIAL_TARGET_MARGINS` margins:
    then only other-class points about as close as the targets are active impostors, which the
    tracked set follows well (starting at one margin makes nearly every triplet active and the
    small active set unreliable), and the result does not depend on the data's units.
    Memory is O(N·candidates + chunk·N).
    """
    X, y = _data(X, y)
    _, labels = np.unique(y, return_inverse=True)
    n, d = X.shape
    largest = np.bincount(labels).max()
    if largest < 2:
        raise InputError("LMNN needs a class with at least two items")
    k_used = min(k, largest - 1)
    target_index, target_valid = _nearest_masked(X, k_used, _excluding(labels, same_class=False))
    anchors = np.repeat(np.arange(n), k_used)[target_valid.ravel()]
    targets = target_index.ravel()[target_valid.ravel()]
    count = min(candidates, n - 1)
    target_diff = X[anchors] - X[targets]
    metric = INITIAL_TARGET_MARGINS * np.eye(d) / np.mean(np.sum(target_diff**2, axis=1))

    def objective(
        factor: np.ndarray, impostors: np.ndarray, impostor_valid: np.ndarray
    ) -> tuple[float, np.ndarray]:
        Z = X @ factor.T
        target_sq = np.sum((Z[anchors] - Z[targets]) ** 2, axis=1)
        hinge = 1.0 + target_sq[:, None] - _distances_to(Z, impostors)[anchors]
        active = (hinge > 0.0) & impostor_valid[anchors]
        loss = (1.0 - push_weight) * target_sq.sum() + push_weight * hinge[active].sum()
        pull = (1.0 - push_weight) + push_weight * active.sum(axis=1)
        flat = (anchors[:, None] * count + np.arange(count)).ravel()
        push = -push_weight * np.bincount(flat, weights=active.ravel(), minlength=n * count)
        rows = np.concatenate([anchors, np.repeat(np.arange(n), count)])
        cols = np.concatenate([targets, impostors.ravel()])
        return loss, _weighted_scatter(X, rows, cols, np.concatenate([pull, push]))

    metric, factor = _psd_factor(metric)
    impostors, impostor_valid = _impostors(X, factor, labels, count)
    loss, gradient = objective(factor, impostors, impostor_valid)
    step = 0.1 * np.linalg.norm(metric) / max(float(np.linalg.norm(gradient)), 1e-300)
    for iteration in range(1, max_iter + 1):
        candidate, candidate_factor = _psd_factor(metric - step * gradient)
        candidate_loss, candidate_gradient = objective(candidate_factor, impostors, impostor_valid)
        if candidate_loss < loss:
            gain = (loss - candidate_loss) / max(loss, 1e-300)
            metric, factor, loss, gradient = candidate, candidate_factor, candidate_loss, candidate_gradient
            step *= 1.1
            if gain < tol:
                break
        else:
            step *= 0.5
            if step < 1e-12 * np.linalg.norm(metric) / max(float(np.linalg.norm(gradient)), 1e-300):
                break
        if iteration % refresh == 0:
            impostors, impostor_valid = _impostors(X, factor, labels, count)
            loss, gradient = objective(factor, impostors, impostor_valid)
    return metric


def _excluding(labels: np.ndarray, same_class: bool) -> Callable[[slice], np.ndarray]:
    """Exclusion masks for `_nearest_masked`: same-class items (impostor search) or other-class
    items (target search), and always the item itself."""

    def excluded(rows: slice) -> np.ndarray:
        same = labels[rows, None] == labels[None, :]
        mask = same if same_class else ~same
        mask[np.arange(rows.stop - rows.start), np.arange(rows.start, rows.stop)] = True
        return mask

    return excluded


def _impostors(
    X: np.ndarray, factor: np.ndarray, labels: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    return _nearest_masked(X @ factor.T, count, _excluding(labels, same_class=True))


def _distances_to(Z: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(N, C) squared distances from each row of Z to the rows `index[i]`, chunked over rows."""
    out = np.empty(index.shape)
    chunk = max(1, CHUNK_ELEMENTS // (index.shape[1] * Z.shape[1]))
    for start in range(0, len(Z), chunk):
        rows = slice(start, start + chunk)
        difference = Z[rows, None, :] - Z[index[rows]]
        out[rows] = np.einsum("icd,icd->ic", difference, difference)
    return out


def _weighted_scatter(X: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_p w_p (x_rows[p] − x_cols[p])(x_rows[p] − x_cols[p])ᵀ via the graph Laplacian: Xᵀ(D − W − Wᵀ)X."""
    n = len(X)
    W = sparse.csr_matrix((weights, (rows, cols)), shape=(n, n))
    degree = np.asarray(W.sum(axis=0)).ravel() + np.asarray(W.sum(axis=1)).ravel()
    cross = X.T @ (W @ X)
    return (X * degree[:, None]).T @ X - cross - cross.T


# ---------------------------------------------------------------- retrieval metrics


def whitening(X: np.ndarray, components: int, shrinkage: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, W): W's rows are the top `components` principal directions of X, each divided by the
    square root of its variance shrunk toward the mean kept variance, (1 − s) λᵢ + s λ̄.

    With s = 0 and every component, W (x − mean) has identity covariance (W = Σ^(-1/2) up to a rotation).
    """
    X, _ = _data(X)
    if not 0.0 <= shrinkage <= 1.0:
        raise InputError(f"shrinkage must be in [0, 1], got {shrinkage}")
    components = max(1, min(int(components), X.shape[1]))
    mean = X.mean(axis=0)
    centred = X - mean
    values, directions = np.linalg.eigh(centred.T @ centred / len(X))
    values = np.clip(values[::-1][:components], 0.0, None)
    directions = directions[:, ::-1][:, :components]
    shrunk = (1.0 - shrinkage) * values + shrinkage * values.mean()
    if shrunk.min() <= 1e-12 * max(shrunk.max(), 1e-300):
        raise InputError("the vectors do not vary enough to be whitened")
    return mean, (directions / np.sqrt(shrunk)).T


def _normalized(Z: np.ndarray) -> np.ndarray:
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def fit_retrieval_metric(
    method: str,
    X: np.ndarray,
    y: np.ndarray,
    components: int = RETRIEVAL_COMPONENTS,
    shrinkage: float = RETRIEVAL_SHRINKAGE,
    blend: float = RETRIEVAL_BLEND,
) -> tuple[np.ndarray, np.ndarray]:
    """(M, mean) for ranking by nearest neighbours as x ↦ normalise(L (x − mean)), LᵀL = M.

    Fitted the way the library searches: the labelled vectors are whitened (shrunk PCA to at most
    `components` directions, one per 4 vectors), L2-normalised, and `method` (mmc or lmnn) is fitted
    there; its matrix, scaled to the same mean pair distance, is blended with the identity of the
    whitened space, A = (1 − blend) I + blend A_method, a regulariser that keeps what the
    whitening gained when the labels are too few for a full metric. M = Wᵀ A W has rank
    `components`; `blend` 0 is the whitening alone.
    """
    X, y = _data(X, y)
    if method not in ("mmc", "lmnn"):
        raise InputError(f"unknown metric method {method!r}; choose mmc or lmnn")
    if not 0.0 <= blend <= 1.0:
        raise InputError(f"blend must be in [0, 1], got {blend}")
    mean, W = whitening(X, min(components, max(1, len(X) // 4)), shrinkage)
    Z = _normalized((X - mean) @ W.T)
    A = np.eye(len(W))
    if blend > 0.0:
        learned = fit_mmc(Z, y) if method == "mmc" else fit_lmnn(Z, y)
        A = (1.0 - blend) * A + blend * _scaled_like_euclidean(learned, Z)
    matrix = W.T @ A @ W
    return (matrix + matrix.T) / 2.0, mean


def _scaled_like_euclidean(matrix: np.ndarray, X: np.ndarray) -> np.ndarray:
    """`matrix` scaled so random pairs of X have the same mean squared distance as under Euclidean."""
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, len(X), size=(2, min(4096, len(X) ** 2)))
    differences = X[first] - X[second]
    euclidean = np.mean(np.sum(differences**2, axis=1))
    learned = np.mean(np.sum((differences @ matrix) * differences, axis=1))
    return matrix * (euclidean / learned) if euclidean > 0.0 and learned > 0.0 else matrix


# ---------------------------------------------------------------- dispatch and files


def fit_metric(method: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fit `covariance`, `mmc` or `lmnn` with defaults, scaled so that the mean squared M-distance of
    random pairs equals their mean squared Euclidean distance (ranking-neutral; keeps reported
    distances comparable across metrics)."""
    fitters: dict[str, Callable[[], np.ndarray]] = {
        "covariance": lambda: fit_covariance(X),
        "mmc": lambda: fit_mmc(X, y),
        "lmnn": lambda: fit_lmnn(X, y),
    }
    if method not in fitters:
        raise InputError(f"unknown metric method {method!r}; choose one of: {', '.join(METHODS)}")
    return _scaled_like_euclidean(fitters[method](), np.asarray(X, dtype=np.float64))


@dataclass(frozen=True)
class MetricFile:
    """A metric file's contents: M, its JSON info, and the mean subtracted first (None: none)."""

    matrix: np.ndarray
    info: dict[str, Any]
    mean: np.ndarray | None = None


def save_metric(
    path: str | os.PathLike, matrix: np.ndarray, info: dict[str, Any], mean: np.ndarray | None = None
) -> Path:
    """Write `matrix`, JSON `info` (plus `dim`) and an optional centring `mean` to an npz
    atomically; the matrix is validated first."""
    path = Path(path)
    matrix = _checked_matrix(np.asarray(matrix), "metric matrix")
    payload = json.dumps({**info, "dim": int(matrix.shape[0])}, sort_keys=True)
    centre = None if mean is None else _checked_mean(np.asarray(mean), matrix.shape[0], "metric mean")
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        if centre is None:
            np.savez(handle, matrix=matrix, info=np.array(payload))
        else:
            np.savez(handle, matrix=matrix, info=np.array(payload), mean=centre)
    return path


def load_metric(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read and validate a metric file's matrix and info (never unpickles)."""
    metric = load_metric_file(path)
    return metric.matrix, metric.info


def load_metric_file(path: str | os.PathLike) -> MetricFile:
    """Read and validate a metric file (never unpickles); MetricFileError says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise MetricFileError(f"metric file not found: {path}")
    with open(path, "rb") as handle:
        if handle.read(2) != b"PK":
            raise MetricFileError(f"{path.name} is not an npz archive written by `lookalike train-metric`")
    _check_declared_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in ("matrix", "info", "mean") if name in archive.files}
    except ValueError as exc:  # numpy refuses object arrays without unpickling them
        raise MetricFileError(f"{path.name} holds pickled objects; Lookalike never unpickles files") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise MetricFileError(f"{path.name} is not a readable npz archive: {exc}") from exc
    if "matrix" not in arrays:
        raise MetricFileError(
            f"{path.name} has no 'matrix' array; was it written by `lookalike train-metric`?"
        )
    matrix = _checked_matrix(arrays["matrix"], path.name)
    mean = arrays.get("mean")
    return MetricFile(
        matrix,
        _parse_info(arrays.get("info"), path.name),
        None if mean is None else _checked_mean(mean, matrix.shape[0], path.name),
    )


def _checked_mean(mean: np.ndarray, dim: int, source: str) -> np.ndarray:
    """A finite float64 vector of the metric's dimension, or MetricFileError."""
    if mean.dtype.kind not in "fiu" or mean.shape != (dim,) or not np.isfinite(mean).all():
        raise MetricFileError(
            f"{source}: the mean must be {dim} finite numbers, got {mean.dtype} {mean.shape}"
        )
    return mean.astype(np.float64)


def _check_declared_sizes(path: Path) -> None:
    """Read the shapes the archive's arrays declare (their .npy headers) and refuse sizes no metric
    has, before numpy allocates them: a few bytes can declare a 100000 x 100000 matrix (80 GB)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info.file_size for info in archive.infolist()}
            headers = {
                name: _npy_header(archive, name)
                for name in ("matrix.npy", "info.npy", "mean.npy")
                if name in members
            }
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise MetricFileError(f"{path.name} is not a readable npz archive: {exc}") from exc
    for name, (shape, dtype) in headers.items():
        declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if name == "matrix.npy" and (
            max(shape, default=0) > MAX_EMBEDDING_DIM or declared > 8 * MAX_EMBEDDING_DIM**2
        ):
            raise MetricFileError(
                f"{path.name}: the metric must be a square matrix of at most {MAX_EMBEDDING_DIM} "
                f"dimensions, but it declares shape {shape}"
            )
        if name == "mean.npy" and declared > 8 * MAX_EMBEDDING_DIM:
            raise MetricFileError(f"{path.name}: its mean declares shape {shape}, longer than any vector")
        if name == "info.npy" and declared > MAX_INFO_BYTES:
            raise MetricFileError(
                f"{path.name}: its info declares {declared} bytes, more than any metric file holds"
            )
        if members[name] < declared and not dtype.hasobject:  # object arrays are refused when read
            raise MetricFileError(f"{path.name}: {name} is shorter than its header says (a cut-off file)")


def _npy_header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of a .npy member, without reading its data."""
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"{name} is in an unknown .npy format version {version}")
    return shape, dtype


def _parse_info(info_array: np.ndarray | None, source: str) -> dict[str, Any]:
    if info_array is None:
        return {}
    if info_array.shape != () or info_array.dtype.kind != "U":
        raise MetricFileError(f"{source}: 'info' must be a JSON string")
    try:
        info = json.loads(str(info_array[()]))
    except json.JSONDecodeError as exc:
        raise MetricFileError(f"{source}: 'info' is not valid JSON: {exc}") from exc
    if not isinstance(info, dict):
        raise MetricFileError(f"{source}: 'info' must be a JSON object")
    return info


def _checked_matrix(matrix: np.ndarray, source: str) -> np.ndarray:
    """A float64 symmetric PSD square matrix, or MetricFileError naming the first problem."""
    if matrix.dtype.kind not in "fiu":
        raise MetricFileError(f"{source}: the metric must be a real numeric matrix, not {matrix.dtype}")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise MetricFileError(
            f"{source}: the metric must be a non-empty square matrix, got shape {matrix.shape}"
        )
    matrix = matrix.astype(np.float64)
    if not np.isfinite(matrix).all():
        raise MetricFileError(f"{source}: the metric contains NaN or infinite values")
    scale = np.abs(matrix).max()
    if scale == 0.0:
        raise MetricFileError(f"{source}: the metric is all zeros")
    if np.abs(matrix - matrix.T).max() > SYMMETRY_TOLERANCE * scale:
        raise MetricFileError(f"{source}: the metric is not symmetric")
    matrix = (matrix + matrix.T) / 2.0
    eigenvalues = np.linalg.eigvalsh(matrix)
    if eigenvalues.min() < -PSD_TOLERANCE * np.abs(eigenvalues).max():
        raise MetricFileError(
            f"{source}: the metric is not positive semi-definite (smallest eigenvalue {eigenvalues.min():.3g})"
        )
    if not MIN_EIGENVALUE <= eigenvalues.max() <= MAX_EIGENVALUE:
        raise MetricFileError(
            f"{source}: the metric is scaled so far (largest eigenvalue {eigenvalues.max():.3g}) that every "
            "distance would overflow or be 0; refit it with `lookalike train-metric`"
        )
    return matrix
