"""The library: folders of photos, their catalogue, their vectors and one index per metric.

This facade is all the CLI and the GUI talk to. The catalogue is the truth; indexes are
caches that are checked against it whenever they are loaded, so a process killed at any
point resumes cleanly and never indexes a file twice.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from trainer.atomicio import atomic_target, atomic_write_bytes
from trainer.errors import CheckpointError, WeightsUnavailableError
from trainer.options import DEFAULT_BACKBONE, is_checkpoint_spec

from . import catalogue as cat
from .catalogue import Catalogue
from .ef_tuning import needs_tuning, tune_ef
from .lock import LibraryBusyError, LibraryLock
from .metrics import (
    MetricError,
    MetricSpace,
    check_metric_name,
    euclidean_space,
    learned_space,
    mahalanobis_space,
)
from .progress import Cancelled, CancelToken, ProgressCallback, ProgressMeter
from .scanner import FileEntry, fingerprint, scan_folder
from .vector_index import ExactIndex, HnswIndex, VectorIndex, load_index

if TYPE_CHECKING:
    from .embedder import Embedder

EXACT_LIMIT = 2000
SAVE_EVERY_SECONDS = 30.0
MAHALANOBIS_REFIT_GROWTH = 2.0
DEFAULT_K = 12


class LibraryError(RuntimeError):
    """Something about the library or a request to it is wrong; the message says what."""


@dataclass(frozen=True)
class SearchResult:
    rank: int
    path: str
    distance: float
    id: int


@dataclass
class FolderStatus:
    path: str
    files: int
    indexed: int
    skipped: int
    pending: int


@dataclass
class LibraryStatus:
    model: str
    folders: list[FolderStatus]
    files: int
    indexed: int
    pending: int
    skipped: list[tuple[str, str]]
    index_bytes: int
    search: dict[str, dict] = field(default_factory=dict)  # per saved index, see `search_summary`

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "folders": [f.path for f in self.folders],
            "files": self.files,
            "indexed": self.indexed,
            "pending": self.pending,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    moved: int = 0
    embedded: int = 0
    skipped: int = 0
    unchanged: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    reasons: dict[str, str] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """Drift found between the catalogue and the indexes (and whether it was repaired)."""

    missing_from_index: dict[str, int] = field(default_factory=dict)
    extra_in_index: dict[str, int] = field(default_factory=dict)
    vanished_files: int = 0
    repaired: bool = False

    @property
    def consistent(self) -> bool:
        return not any(self.missing_from_index.values()) and not any(self.extra_in_index.values())


def default_library_dir() -> Path:
    """`$LOOKALIKE_LIBRARY`, else a per-user data folder (platformdirs)."""
    env = os.environ.get("LOOKALIKE_LIBRARY")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("Lookalike", appauthor=False)) / "library"


class Library:
    """Open with `Library.open(folder)`; thread-safe for one writer and many readers."""

    def __init__(self, root: Path, catalogue: Catalogue, device: str = "auto") -> None:
        self.root = root
        self.catalogue = catalogue
        self.device = device
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._spaces: dict[str, MetricSpace] = {}
        self._indexes: dict[str, tuple[VectorIndex, MetricSpace]] = {}
        self._dirty: set[str] = set()
        self._writer = LibraryLock(root)

    # -- opening and model ---------------------------------------------------------------
    @classmethod
    def open(
        cls,
        root: str | os.PathLike | None = None,
        model: str | None = None,
        image_size: int | None = None,
        device: str = "auto",
    ) -> Library:
        """Open or create a library; `model` (a backbone name or checkpoint) switches its model."""
        root = Path(root) if root is not None else default_library_dir()
        root.mkdir(parents=True, exist_ok=True)
        (root / "indexes").mkdir(exist_ok=True)
        try:
            catalogue = Catalogue(str(root / "catalogue.sqlite"))
        except cat.LibraryVersionError as exc:
            raise LibraryError(str(exc)) from None
        library = cls(root, catalogue, device)
        model = absolute_spec(model) if model is not None else None
        if catalogue.get_meta("model_spec") is None:
            catalogue.set_meta("model_spec", model or DEFAULT_BACKBONE)
            if image_size:
                catalogue.set_meta("image_size", str(image_size))
        elif model is not None or image_size is not None:
            library.set_model(model or library.model_spec, image_size)
        return library

    def close(self) -> None:
        self.save_indexes()
        self.catalogue.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model_spec(self) -> str:
        return self.catalogue.get_meta("model_spec") or DEFAULT_BACKBONE

    @property
    def image_size(self) -> int | None:
        value = self.catalogue.get_meta("image_size")
        return int(value) if value else None

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use (importing and loading it takes a moment)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder(self.model_spec, self.image_size)
                stored = self.catalogue.get_meta("model_fingerprint")
                if stored != self._embedder.fingerprint:
                    self._forget_vectors(self._embedder.fingerprint)
            return self._embedder

    def _load_embedder(self, spec: str, image_size: int | None) -> Embedder:
        from .embedder import Embedder  # imports torch: only when a model is needed

        try:
            return Embedder(spec, image_size=image_size, device=self.device)
        except (WeightsUnavailableError, CheckpointError, ValueError) as exc:
            raise LibraryError(f"cannot load model {spec!r}: {exc}") from None

    def set_model(self, spec: str, image_size: int | None = None) -> bool:
        """Use another model; returns True when the library must re-embed (run `index`)."""
        spec = absolute_spec(spec)
        embedder = self._load_embedder(spec, image_size)
        with self._lock:
            self._embedder = embedder
            self.catalogue.set_meta("model_spec", spec)
            self.catalogue.set_meta("image_size", str(image_size or ""))
            if self.catalogue.get_meta("model_fingerprint") == embedder.fingerprint:
                return False
            self._forget_vectors(embedder.fingerprint)
            return True

    def _forget_vectors(self, fingerprint_: str) -> None:
        self.catalogue.reset_vectors()
        self.catalogue.set_meta("model_fingerprint", fingerprint_)
        self._spaces.clear()
        self._indexes.clear()
        self._dirty.clear()
        for stale in (self.root / "indexes").iterdir():
            stale.unlink(missing_ok=True)

    # -- folders and scanning ------------------------------------------------------------
    def folders(self) -> list[str]:
        return list(self.catalogue.folders().values())

    def add_folder(self, path: str | os.PathLike) -> str:
        folder = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if not os.path.isdir(folder):
            raise LibraryError(f"not a folder: {folder}")
        self.catalogue.add_folder(folder)
        return folder

    def remove_folder(self, path: str | os.PathLike) -> None:
        ids = self.catalogue.remove_folder(os.path.abspath(os.fspath(path)))
        self._drop_from_indexes(np.asarray(ids, dtype=np.int64))

    def scan(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> IndexReport:
        """Bring the catalogue in line with the disk: stat only, fingerprints just for new files."""
        report = IndexReport()
        folders = self.catalogue.folders()
        present: dict[str, tuple[int, FileEntry]] = {}
        meter = ProgressMeter("scanning", 0, progress)
        for folder_id, folder in folders.items():
            if not _listable(folder):
                report.unavailable.append(folder)
                continue
            for entry in scan_folder(folder):
                present.setdefault(entry.path, (folder_id, entry))
                if len(present) % 500 == 0:
                    meter.done = len(present)
                    meter.report()
                if cancel is not None and cancel.cancelled:
                    report.cancelled = True
                    return report
        known = self.catalogue.all_files()
        offline = {folder_id for folder_id, folder in folders.items() if folder in report.unavailable}
        vanished = {
            path: row for path, row in known.items() if path not in present and row.folder_id not in offline
        }
        by_fingerprint = {row.fingerprint: row for row in vanished.values() if row.status == cat.INDEXED}
        inserts, moves, deletes = [], [], []
        for path, (folder_id, entry) in present.items():
            row = known.get(path)
            unchanged = row is not None and row.size == entry.size and row.mtime_ns == entry.mtime_ns
            if unchanged and not _worth_retrying(row, path):
                if row.folder_id != folder_id:
                    moves.append((row.id, path, folder_id, entry.size, entry.mtime_ns))
                report.unchanged += 1
                continue
            if entry.error:
                status, reason, digest = cat.SKIPPED, entry.error, None
            else:
                status, reason = cat.PENDING, None
                try:
                    digest = fingerprint(path, entry.size)
                except OSError as exc:
                    status, reason, digest = cat.SKIPPED, f"cannot read file ({exc.strerror})", None
            if row is not None:
                deletes.append(row.id)
                report.changed += 1
            elif digest is not None and digest in by_fingerprint:
                moved = by_fingerprint.pop(digest)
                moves.append((moved.id, path, folder_id, entry.size, entry.mtime_ns))
                vanished.pop(moved.path, None)
                report.moved += 1
                continue
            else:
                report.added += 1
            inserts.append((path, folder_id, entry.size, entry.mtime_ns, digest, status, reason))
        deletes += [row.id for row in vanished.values()]
        report.removed = len(vanished)
        self.catalogue.apply_scan(inserts, moves, deletes)
        self._drop_from_indexes(np.asarray(deletes, dtype=np.int64))
        meter.total = meter.done = len(present)
        meter.report()
        return report

    # -- indexing ------------------------------------------------------------------------
    def index(
        self,
        folders: list[str | os.PathLike] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> IndexReport:
        """Add `folders`, scan every folder, embed what is new or changed, update the indexes."""
        start = time.perf_counter()
        with self._writer:
            for folder in folders or []:
                self.add_folder(folder)
            report = self.scan(progress, cancel)
            if not report.cancelled:
                self._embed_pending(report, progress, cancel)
            try:
                if not report.cancelled:
                    self._tune_indexes(progress=progress, cancel=cancel)
            finally:
                self.save_indexes()
        report.seconds = time.perf_counter() - start
        return report

    def _embed_pending(
        self, report: IndexReport, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> None:
        embedder = self.embedder  # loading it may reset vectors when the model changed
        pending = self.catalogue.pending()
        self.index_for("euclidean")
        meter = ProgressMeter("embedding", len(pending), progress)
        meter.report()
        last_save = time.monotonic()
        for batch in embedder.embed_files(pending, cancel):
            stored = self.catalogue.store_results(batch.vectors, batch.failures)
            self._add_to_indexes({file_id: batch.vectors[file_id] for file_id in stored})
            report.embedded += len(batch.vectors)
            report.skipped += len(batch.failures)
            meter.advance(len(batch))
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                self.save_indexes()
                last_save = time.monotonic()
        report.cancelled = bool(cancel and cancel.cancelled)
        self._upgrade_grown_indexes()

    def _upgrade_grown_indexes(self) -> None:
        """Exact search serves small libraries; past EXACT_LIMIT vectors an HNSW graph takes over."""
        with self._lock:
            for key, (index, space) in list(self._indexes.items()):
                if isinstance(index, ExactIndex) and len(index) >= EXACT_LIMIT:
                    upgraded = self._new_index(len(index))
                    self._reconcile(upgraded, space)
                    self._indexes[key] = (upgraded, space)
                    self._dirty.add(key)

    def _tune_indexes(
        self,
        keys: list[str] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Re-measure the search breadth of each HNSW index (of `keys`, or all) that has grown or
        shrunk enough for its recall to have changed: seconds at 100k vectors, about half a
        minute at 1M. Runs without the library lock, so searches go on meanwhile; a cancelled
        tuning keeps the old ef."""
        with self._lock:
            stale = [
                (key, index)
                for key, (index, _) in self._indexes.items()
                if (keys is None or key in keys) and isinstance(index, HnswIndex) and needs_tuning(index)
            ]
        for key, index in stale:
            try:
                tune_ef(index, k=DEFAULT_K, progress=progress, cancel=cancel)
            except Cancelled:
                return
            with self._lock:
                self._dirty.add(key)

    def _add_to_indexes(self, vectors: dict[int, np.ndarray]) -> None:
        if not vectors:
            return
        ids = np.fromiter(vectors, dtype=np.int64, count=len(vectors))
        matrix = np.stack(list(vectors.values()))
        with self._lock:
            for key, (index, space) in self._indexes.items():
                index.add(ids, space.apply(matrix))
                self._dirty.add(key)

    def _drop_from_indexes(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            for key, (index, _) in self._indexes.items():
                index.remove(ids)
                self._dirty.add(key)

    def exclude(self, paths: list[str]) -> int:
        """Keep files out of results (they stay catalogued as excluded)."""
        ids = [row.id for p in paths if (row := self.catalogue.file_by_path(os.path.abspath(p)))]
        self.catalogue.set_status(ids, cat.EXCLUDED, "excluded by you")
        self._drop_from_indexes(np.asarray(ids, dtype=np.int64))
        return len(ids)

    # -- metrics and indexes -------------------------------------------------------------
    def metric_space(self, metric: str) -> MetricSpace:
        """The transform for `metric`, fitted (Mahalanobis) or loaded (learned) on first use."""
        check_metric_name(metric)
        with self._lock:
            if metric not in self._spaces:
                self._spaces[metric] = self._make_space(metric)
            return self._spaces[metric]

    def _make_space(self, metric: str) -> MetricSpace:
        if metric in ("euclidean", "cosine"):
            return euclidean_space(metric)
        if metric == "learned":
            path = self.catalogue.get_meta("learned_metric")
            if not path:
                raise MetricError(
                    "no learned metric yet: run `lookalike train-metric` and `lookalike use-metric`"
                )
            return learned_space(path, self.embedder.dim, self.embedder.fingerprint)
        return self._mahalanobis_space()

    def _mahalanobis_space(self) -> MetricSpace:
        stored = self.root / "indexes" / "mahalanobis-transform.npz"
        count = len(self.catalogue.indexed_ids())
        if stored.exists():
            with np.load(stored, allow_pickle=False) as data:
                fitted_on = int(data["count"])
                if (
                    fitted_on * MAHALANOBIS_REFIT_GROWTH >= count
                    and str(data["model"]) == self._fingerprint()
                ):
                    return MetricSpace("mahalanobis", data["transform"].astype(np.float32))
        _, vectors = self.catalogue.vectors()
        space = mahalanobis_space(vectors)
        with atomic_target(stored) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, transform=space.transform, count=np.int64(count), model=self._fingerprint())
        return space

    def use_learned_metric(self, path: str | os.PathLike) -> None:
        """Make a metric file from `lookalike train-metric` the library's `learned` metric."""
        path = os.path.abspath(os.fspath(path))
        learned_space(path, self.embedder.dim, self.embedder.fingerprint)
        with self._lock:
            self.catalogue.set_meta("learned_metric", path)
            self._spaces.pop("learned", None)
            self._indexes.pop("learned", None)

    def _fingerprint(self) -> str:
        return self.catalogue.get_meta("model_fingerprint") or ""

    def index_for(self, metric: str) -> tuple[VectorIndex, MetricSpace]:
        """The index searching `metric`'s space, loaded or built and reconciled with the catalogue."""
        space = self.metric_space(metric)
        with self._lock:
            entry = self._indexes.get(space.index_key)
            fresh = entry is None or entry[1].token != space.token
            if fresh:
                index, loaded = self._load_or_create(space)
                if any(self._reconcile(index, space)) or not loaded:
                    self._dirty.add(space.index_key)
                self._indexes[space.index_key] = (index, space)
                self._upgrade_grown_indexes()
            index = self._indexes[space.index_key][0]
        if fresh:
            self._tune_indexes([space.index_key])
        return index, space

    def _index_paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / "indexes"
        return folder / f"{key}.hnsw", folder / f"{key}.npz"

    def _load_or_create(self, space: MetricSpace) -> tuple[VectorIndex, bool]:
        """The saved index of `space` (and True) when it matches the model, else a new one."""
        meta_path = self.root / "indexes" / f"{space.index_key}.meta.json"
        wanted = {"model": self._fingerprint(), "token": space.token}
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
                path = Path(meta_path.parent / meta["file"])
                if {k: meta.get(k) for k in wanted} == wanted and path.exists():
                    return load_index(path), True
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                pass
        return self._new_index(len(self.catalogue.indexed_ids())), False

    def _new_index(self, count: int) -> VectorIndex:
        dim = self.embedder.dim
        return ExactIndex(dim) if count < EXACT_LIMIT else HnswIndex(dim, capacity=max(1024, count))

    def _reconcile(self, index: VectorIndex, space: MetricSpace) -> tuple[int, int]:
        """Add catalogued vectors the index lacks and drop ids the catalogue no longer has."""
        truth = self.catalogue.indexed_ids()
        have = index.ids()
        extra = np.setdiff1d(have, truth)
        missing = np.setdiff1d(truth, have)
        index.remove(extra)
        for start in range(0, len(missing), 4096):
            ids, vectors = self.catalogue.vectors(missing[start : start + 4096].tolist())
            if len(ids):
                index.add(ids, space.apply(vectors))
        return len(missing), len(extra)

    def save_indexes(self) -> None:
        """Write every changed index atomically, then its meta (which names the file it describes).

        Only the library's writer saves: while another process indexes, a reader's changes stay
        in memory (the indexes are rebuilt from the catalogue whenever they drift).
        """
        with self._lock:
            keys = sorted(key for key in self._dirty if key in self._indexes)
        if not keys:
            return
        try:
            with self._writer:
                for key in keys:
                    with self._lock:  # cleared first: an add during the save marks it again
                        self._dirty.discard(key)
                        entry = self._indexes.get(key)
                    if entry is None:  # the model changed meanwhile; nothing of it to keep
                        continue
                    index, space = entry
                    try:
                        self._save_index(key, index, space)
                    except BaseException:
                        with self._lock:
                            self._dirty.add(key)
                        raise
        except LibraryBusyError:
            return

    def _save_index(self, key: str, index: VectorIndex, space: MetricSpace) -> None:
        hnsw_path, exact_path = self._index_paths(key)
        path = hnsw_path if isinstance(index, HnswIndex) else exact_path
        index.save(path)
        meta = {"model": self._fingerprint(), "token": space.token, "file": path.name}
        meta["search"] = search_summary(index)
        atomic_write_bytes(self.root / "indexes" / f"{key}.meta.json", json.dumps(meta).encode())
        other = exact_path if path == hnsw_path else hnsw_path
        for leftover in (other, other.with_name(other.name + ".json")):
            leftover.unlink(missing_ok=True)

    # -- searching -----------------------------------------------------------------------
    def search(
        self,
        query: str | os.PathLike | Image.Image,
        k: int | None = DEFAULT_K,
        metric: str = "euclidean",
        max_distance: float | None = None,
    ) -> list[SearchResult]:
        """Nearest library images to a file or a decoded image; the query file itself is left out."""
        if k is not None and k < 1:
            raise LibraryError("k must be at least 1")
        vector, own_id = self.query_vector(query)
        return self.search_vector(vector, k, metric, max_distance, exclude_id=own_id)

    def query_vector(self, query: str | os.PathLike | Image.Image) -> tuple[np.ndarray, int | None]:
        """Embed a query file or decoded image; also return the query's own catalogue id, if any,
        so that searches can leave the query itself out of its results."""
        if isinstance(query, Image.Image):
            return self.embedder.embed_image(query), None
        path = os.path.abspath(os.fspath(query))
        from .images import ImageLoadError

        try:
            vector = self.embedder.embed_file(path)
        except ImageLoadError as exc:
            raise LibraryError(f"cannot use {path} as a query: {exc}") from None
        row = self.catalogue.file_by_path(path)
        return vector, (row.id if row is not None else None)

    def search_vector(
        self,
        vector: np.ndarray,
        k: int | None = DEFAULT_K,
        metric: str = "euclidean",
        max_distance: float | None = None,
        exclude_id: int | None = None,
    ) -> list[SearchResult]:
        index, space = self.index_for(metric)
        wanted = len(index) if k is None else k
        ids, l2 = index.query(space.apply(vector[None, :]), wanted + 1)
        distances = space.report(l2[0])
        paths = self.catalogue.paths_for(ids[0])
        results: list[SearchResult] = []
        for file_id, distance in zip(ids[0].tolist(), distances.tolist(), strict=True):
            if file_id == exclude_id or file_id not in paths:
                continue
            if max_distance is not None and distance > max_distance:
                break
            results.append(SearchResult(len(results) + 1, paths[file_id], float(distance), file_id))
            if len(results) == wanted:
                break
        return results

    # -- status and checks ---------------------------------------------------------------
    def status(self) -> LibraryStatus:
        folders = self.catalogue.folders()
        counts = self.catalogue.counts_by_folder()
        rows = []
        for folder_id, path in folders.items():
            c = counts.get(folder_id, {})
            rows.append(
                FolderStatus(
                    path,
                    sum(c.values()),
                    c.get(cat.INDEXED, 0),
                    c.get(cat.SKIPPED, 0),
                    c.get(cat.PENDING, 0),
                )
            )
        index_bytes = sum(p.stat().st_size for p in (self.root / "indexes").iterdir() if p.is_file())
        search = {}
        for meta_path in sorted((self.root / "indexes").glob("*.meta.json")):
            key = meta_path.name.removesuffix(".meta.json")
            try:
                search[key] = json.loads(meta_path.read_text())["search"]
            except (OSError, ValueError, KeyError):
                continue
        return LibraryStatus(
            model=self.model_spec,
            folders=rows,
            files=sum(r.files for r in rows),
            indexed=sum(r.indexed for r in rows),
            pending=sum(r.pending for r in rows),
            skipped=self.catalogue.skipped(),
            index_bytes=index_bytes,
            search=search,
        )

    def check(self, repair: bool = False) -> CheckReport:
        """Compare each saved index with the catalogue; with `repair`, fix and save them."""
        report = CheckReport()
        truth = self.catalogue.indexed_ids()
        for meta_path in sorted((self.root / "indexes").glob("*.meta.json")):
            key = meta_path.name.removesuffix(".meta.json")
            try:
                meta = json.loads(meta_path.read_text())
                have = load_index(meta_path.parent / meta["file"]).ids()
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                have = np.zeros(0, dtype=np.int64)
            report.missing_from_index[key] = len(np.setdiff1d(truth, have))
            report.extra_in_index[key] = len(np.setdiff1d(have, truth))
        report.vanished_files = sum(1 for path in self.catalogue.all_files() if not os.path.exists(path))
        if repair:
            with self._writer:
                self.scan()
                for key in list(report.missing_from_index):
                    try:
                        self.index_for(key)
                    except MetricError:
                        continue
                self.save_indexes()
            report.repaired = True
        return report


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


def absolute_spec(spec: str) -> str:
    """A checkpoint path made absolute (the library is used from any folder); names stay names."""
    return os.path.abspath(os.path.expanduser(spec)) if is_checkpoint_spec(spec) else spec


def _listable(folder: str) -> bool:
    """Whether a library folder can be read now (an unmounted drive or offline share cannot)."""
    try:
        with os.scandir(folder):
            return True
    except OSError:
        return False


def _worth_retrying(row: cat.FileRow, path: str) -> bool:
    """A file skipped because it could not be read, that can be read now (permissions fixed)."""
    reason = (row.reason or "").lower()
    if row.status != cat.SKIPPED or not ("permission denied" in reason or "cannot read file" in reason):
        return False
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
