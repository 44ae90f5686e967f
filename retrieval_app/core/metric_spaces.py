"""The library's metric spaces: each metric's transform of its vectors, made on first use.

Euclidean and cosine need none; Mahalanobis is a whitening fitted on a sample of the library's
vectors, saved beside the indexes and refitted once the library has grown by half or shrunk by a
third; the learned metric is the file from `lookalike train-metric` the person chose to use.
A fit is saved by whichever process can take the library's write lock (none is indexing), and
kept in memory only when another process is writing or the disk is full: it is a cache.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from foundation.atomicio import atomic_target
from trainer.linear_metric import MetricFileError, load_metric

from .catalogue import Catalogue
from .lock import LibraryBusyError, LibraryLock
from .metric_learning import held_out_info, now_iso
from .metrics import (
    DESCRIPTIONS,
    FIT_SAMPLE,
    METRICS,
    MetricError,
    MetricSpace,
    check_metric_name,
    euclidean_space,
    learned_space,
    mahalanobis_space,
)
from .vector_index import CorruptIndexError

if TYPE_CHECKING:
    from .embedder import Embedder

MAHALANOBIS_FILE = "mahalanobis-transform.npz"


class MetricSpaces:
    """The spaces made so far, by metric name; `embedder` gives the library's model (loaded on
    first use) and `library_size` how many vectors a space's index holds now."""

    def __init__(
        self,
        folder: Path,
        catalogue: Catalogue,
        lock: threading.RLock,
        writer: LibraryLock,
        embedder: Callable[[], Embedder],
        library_size: Callable[[str], int],
    ) -> None:
        self.folder = folder
        self.catalogue = catalogue
        self._lock = lock
        self._writer = writer
        self._embedder = embedder
        self._library_size = library_size
        self._spaces: dict[str, MetricSpace] = {}
        self._generation = 0  # bumped by `forget`: a space made before is not installed after

    def get(self, metric: str) -> MetricSpace:
        """The transform for `metric`, fitted (Mahalanobis) or loaded (learned) on first use; a
        fitted one is refitted once the library has grown by half or shrunk by a third since."""
        check_metric_name(metric)
        with self._lock:
            space, generation = self._spaces.get(metric), self._generation
        if space is not None and not (space.fitted_on and space.stale(self._library_size(space.index_key))):
            return space
        space = self._make(metric)  # outside the lock: a fit reads and whitens up to FIT_SAMPLE vectors
        with self._lock:
            if generation == self._generation:  # else the model or metric file changed meanwhile
                self._spaces[metric] = space
        return space

    def forget(self, metric: str | None = None) -> None:
        """Drop the space of `metric` (or all of them): made for another model or metric file."""
        with self._lock:
            self._generation += 1
            if metric is None:
                self._spaces.clear()
            else:
                self._spaces.pop(metric, None)

    def _make(self, metric: str) -> MetricSpace:
        if metric in ("euclidean", "cosine"):
            return euclidean_space(metric)
        if metric == "learned":
            path = self.catalogue.get_meta("learned_metric")
            if not path:
                raise MetricError("no learned metric in use yet: `lookalike train-metric FOLDER` learns one")
            embedder = self._embedder()
            return learned_space(path, embedder.dim, embedder.fingerprint)
        return self._mahalanobis()

    def _mahalanobis(self) -> MetricSpace:
        """The saved whitening while it fits (same model and vector length, the library neither
        grown by half nor shrunk by a third since), else one refitted from a sample of the
        catalogue, saved unless another process is writing the library or the disk is full."""
        stored = self.folder / MAHALANOBIS_FILE
        model = self.catalogue.get_meta("model_fingerprint") or ""
        ids = self.catalogue.indexed_ids()
        if stored.exists():
            try:
                saved, saved_model, _ = read_transform(stored)
            except CorruptIndexError:  # refitted below from the catalogue, and saved over it
                saved, saved_model = None, ""
            dims = self.catalogue.vector_dims()
            if (
                saved is not None
                and saved.mean is not None
                and not saved.stale(len(ids))
                and saved_model == model
                and all(saved.mean.shape == (dim,) for dim in dims)
            ):
                return saved
        library_size = len(ids)
        if len(ids) > FIT_SAMPLE:  # only the sample is read from the catalogue
            ids = np.sort(np.random.default_rng(0).choice(ids, FIT_SAMPLE, replace=False))
        chunks = [vectors for _, vectors in self.catalogue.vectors_in_batches(ids.tolist())]
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
        space = mahalanobis_space(vectors, library_size=library_size)
        try:
            with self._writer, atomic_target(stored) as tmp, open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    transform=np.asarray(space.transform, dtype=np.float32),
                    mean=np.asarray(space.mean, dtype=np.float32),
                    count=np.int64(space.fitted_on),
                    model=model,
                    fitted_at=now_iso(),
                )
        except (LibraryBusyError, OSError):  # another process writes the library, or the disk is full
            pass
        return space

    def use_learned(self, path: str | os.PathLike, force: bool = False) -> None:
        """Check a metric file from `lookalike train-metric` and make it the `learned` metric. A
        file whose held-out check found it no better than Euclidean is refused (MetricError)
        unless `force`."""
        path = os.path.abspath(os.fspath(path))
        embedder = self._embedder()
        learned_space(path, embedder.dim, embedder.fingerprint)
        held_out = held_out_info(load_metric(path)[1])
        if held_out is not None and not held_out.better and not force:
            raise MetricError(f"{held_out.verdict()}; the library keeps its current metric")
        with self._lock:
            self.catalogue.set_meta("learned_metric", path)
            self.forget("learned")

    def damage(self) -> tuple[str, str] | None:
        """(file name, reason) when the saved whitening is damaged, for `check`."""
        stored = self.folder / MAHALANOBIS_FILE
        if not stored.exists():
            return None
        try:
            read_transform(stored)
        except CorruptIndexError as exc:
            return stored.name, str(exc)
        return None

    # -- for status and the menus --------------------------------------------------------
    def available(self) -> list[dict]:
        """Every metric with its one-line description and, for fitted ones, when and on what they
        were fitted (learned: the held-out before/after)."""
        rows: list[dict] = []
        for name in METRICS:
            row: dict = {"name": name, "description": DESCRIPTIONS[name], "available": True}
            if name == "mahalanobis":
                row.update(self._mahalanobis_summary())
            elif name == "learned":
                row.update(self._learned_summary())
            rows.append(row)
        return rows

    def _mahalanobis_summary(self) -> dict:
        stored = self.folder / MAHALANOBIS_FILE
        try:
            saved, _, fitted_at = read_transform(stored) if stored.exists() else (None, "", "")
        except CorruptIndexError:
            saved, fitted_at = None, ""
        if saved is None:
            return {"note": "fitted on the library's photos when first used"}
        return {"fitted_at": fitted_at or None, "fitted_on": saved.fitted_on}

    def _learned_summary(self) -> dict:
        path = self.catalogue.get_meta("learned_metric")
        if not path:
            return {"available": False, "note": "none in use; `lookalike train-metric FOLDER` learns one"}
        try:
            info = load_metric(path)[1]
        except MetricFileError as exc:
            return {"available": False, "file": path, "note": str(exc)}
        held_out = held_out_info(info)
        row = {"file": path, "method": info.get("method"), "fitted_at": info.get("fitted_at")}
        if held_out is not None:
            row["held_out"] = held_out.to_json()
            row["note"] = held_out.verdict()
        return row


def read_transform(path: Path) -> tuple[MetricSpace | None, str, str]:
    """A saved Mahalanobis whitening: (space, model fingerprint, fit date); the space is None for a
    file of an older version (no mean: refitted), CorruptIndexError for a damaged one."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            transform = data["transform"].astype(np.float32)
            fitted_on, model = int(data["count"]), str(data["model"])
            mean = data["mean"].astype(np.float32) if "mean" in data.files else None
            fitted_at = str(data["fitted_at"]) if "fitted_at" in data.files else ""
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError, TypeError) as exc:
        raise CorruptIndexError(f"{path.name} is damaged ({exc})") from None
    if transform.ndim != 2 or not np.isfinite(transform).all():
        raise CorruptIndexError(f"{path.name} is damaged (a {transform.shape} transform)")
    if mean is None:
        return None, model, fitted_at
    if mean.shape != (transform.shape[1],) or not np.isfinite(mean).all():
        raise CorruptIndexError(f"{path.name} is damaged (a {mean.shape} mean)")
    return MetricSpace("mahalanobis", transform, mean, True, fitted_on), model, fitted_at
