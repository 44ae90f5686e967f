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
import struct
import threading
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import hnswlib
import numpy as np

from foundation.atomicio import atomic_target, atomic_write_bytes

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 256
HNSW_SEED = 100  # hnswlib's own default, named: the level of each new node is drawn from it
BUILD_THREADS = 0  # threads adding to a graph, 0: every core (tests use 1: an order that never varies)
EXACT_CHUNK = 4096
EXACT_REFINE_MARGIN = 32  # candidates beyond k whose distances are recomputed exactly
EXACT_REFINE_ELEMENTS = 1 << 22  # float64 differences held at once while recomputing


class CorruptIndexError(RuntimeError):
    """A saved index cannot be trusted (damaged, truncated, or its parts disagree); it is a
    cache of the catalogue, so it is rebuilt rather than used."""


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

    def live_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

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

    def live_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Those of `ids` held, and their stored vectors in the same order."""
        with self._lock:
            held, data = self._ids, self._vectors
        position = {int(i): row for row, i in enumerate(held)}
        rows = [position[int(i)] for i in np.asarray(ids, dtype=np.int64) if int(i) in position]
        return held[rows], data[rows]

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
        wide = min(len(ids), k + EXACT_REFINE_MARGIN)
        for start in range(0, len(queries), EXACT_CHUNK):
            q = queries[start : start + EXACT_CHUNK]
            # |x|^2 - 2 q.x + |q|^2 in float32 picks the candidates fast, but near 0 it cancels (0.0007
            # for identical 1280-d vectors), so the candidates are then measured by their differences
            sq = norms[None, :] - 2.0 * (q @ data.T) + _squared_norms(q)[:, None]
            part = (
                np.argpartition(sq, wide - 1, axis=1)[:, :wide]
                if wide < len(ids)
                else np.tile(np.arange(len(ids)), (len(q), 1))
            )
            part_sq = _difference_squares(q, data, part)
            order = np.lexsort((ids[part], part_sq), axis=1)[:, :k]
            best = np.take_along_axis(part, order, axis=1)
            out_ids[start : start + len(q)] = ids[best]
            out_dist[start : start + len(q)] = np.sqrt(np.take_along_axis(part_sq, order, axis=1))
        return out_ids, out_dist

    def save(self, path: Path) -> None:
        with self._lock, atomic_target(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, ids=self._ids, vectors=self._vectors)

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        """Load a saved index; CorruptIndexError when the file is damaged or inconsistent."""
        try:
            # an open handle: np.load leaks its own when the zip is damaged
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
                vectors, ids = data["vectors"], data["ids"]
                if vectors.ndim != 2 or ids.shape != (len(vectors),) or ids.dtype.kind not in "iu":
                    raise ValueError(f"ids {ids.shape} do not match vectors {vectors.shape}")
                vectors, ids = vectors.astype(np.float32), ids.astype(np.int64)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as exc:
            raise CorruptIndexError(f"{Path(path).name} is damaged ({exc})") from None
        if len(np.unique(ids)) != len(ids):
            raise CorruptIndexError(f"{Path(path).name} is damaged (an id appears twice)")
        index = cls(vectors.shape[1])
        index._ids, index._vectors, index._norms = ids, vectors, _squared_norms(vectors)
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
        threads: int | None = None,
        seed: int = HNSW_SEED,
    ) -> None:
        """`threads` adding items (None: `BUILD_THREADS`); with one thread and a fixed `seed` the graph is reproducible."""
        self.dim = dim
        self.m, self.ef_construction, self.ef = m, ef_construction, ef
        self.tuning: EfTuning | None = None
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._tombstones: set[int] = set()
        self._index = hnswlib.Index(space="l2", dim=dim)
        self._index.init_index(
            max_elements=capacity,
            M=m,
            ef_construction=ef_construction,
            random_seed=seed,
            allow_replace_deleted=True,
        )
        self._index.set_ef(ef)
        threads = BUILD_THREADS if threads is None else threads
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
            meta: dict[str, Any] = {"m": self.m, "ef_construction": self.ef_construction, "ef": self.ef}
            meta["dim"] = self.dim
            meta["tuning"] = asdict(self.tuning) if self.tuning else None
            meta["graph_blake2b"] = digest
            meta["live"] = sorted(self._live)
            meta["sidecar_blake2b"] = _meta_digest(meta)
            atomic_write_bytes(_sidecar(path), json.dumps(meta).encode())

    @classmethod
    def load(cls, path: Path) -> HnswIndex:
        """Load an index; its live ids are hnswlib's labels minus tombstones known from the sidecar."""
        path = Path(path)
        try:
            meta = json.loads(_sidecar(path).read_text())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"{_sidecar(path).name} is damaged ({exc})") from None
        if not isinstance(meta, dict) or meta.get("graph_blake2b") != _file_digest(path):
            raise CorruptIndexError(
                f"{path.name} and its sidecar are from different saves (an interrupted save)"
            )
        if "sidecar_blake2b" in meta and meta["sidecar_blake2b"] != _meta_digest(meta):
            raise CorruptIndexError(f"{_sidecar(path).name} was changed after it was saved")
        index = cls.__new__(cls)
        try:
            index.dim, index.m = int(meta["dim"]), int(meta["m"])
            index.ef_construction, index.ef = int(meta["ef_construction"]), int(meta["ef"])
            index.tuning = EfTuning(**meta["tuning"]) if meta.get("tuning") else None
            live = {int(i) for i in meta["live"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptIndexError(f"{_sidecar(path).name} is damaged ({exc!r})") from None
        graph_dim = _graph_dim(path)
        if index.dim != graph_dim:  # hnswlib would read every vector with the wrong stride
            raise CorruptIndexError(
                f"{_sidecar(path).name} says {index.dim} dimensions, the graph holds {graph_dim}"
            )
        index._lock = threading.Lock()
        index._index = hnswlib.Index(space="l2", dim=index.dim)
        index._index.load_index(str(path), allow_replace_deleted=True)
        index._index.set_ef(index.ef)
        if BUILD_THREADS:
            index._index.set_num_threads(BUILD_THREADS)
        labels = {int(i) for i in index._index.get_ids_list()}
        index._live = labels & live
        index._tombstones = labels - index._live
        for stale in index._tombstones:
            with contextlib.suppress(RuntimeError):  # already marked deleted in the saved graph
                index._index.mark_deleted(stale)
        return index


def _squared_norms(matrix: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", matrix, matrix)


def _difference_squares(queries: np.ndarray, data: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Squared distances from each query to its candidate rows of `data`, summed from the
    differences in float64: exactly 0 for identical vectors, accurate to float64 otherwise."""
    out = np.empty(candidates.shape, dtype=np.float64)
    rows = max(1, EXACT_REFINE_ELEMENTS // max(1, candidates.shape[1] * data.shape[1]))
    for start in range(0, len(queries), rows):
        block = candidates[start : start + rows]
        differences = data[block].astype(np.float64) - queries[start : start + rows, None, :]
        out[start : start + rows] = np.einsum("qcd,qcd->qc", differences, differences)
    return out


def _file_digest(path: Path) -> str:
    """BLAKE2b of a whole file: ties a graph to the sidecar that describes it (about 1 s per GB)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _meta_digest(meta: dict) -> str:
    """BLAKE2b of a sidecar's fields (all but this digest), so an edited sidecar is detected."""
    fields = {key: value for key, value in meta.items() if key != "sidecar_blake2b"}
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=16).hexdigest()


def _graph_dim(path: Path) -> int:
    """The vector dimension recorded in an hnswlib graph file's header (L2 float32 space).

    The header starts with six size_t fields; the fifth (label offset) minus the sixth (data
    offset) is the bytes of one vector. The graph is covered by the sidecar's digest, so this
    is the dimension the vectors were saved with, whatever the sidecar says.
    """
    with open(path, "rb") as handle:
        header = handle.read(48)
    if len(header) < 48:
        raise CorruptIndexError(f"{path.name} is truncated")
    label_offset, data_offset = struct.unpack("<2Q", header[32:48])
    size = label_offset - data_offset
    if label_offset < data_offset or size % 4 or size == 0:
        raise CorruptIndexError(f"{path.name} has an unreadable header")
    return size // 4


def load_index(path: Path) -> VectorIndex:
    """Load an index saved by `save`, choosing the implementation by file suffix."""
    path = Path(path)
    return ExactIndex.load(path) if path.suffix == ".npz" else HnswIndex.load(path)
