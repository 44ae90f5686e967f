"""Nearest-neighbour indexes over L2 distance: HNSW (hnswlib) and exact brute force (numpy).

Both answer true Euclidean distances (hnswlib's squared distances are square-rooted), are
safe to call from several threads (hnswlib forbids knn_query during add_items, so every
call takes the index lock), and save atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import hnswlib
import numpy as np

from trainer.atomicio import atomic_target, atomic_write_bytes

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 256
EXACT_CHUNK = 4096


@dataclass(frozen=True)
class EfTuning:
    """How an HNSW index's ef was chosen: recall@k measured on `queries` of its own vectors
    when it held `size` of them (see `ef_tuning`)."""

    size: int
    k: int
    target: float
    recall: float | None  # None: too few vectors to measure
    queries: int


class VectorIndex(Protocol):
    """What the library needs from an index: add, remove, query, save, and its ids."""

    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def query(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def ids(self) -> np.ndarray: ...

    def save(self, path: Path) -> None: ...

    def __len__(self) -> int: ...


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {vectors.shape}")
    return matrix


class ExactIndex:
    """Brute-force search: exact, fast enough for small libraries, and the oracle in tests."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._lock = threading.Lock()
        self._ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._norms = np.zeros(0, dtype=np.float32)  # squared, kept beside the vectors

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> np.ndarray:
        with self._lock:
            return self._ids.copy()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        matrix = _as_matrix(vectors, self.dim)
        with self._lock:
            keep = ~np.isin(self._ids, ids)
            self._ids = np.concatenate([self._ids[keep], ids])
            self._vectors = np.concatenate([self._vectors[keep], matrix])
            self._norms = np.concatenate([self._norms[keep], _squared_norms(matrix)])

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
            self._ids, self._vectors, self._norms = self._ids[keep], self._vectors[keep], self._norms[keep]

    def query(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_matrix(vectors, self.dim)
        with self._lock:
            ids, data, norms = self._ids, self._vectors, self._norms
        k = min(k, len(ids))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        out_ids = np.empty((len(queries), k), dtype=np.int64)
        out_dist = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), EXACT_CHUNK):
            q = queries[start : start + EXACT_CHUNK]
            sq = norms[None, :] - 2.0 * (q @ data.T) + _squared_norms(q)[:, None]
            part = (
                np.argpartition(sq, k - 1, axis=1)[:, :k]
                if k < len(ids)
                else np.tile(np.arange(len(ids)), (len(q), 1))
            )
            part_sq = np.take_along_axis(sq, part, axis=1)
            order = np.lexsort((ids[part], part_sq), axis=1)
            best = np.take_along_axis(part, order, axis=1)
            out_ids[start : start + len(q)] = ids[best]
            out_dist[start : start + len(q)] = np.sqrt(
                np.maximum(np.take_along_axis(part_sq, order, axis=1), 0.0)
            )
        return out_ids, out_dist

    def save(self, path: Path) -> None:
        with self._lock, atomic_target(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, ids=self._ids, vectors=self._vectors)

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        with np.load(path, allow_pickle=False) as data:
            vectors = data["vectors"].astype(np.float32)
            index = cls(vectors.shape[1])
            index._ids, index._vectors = data["ids"].astype(np.int64), vectors
            index._norms = _squared_norms(vectors)
        return index


