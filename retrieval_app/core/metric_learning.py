"""Learning a metric from labelled folders, checked on held-out photos before the library uses it.

One pipeline for the CLI (`lookalike train-metric`) and the fine-tune dialog: the folder is
embedded with the library's own model (the vectors the library holds), some photos of every
class are held out, the metric is fitted on the rest (`trainer.linear_metric.fit_retrieval_metric`)
and both it and Euclidean search the held-out photos among themselves. The file records that
before/after and the fit date; `Library.use_learned_metric` refuses a metric that was not better.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from foundation.errors import InputError

from .progress import CancelToken, Progress, ProgressCallback, ProgressMeter

if TYPE_CHECKING:
    from .library import Library

METHODS = ("lmnn", "mmc")
DEFAULT_METHOD = "lmnn"
HELD_OUT_FRACTION = 0.3  # of each class's photos, at least MIN_HELD_OUT
MIN_HELD_OUT = 2  # a held-out photo needs another of its class to find
MIN_FIT = 2  # photos of a class that stay for fitting
MIN_CLASSES = 2


@dataclass(frozen=True)
class HeldOut:
    """Recall@1 of the held-out photos searched among themselves, before and after."""

    euclidean: float
    learned: float
    photos: int

    @property
    def better(self) -> bool:
        return self.learned > self.euclidean

    def verdict(self) -> str:
        """One line for the CLI and the dialog."""
        if not self.better:
            return (
                "the learned metric is not better than Euclidean on your held-out photos: "
                f"{self.learned:.2f} vs {self.euclidean:.2f}"
            )
        return f"held-out Recall@1 {self.euclidean:.2f} → {self.learned:.2f} on {self.photos} of your photos"

    def to_json(self) -> dict[str, float | int]:
        return {"euclidean": self.euclidean, "learned": self.learned, "photos": self.photos}


@dataclass(frozen=True)
class LearnedMetric:
    """What `learn_metric` wrote and how it did on the held-out photos."""

    path: Path
    method: str
    images: int
    classes: int
    seconds: float
    held_out: HeldOut
    fitted_at: str


def now_iso() -> str:
    """The current UTC time, to the second, in ISO 8601: fit dates in metric files."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def held_out_info(info: dict) -> HeldOut | None:
    """The held-out figures of a metric file's info, or None when it has none (an older file)."""
    figures = info.get("held_out")
    if not isinstance(figures, dict):
        return None
    try:
        return HeldOut(float(figures["euclidean"]), float(figures["learned"]), int(figures["photos"]))
    except (KeyError, TypeError, ValueError):
        return None


def metric_path(root: Path, folder: str, method: str) -> Path:
    """A new file under `<library>/metrics/`, named after the folder and method, never an existing one."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(folder).name).strip("-") or "labelled"
    path = root / "metrics" / f"{slug}-{method}.npz"
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def split_held_out(
    labels: np.ndarray, fraction: float = HELD_OUT_FRACTION, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices: per class, a seeded `fraction` (at least MIN_HELD_OUT) held out when
    the class can spare them and keep MIN_FIT photos; smaller classes only fit."""
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = max(MIN_HELD_OUT, round(fraction * len(members)))
        if len(members) - count < MIN_FIT:
            fit.extend(members.tolist())
            continue
        held.extend(members[:count].tolist())
        fit.extend(members[count:].tolist())
    return np.sort(np.asarray(fit, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


def recall_at_1(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of items whose nearest other item (exact Euclidean) has the same label."""
    from trainer.evaluation import retrieval_metrics

    return float(retrieval_metrics(vectors, labels, ks=(1,))["recall@1"])


def mapped(vectors: np.ndarray, matrix: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """x ↦ normalise(L (x − mean)) with LᵀL = matrix: the space the library searches."""
    from trainer.linear_metric import transform_from_metric

    Z = (np.asarray(vectors, dtype=np.float64) - mean) @ transform_from_metric(matrix).T
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def embed_labelled(
    library: Library, folder: str, progress: ProgressCallback | None, cancel: CancelToken | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """(vectors, labels, classes) of a labelled folder, embedded by the library's own model."""
    from trainer.data import scan_labelled_folder

    images = scan_labelled_folder(folder)
    if len(images.classes) < MIN_CLASSES:
        raise InputError(
            f"learning a metric needs at least {MIN_CLASSES} classes; {folder} has {len(images.classes)}"
        )
    meter = ProgressMeter("embedding", len(images), progress)
    meter.report()
    vectors: dict[int, np.ndarray] = {}
    items = [(i, str(path)) for i, path in enumerate(images.paths)]
    for batch in library.embedder.embed_files(items, cancel):
        vectors.update(batch.vectors)
        meter.advance(len(batch))
    if cancel is not None:
        cancel.raise_if_cancelled()
    order = sorted(vectors)
    X = np.stack([vectors[i] for i in order]).astype(np.float64)
    y = np.asarray([images.labels[i] for i in order], dtype=np.int64)
    return X, y, len(images.classes)


def learn_metric(
    library: Library,
    folder: str,
    method: str = DEFAULT_METHOD,
    out: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    seed: int = 0,
) -> LearnedMetric:
    """Embed `folder`, fit `method` on most of each class and measure it on the rest; when it beat
    Euclidean there, fit it again on every photo (the procedure the check measured, with all the
    data). Saved to `out` (default: a new file under `<library>/metrics/`); the library is not
    switched to it here (`Library.use_learned_metric` does, and refuses one that lost)."""
    from trainer.linear_metric import fit_retrieval_metric, save_metric

    if method not in METHODS:
        raise InputError(f"unknown metric method {method!r}; choose one of: {', '.join(METHODS)}")
    out = Path(out) if out is not None else metric_path(library.root, folder, method)
    if out.suffix != ".npz":
        raise InputError(f"the metric file must be a .npz path, got {out}")
    started = time.perf_counter()
    X, y, classes = embed_labelled(library, folder, progress, cancel)
    fit, held = split_held_out(y, seed=seed)
    if len(np.unique(y[held])) < MIN_CLASSES:
        raise InputError(
            f"checking a learned metric needs at least {MIN_CLASSES} classes with "
            f"{MIN_HELD_OUT + MIN_FIT} or more photos each"
        )
    if progress is not None:
        progress(Progress("fitting", 0, 0, message=f"Fitting {method.upper()}", unit="step"))
    matrix, mean = fit_retrieval_metric(method, X[fit], y[fit])
    if cancel is not None:
        cancel.raise_if_cancelled()
    held_out = HeldOut(
        euclidean=recall_at_1(X[held], y[held]),
        learned=recall_at_1(mapped(X[held], matrix, mean), y[held]),
        photos=len(held),
    )
    fitted_on = len(fit)
    if held_out.better:
        if progress is not None:
            progress(
                Progress("fitting", 0, 0, message=f"Fitting {method.upper()} on every photo", unit="step")
            )
        matrix, mean = fit_retrieval_metric(method, X, y)
        fitted_on = len(X)
        if cancel is not None:
            cancel.raise_if_cancelled()
    fitted_at = now_iso()
    seconds = time.perf_counter() - started
    info = {
        "method": method,
        "model": library.model_spec,
        "model_fingerprint": library.embedder.fingerprint,
        "classes": classes,
        "images": len(X),
        "fitted_on": fitted_on,
        "folder": str(folder),
        "normalize": True,
        "held_out": held_out.to_json(),
        "fitted_at": fitted_at,
        "fit_seconds": round(seconds, 3),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_metric(out, matrix, info, mean=mean)
    return LearnedMetric(out, method, len(X), classes, seconds, held_out, fitted_at)
