"""The library's search indexes, one per metric space, kept in step with the catalogue.

An index is a cache of the catalogue's vectors in one metric's space: loaded from disk when its
meta still matches the model and the space, reconciled with the catalogue, moved from exact
search to an HNSW graph as it grows, tuned, and written atomically by whichever process holds
the library's write lock (one that cannot take it keeps its changes in memory).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from foundation.atomicio import atomic_write_bytes

from .catalogue import Catalogue
from .ef_tuning import needs_tuning, tune_ef
from .lock import LibraryBusyError, LibraryLock
from .metrics import MetricSpace
from .progress import Cancelled, CancelToken, ProgressCallback
from .reports import DEFAULT_K
from .vector_index import ExactIndex, HnswIndex, VectorIndex, load_index

EXACT_LIMIT = 2000  # below this many vectors exact search is fast enough and exact


class IndexStore:
    """The loaded indexes by key (a metric space's `index_key`), which of them changed, and
    their files in `folder`; shares the library's lock, writer lock and catalogue."""

    def __init__(
        self, folder: Path, catalogue: Catalogue, lock: threading.RLock, writer: LibraryLock
    ) -> None:
        self.folder = folder
        self.catalogue = catalogue
        self._lock = lock
        self._writer = writer
        self._loaded: dict[str, tuple[VectorIndex, MetricSpace]] = {}
        self._dirty: set[str] = set()

    def model(self) -> str:
        """The fingerprint of the model whose vectors the catalogue holds ("" before any)."""
        return self.catalogue.get_meta("model_fingerprint") or ""

    # -- loading -------------------------------------------------------------------------
    def get(self, space: MetricSpace, model_dim: int) -> tuple[VectorIndex, bool]:
        """The index of `space`, loaded or built and reconciled with the catalogue on first use
        (then True: the caller tunes it, see `tune`, outside the library lock)."""
        with self._lock:
            entry = self._loaded.get(space.index_key)
            fresh = entry is None or entry[1].token != space.token
            if fresh:
                index, loaded = self._load_or_create(space, space.dim or model_dim)
                if any(self._reconcile(index, space)) or not loaded:
                    self._dirty.add(space.index_key)
                self._loaded[space.index_key] = (index, space)
                self.upgrade_grown()
            return self._loaded[space.index_key][0], fresh

    def loaded_size(self, key: str) -> int | None:
        """How many vectors the loaded index of `key` holds (kept in step), None if not loaded."""
        entry = self._loaded.get(key)
        return len(entry[0]) if entry is not None else None

    def forget(self, key: str | None = None) -> None:
        """Drop the loaded index of `key` (or all of them) without saving: the model or the
        space changed, so they are rebuilt from the catalogue when next needed."""
        with self._lock:
            if key is None:
                self._loaded.clear()
                self._dirty.clear()
            else:
                self._loaded.pop(key, None)
                self._dirty.discard(key)

    def delete_files(self) -> None:
        """Delete every file in the folder (caches of another model's vectors); writer only."""
        for stale in self.folder.iterdir():
            stale.unlink(missing_ok=True)

    def _load_or_create(self, space: MetricSpace, dim: int) -> tuple[VectorIndex, bool]:
        """The saved index of `space` (and True) when it matches the model, else a new one."""
        meta_path = self.folder / f"{space.index_key}.meta.json"
        wanted = {"model": self.model(), "token": space.token}
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
                path = Path(meta_path.parent / meta["file"])
                if {k: meta.get(k) for k in wanted} == wanted and path.exists():
                    index = load_index(path)
                    if index.dim == dim:
                        return index, True
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):  # rebuilt, saved over
                pass
        return new_index(len(self.catalogue.indexed_ids()), dim), False

    def _reconcile(self, index: VectorIndex, space: MetricSpace) -> tuple[int, int]:
        """Add catalogued vectors the index lacks and drop ids the catalogue no longer has."""
        truth = self.catalogue.indexed_ids()
        have = index.ids()
        extra = np.setdiff1d(have, truth)
        missing = np.setdiff1d(truth, have)
        index.remove(extra)
        for ids, vectors in self.catalogue.vectors_in_batches(missing.tolist()):
            if len(ids):
                index.add(ids, space.apply(vectors))
        return len(missing), len(extra)

    # -- keeping in step -----------------------------------------------------------------
    def add(self, vectors: dict[int, np.ndarray]) -> None:
        """Add new library vectors (model space) to every loaded index, each in its own space."""
        if not vectors:
            return
        ids = np.fromiter(vectors, dtype=np.int64, count=len(vectors))
        matrix = np.stack(list(vectors.values()))
        with self._lock:
            for key, (index, space) in self._loaded.items():
                index.add(ids, space.apply(matrix))
                self._dirty.add(key)

    def remove(self, ids: np.ndarray) -> None:
        """Drop `ids` from every loaded index."""
        if len(ids) == 0:
            return
        with self._lock:
            for key, (index, _) in self._loaded.items():
                index.remove(ids)
                self._dirty.add(key)

    def upgrade_grown(self) -> None:
        """Exact search serves small libraries; past EXACT_LIMIT vectors an HNSW graph takes over."""
        with self._lock:
            for key, (index, space) in list(self._loaded.items()):
                if isinstance(index, ExactIndex) and len(index) >= EXACT_LIMIT:
                    upgraded = new_index(len(index), index.dim)
                    self._reconcile(upgraded, space)
                    self._loaded[key] = (upgraded, space)
                    self._dirty.add(key)

    def tune(
        self,
        keys: list[str] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Re-measure the search breadth of each HNSW index (of `keys`, or all) that has grown or
        shrunk enough for its recall to have changed: seconds at 100k vectors, about half a
        minute at 1M. Runs without the lock, so searches go on meanwhile; a cancelled tuning
        keeps the old ef."""
        with self._lock:
            stale = [
                (key, index)
                for key, (index, _) in self._loaded.items()
                if (keys is None or key in keys) and isinstance(index, HnswIndex) and needs_tuning(index)
            ]
        for key, index in stale:
            try:
                tune_ef(index, k=DEFAULT_K, progress=progress, cancel=cancel)
            except Cancelled:
                return
            with self._lock:
                self._dirty.add(key)

    # -- saving --------------------------------------------------------------------------
    def save(self) -> None:
        """Write every changed index atomically, then its meta (which names the file it describes).

        Whoever can take the library's write lock saves: while another process indexes, this
        one's changes stay in memory (the indexes are rebuilt from the catalogue when they drift).
        """
        with self._lock:
            keys = sorted(key for key in self._dirty if key in self._loaded)
        if not keys:
            return
        try:
            with self._writer:
                for key in keys:
                    with self._lock:  # cleared first: an add during the save marks it again
                        self._dirty.discard(key)
                        entry = self._loaded.get(key)
                    if entry is None:  # the model changed meanwhile; nothing of it to keep
                        continue
                    try:
                        self._save_one(key, *entry)
                    except BaseException:
                        with self._lock:
                            self._dirty.add(key)
                        raise
        except LibraryBusyError:
            return

    def _save_one(self, key: str, index: VectorIndex, space: MetricSpace) -> None:
        hnsw_path, exact_path = self.folder / f"{key}.hnsw", self.folder / f"{key}.npz"
        path = hnsw_path if isinstance(index, HnswIndex) else exact_path
        index.save(path)
        meta = {
            "model": self.model(),
            "token": space.token,
            "file": path.name,
            "search": search_summary(index),
        }
        atomic_write_bytes(self.folder / f"{key}.meta.json", json.dumps(meta).encode())
        other = exact_path if path == hnsw_path else hnsw_path
        for leftover in (other, other.with_name(other.name + ".json")):
            leftover.unlink(missing_ok=True)

    # -- what is on disk -----------------------------------------------------------------
    def saved_keys(self) -> set[str]:
        """The keys of the indexes saved in the folder (one meta file each)."""
        return {path.name.removesuffix(".meta.json") for path in self.folder.glob("*.meta.json")}

    def saved_summaries(self) -> dict[str, dict]:
        """How each saved index searches (see `search_summary`), by key, for `status`."""
        summaries = {}
        for key in sorted(self.saved_keys()):
            try:
                summaries[key] = json.loads((self.folder / f"{key}.meta.json").read_text())["search"]
            except (OSError, ValueError, KeyError):
                continue
        return summaries

    def size_bytes(self) -> int:
        """Bytes the folder's files take on disk."""
        total = 0
        for path in self.folder.iterdir():
            try:
                total += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:  # a temporary file of a save that just finished
                continue
        return total

    def inspect(self, key: str, model: str, dim: int | None) -> tuple[np.ndarray, str | None]:
        """The ids a saved index holds, and what is wrong with it: None, "lost" or a reason."""
        meta_path = self.folder / f"{key}.meta.json"
        none = np.zeros(0, dtype=np.int64)
        try:
            meta = json.loads(meta_path.read_text())
            index = load_index(meta_path.parent / meta["file"])
        except FileNotFoundError:
            return none, "lost"
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            return none, str(exc)
        if meta.get("model") != model:
            return index.ids(), "made for another model"
        if key == "euclidean" and dim is not None and index.dim != dim:  # other spaces map dimensions
            return index.ids(), f"holds {index.dim}-dimensional vectors, the catalogue {dim}-dimensional"
        return index.ids(), None


def new_index(count: int, dim: int) -> VectorIndex:
    """An empty index for `count` vectors of `dim` dimensions: exact while small, else HNSW."""
    return ExactIndex(dim) if count < EXACT_LIMIT else HnswIndex(dim, capacity=max(1024, count))


def search_summary(index: VectorIndex) -> dict:
    """How an index searches, for `status`: exact or HNSW, its size, and for HNSW the ef in use
    with the recall measured when it was tuned."""
    if not isinstance(index, HnswIndex):
        return {"kind": "exact", "vectors": len(index)}
    tuning = index.tuning
    return {
        "kind": "hnsw",
        "vectors": len(index),
        "ef": index.ef,
        "recall": tuning.recall if tuning else None,
        "recall_k": tuning.k if tuning else None,
    }