class HnswIndex:
    """hnswlib HNSW graph over L2 with growing capacity and deletions.

    Deleted labels stay in hnswlib's graph as tombstones and their slots are reused by later adds.
    """

    def __init__(
        self,
        dim: int,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef: int = HNSW_EF_SEARCH,
        capacity: int = 1024,
        threads: int = 0,
    ) -> None:
        self.dim = dim
        self.m, self.ef_construction, self.ef = m, ef_construction, ef
        self.tuning: EfTuning | None = None
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._tombstones: set[int] = set()
        self._index = hnswlib.Index(space="l2", dim=dim)
        self._index.init_index(
            max_elements=capacity, M=m, ef_construction=ef_construction, allow_replace_deleted=True
        )
        self._index.set_ef(ef)
        if threads:
            self._index.set_num_threads(threads)

    def __len__(self) -> int:
        return len(self._live)

    def ids(self) -> np.ndarray:
        with self._lock:
            return np.array(sorted(self._live), dtype=np.int64)

    def set_ef(self, ef: int, tuning: EfTuning | None = None) -> None:
        """Search breadth from now on; `tuning` records the measurement that chose it, if any."""
        with self._lock:
            self.ef, self.tuning = ef, tuning
            self._index.set_ef(ef)

    def live_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Those of `ids` still live, and their stored vectors in the same order."""
        with self._lock:
            kept = np.array(
                [i for i in np.asarray(ids, dtype=np.int64) if int(i) in self._live], dtype=np.int64
            )
            if len(kept) == 0:
                return kept, np.zeros((0, self.dim), dtype=np.float32)
            return kept, np.asarray(self._index.get_items(kept), dtype=np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        matrix = _as_matrix(vectors, self.dim)
        if len(ids) == 0:
            return
        with self._lock:
            needed = self._index.get_current_count() + len(ids)
            capacity = self._index.get_max_elements()
            if needed > capacity:
                self._index.resize_index(max(needed, capacity * 2))
            # Labels hnswlib already holds are updated in place; only new labels may take a
            # deleted slot (replace_deleted would otherwise leave a second, stale copy behind).
            known = np.fromiter(
                ((int(i) in self._live or int(i) in self._tombstones) for i in ids),
                dtype=bool,
                count=len(ids),
            )
            for label in self._tombstones.intersection(int(i) for i in ids[known]):
                self._index.unmark_deleted(label)
                self._tombstones.discard(label)
            if known.any():
                self._index.add_items(matrix[known], ids[known], replace_deleted=False)
            if not known.all():
                self._index.add_items(matrix[~known], ids[~known], replace_deleted=True)
            self._live.update(int(i) for i in ids)

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            for label in np.asarray(ids, dtype=np.int64):
                label = int(label)
                if label in self._live:
                    # already a tombstone in hnswlib when a stale sidecar said it was live
                    with contextlib.suppress(RuntimeError):
                        self._index.mark_deleted(label)
                    self._live.discard(label)
                    self._tombstones.add(label)

    def query(self, vectors: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest live ids and distances; `ef` overrides the search breadth for this call."""
        queries = _as_matrix(vectors, self.dim)
        with self._lock:
            k = min(k, len(self._live))
            if k <= 0:
                empty = np.zeros((len(queries), 0))
                return empty.astype(np.int64), empty.astype(np.float32)
            if ef is None:
                ef = self.ef
                tuned_for = self.tuning.k + 1 if self.tuning else k  # the tuner asks k + 1 (own entry)
                if k > tuned_for:
                    ef = math.ceil(ef * k / tuned_for)  # as wide per result as when tuned
            ef = max(ef, k)
            self._index.set_ef(ef)
            while True:
                try:
                    labels, sq = self._index.knn_query(queries, k=k)
                    break
                except RuntimeError:
                    if ef >= 4 * len(self._live):
                        raise
                    ef *= 2
                    self._index.set_ef(ef)
            self._index.set_ef(self.ef)
        return labels.astype(np.int64), np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)

    def save(self, path: Path) -> None:
        path = Path(path)
        with self._lock:
            with atomic_target(path) as tmp:
                self._index.save_index(str(tmp))
                digest = _file_digest(tmp)
            meta = {"m": self.m, "ef_construction": self.ef_construction, "ef": self.ef, "dim": self.dim}
            meta["tuning"] = asdict(self.tuning) if self.tuning else None
            meta["graph_blake2b"] = digest
            meta["live"] = sorted(self._live)
            atomic_write_bytes(_sidecar(path), json.dumps(meta).encode())

    @classmethod
    def load(cls, path: Path) -> HnswIndex:
        """Load an index; its live ids are hnswlib's labels minus tombstones known from the sidecar."""
        path = Path(path)
        meta = json.loads(_sidecar(path).read_text())
        if meta.get("graph_blake2b") != _file_digest(path):
            raise RuntimeError(f"{path.name} and its sidecar are from different saves (an interrupted save)")
        index = cls.__new__(cls)
        index.dim, index.m = int(meta["dim"]), int(meta["m"])
        index.ef_construction, index.ef = int(meta["ef_construction"]), int(meta["ef"])
        index.tuning = EfTuning(**meta["tuning"]) if meta.get("tuning") else None
        index._lock = threading.Lock()
        index._index = hnswlib.Index(space="l2", dim=index.dim)
        index._index.load_index(str(path), allow_replace_deleted=True)
        index._index.set_ef(index.ef)
        labels = {int(i) for i in index._index.get_ids_list()}
        index._live = labels & {int(i) for i in meta["live"]}
        index._tombstones = labels - index._live
        for stale in index._tombstones:
            with contextlib.suppress(RuntimeError):  # already marked deleted in the saved graph
                index._index.mark_deleted(stale)
        return index


def _squared_norms(matrix: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", matrix, matrix)


def _file_digest(path: Path) -> str:
    """BLAKE2b of a whole file: ties a graph to the sidecar that describes it (about 1 s per GB)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def load_index(path: Path) -> VectorIndex:
    """Load an index saved by `save`, choosing the implementation by file suffix."""
    path = Path(path)
    return ExactIndex.load(path) if path.suffix == ".npz" else HnswIndex.load(path)
