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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from foundation.atomicio import atomic_target, atomic_write_bytes
from foundation.errors import CheckpointError, UserError, WeightsUnavailableError
from foundation.files import open_regular
from foundation.imagetypes import extra_now_installed
from trainer.linear_metric import MetricFileError, load_metric
from trainer.options import DEFAULT_BACKBONE, is_checkpoint_spec

from . import catalogue as cat
from .catalogue import Catalogue
from .ef_tuning import needs_tuning, tune_ef
from .lock import LibraryBusyError, LibraryLock
from .metric_learning import held_out_info, now_iso
from .metrics import (
    DESCRIPTIONS,
    METRICS,
    MetricError,
    MetricSpace,
    check_metric_name,
    euclidean_space,
    learned_space,
    mahalanobis_space,
)
from .progress import Cancelled, CancelToken, ProgressCallback, ProgressMeter
from .scanner import FileEntry, fingerprint, scan_folder
from .vector_index import CorruptIndexError, ExactIndex, HnswIndex, VectorIndex, load_index

if TYPE_CHECKING:
    from .embedder import Embedder

EXACT_LIMIT = 2000
SAVE_EVERY_SECONDS = 30.0
MAHALANOBIS_FILE = "mahalanobis-transform.npz"
MAHALANOBIS_FIT_SAMPLE = 20_000  # vectors the whitening is fitted on, at most
DEFAULT_K = 12


class LibraryError(UserError, RuntimeError):
    """Something about the library or a request to it is wrong; the message says what."""


class CatalogueLostError(LibraryError):
    """The catalogue is gone or empty while the library's other files show it held images."""


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
    """Drift found between the catalogue, its vectors and the indexes (and whether it was repaired)."""

    missing_from_index: dict[str, int] = field(default_factory=dict)
    extra_in_index: dict[str, int] = field(default_factory=dict)
    vanished_files: int = 0
    repaired: bool = False
    indexed: int = 0  # vectors in the catalogue
    lost: list[str] = field(default_factory=list)  # indexes whose files are gone
    damaged: dict[str, str] = field(default_factory=dict)  # unusable index files, and why
    foreign_vectors: int = 0  # vectors not made by the library's model
    vector_dims: list[int] = field(default_factory=list)  # more than one: mixed models
    to_embed: int = 0  # files waiting for `index` after a repair

    @property
    def empty(self) -> bool:
        """Nothing was ever indexed (as opposed to indexes that were lost)."""
        return self.indexed == 0 and not self.lost and not self.damaged

    @property
    def consistent(self) -> bool:
        return (
            not any(self.missing_from_index.values())
            and not any(self.extra_in_index.values())
            and not self.lost
            and not self.damaged
            and not self.foreign_vectors
            and len(self.vector_dims) <= 1
        )


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
        self._embedder_key: tuple[str, int | None] | None = None  # (spec, image size) it was made for
        self.created = False  # whether `open` made a new library

    # -- opening and model ---------------------------------------------------------------
    @classmethod
    def open(
        cls,
        root: str | os.PathLike | None = None,
        model: str | None = None,
        image_size: int | None = None,
        device: str = "auto",
    ) -> Library:
        """Open or create a library (`created` says which); `model` (a backbone name or
        checkpoint) switches its model, which only the process allowed to write may do.

        A catalogue that is missing or empty while the library's other files show it held
        images is refused (CatalogueLostError), never silently replaced by an empty one.
        """
        root = Path(root) if root is not None else default_library_dir()
        database = root / "catalogue.sqlite"
        _refuse_lost_catalogue(database)
        created = not database.exists() or database.stat().st_size == 0
        root.mkdir(parents=True, exist_ok=True)
        (root / "indexes").mkdir(exist_ok=True)
        try:
            catalogue = Catalogue(str(database))
        except cat.LibraryVersionError as exc:
            raise LibraryError(str(exc)) from None
        library = cls(root, catalogue, device)
        library.created = created
        try:
            model = absolute_spec(model) if model is not None else None
            if catalogue.get_meta("model_spec") is None:
                catalogue.set_meta("model_spec", model or DEFAULT_BACKBONE)
                if image_size:
                    catalogue.set_meta("image_size", str(image_size))
            elif model is not None or image_size is not None:
                library.set_model(model or library.model_spec, image_size)
        except BaseException:
            catalogue.close()
            raise
        return library

    def close(self) -> None:
        """Save changed indexes and close the catalogue, which is closed even when saving fails
        (a full disk): its committed rows are already safe, and the indexes are caches."""
        try:
            self.save_indexes()
        finally:
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
        """The library's model, loaded on first use (importing and loading it takes a moment)
        and loaded again when another process has switched the library to another model."""
        with self._lock:
            key = (self.model_spec, self.image_size)
            if self._embedder is None or self._embedder_key != key:
                self._embedder, self._embedder_key = self._load_embedder(*key), key
                self._spaces.clear()  # made for the vectors of the model loaded before, if any
                self._indexes.clear()
                self._dirty.clear()
            if self.catalogue.get_meta("model_fingerprint") != self._embedder.fingerprint:
                self._forget_vectors(self._embedder.fingerprint)
            return self._embedder

    def _load_embedder(self, spec: str, image_size: int | None) -> Embedder:
        from .embedder import Embedder  # imports torch: only when a model is needed

        try:
            return Embedder(spec, image_size=image_size, device=self.device)
        except (WeightsUnavailableError, CheckpointError, ValueError) as exc:
            raise LibraryError(f"cannot load model {spec!r}: {exc}") from None

    def set_model(self, spec: str, image_size: int | None = None) -> bool:
        """Use another model; returns True when the library must re-embed (run `index`).

        Only the writer may switch: while another process indexes, LibraryBusyError is raised
        before anything is changed (that process would otherwise store the old model's vectors).
        """
        spec = absolute_spec(spec)
        with self._writer:
            embedder = self._load_embedder(spec, image_size)
            with self._lock:
                self._embedder, self._embedder_key = embedder, (spec, image_size or None)
                self.catalogue.set_meta("model_spec", spec)
                self.catalogue.set_meta("image_size", str(image_size or ""))
                self._spaces.clear()
                self._indexes.clear()
                self._dirty.clear()
                if self.catalogue.get_meta("model_fingerprint") == embedder.fingerprint:
                    return False
                self._forget_vectors(embedder.fingerprint)
                return True

    def _forget_vectors(self, fingerprint_: str) -> None:
        """Make `fingerprint_` the library's model: its vectors and model-made skips are reset
        in one transaction and the indexes (caches of the old vectors) deleted; writer only."""
        with self._writer, self._lock:
            self.catalogue.reset_vectors(fingerprint_)
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
        unlisted: list[str] = []  # subfolders that cannot be listed now: their files are kept
        for folder_id, folder in folders.items():
            if not _listable(folder):
                report.unavailable.append(folder)
                continue
            for entry in scan_folder(folder, unlisted):
                present.setdefault(entry.path, (folder_id, entry))
                if len(present) % 500 == 0:
                    meter.done = len(present)
                    meter.report()
                if cancel is not None and cancel.cancelled:
                    report.cancelled = True
                    return report
        known = self.catalogue.all_files()
        offline = {folder_id for folder_id, folder in folders.items() if folder in report.unavailable}
        report.unavailable += unlisted
        vanished = {
            path: row
            for path, row in known.items()
            if path not in present and row.folder_id not in offline and not _below_any(path, unlisted)
        }
        by_fingerprint = {row.fingerprint: row for row in vanished.values() if row.status == cat.INDEXED}
        inserts, moves, deletes = [], [], []
        for path, (folder_id, entry) in present.items():
            row = known.get(path)
            unchanged = row is not None and row.size == entry.size and row.mtime_ns == entry.mtime_ns
            if unchanged and row is not None and not _worth_retrying(row, path):
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
            report.skipped += status == cat.SKIPPED  # known unreadable already: counted with the rest
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
            stored = self.catalogue.store_results(batch.vectors, batch.failures, embedder.fingerprint)
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
                    upgraded = self._new_index(len(index), index.dim)
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

    def forget_files(self, ids: list[int]) -> None:
        """Drop files that left the library (moved to the trash by a clean-up) from the catalogue
        and every index at once, without waiting for a scan and without re-embedding anything."""
        with self._writer:
            self.catalogue.apply_scan([], [], [int(i) for i in ids])
            self._drop_from_indexes(np.asarray(ids, dtype=np.int64))

    def restore_files(self, files: list[tuple[str, int, int, str | None, np.ndarray | None, str]]) -> int:
        """Catalogue files put back from the trash with the vectors they had: (path, size,
        mtime_ns, fingerprint, vector, model fingerprint). A vector made by another model than
        the library's now is not reused: that file waits for `index`. Returns the count indexed."""
        folders = self.catalogue.folders()
        with self._writer:
            inserts, vectors = [], {}
            for path, size, mtime_ns, digest, vector, model in files:
                folder_id = next((f for f, root in folders.items() if _inside(path, root)), None)
                if folder_id is None or self.catalogue.file_by_path(path) is not None:
                    continue
                inserts.append((path, folder_id, size, mtime_ns, digest, cat.PENDING, None))
                if vector is not None and model == self._fingerprint():
                    vectors[path] = vector
            self.catalogue.apply_scan(inserts, [], [])
            by_id = {}
            for path, vector in vectors.items():
                row = self.catalogue.file_by_path(path)
                if row is not None:
                    by_id[row.id] = vector
            stored = self.catalogue.store_results(by_id, {}, self._fingerprint()) if by_id else []
            self._add_to_indexes({i: by_id[i] for i in stored})
        return len(stored)

    # -- metrics and indexes -------------------------------------------------------------
    def metric_space(self, metric: str) -> MetricSpace:
        """The transform for `metric`, fitted (Mahalanobis) or loaded (learned) on first use; a
        fitted one is refitted once the library has grown by half or shrunk by a third since."""
        check_metric_name(metric)
        with self._lock:
            space = self._spaces.get(metric)
            if space is None or (space.fitted_on and space.stale(self._indexed_count(space.index_key))):
                space = self._spaces[metric] = self._make_space(metric)
            return space

    def _indexed_count(self, key: str) -> int:
        """Vectors the library holds: its loaded index's size (kept in step), else the catalogue's."""
        entry = self._indexes.get(key)
        return len(entry[0]) if entry is not None else len(self.catalogue.indexed_ids())

    def _make_space(self, metric: str) -> MetricSpace:
        if metric in ("euclidean", "cosine"):
            return euclidean_space(metric)
        if metric == "learned":
            path = self.catalogue.get_meta("learned_metric")
            if not path:
                raise MetricError("no learned metric in use yet: `lookalike train-metric FOLDER` learns one")
            return learned_space(path, self.embedder.dim, self.embedder.fingerprint)
        return self._mahalanobis_space()

    def _mahalanobis_space(self) -> MetricSpace:
        """The saved whitening while it fits (same model and vector length, the library neither
        grown by half nor shrunk by a third since), else one refitted from a sample of the
        catalogue. Only the writer saves a refit; a reader's stays in memory."""
        stored = self.root / "indexes" / MAHALANOBIS_FILE
        ids = self.catalogue.indexed_ids()
        if stored.exists():
            try:
                saved, model, _ = _read_transform(stored)
            except CorruptIndexError:  # refitted below from the catalogue, and saved over it
                saved, model = None, ""
            dims = self.catalogue.vector_dims()
            if (
                saved is not None
                and saved.mean is not None
                and not saved.stale(len(ids))
                and model == self._fingerprint()
                and all(saved.mean.shape == (dim,) for dim in dims)
            ):
                return saved
        if len(ids) > MAHALANOBIS_FIT_SAMPLE:
            ids = np.sort(np.random.default_rng(0).choice(ids, MAHALANOBIS_FIT_SAMPLE, replace=False))
        chunks = [self.catalogue.vectors(ids[i : i + 4096].tolist())[1] for i in range(0, len(ids), 4096)]
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
        space = mahalanobis_space(vectors, library_size=len(self.catalogue.indexed_ids()))
        try:
            with self._writer, atomic_target(stored) as tmp, open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    transform=np.asarray(space.transform, dtype=np.float32),
                    mean=np.asarray(space.mean, dtype=np.float32),
                    count=np.int64(space.fitted_on),
                    model=self._fingerprint(),
                    fitted_at=now_iso(),
                )
        except LibraryBusyError:  # another process is writing this library
            pass
        return space

    def use_learned_metric(self, path: str | os.PathLike, force: bool = False) -> None:
        """Make a metric file from `lookalike train-metric` the library's `learned` metric. A file
        whose held-out check found it no better than Euclidean is refused unless `force`."""
        path = os.path.abspath(os.fspath(path))
        learned_space(path, self.embedder.dim, self.embedder.fingerprint)
        held_out = held_out_info(load_metric(path)[1])
        if held_out is not None and not held_out.better and not force:
            raise MetricError(f"{held_out.verdict()}; the library keeps its current metric")
        with self._lock:
            self.catalogue.set_meta("learned_metric", path)
            self._spaces.pop("learned", None)
            self._indexes.pop("learned", None)

    def metrics_available(self) -> list[dict]:
        """Every metric with its one-line description and, for fitted ones, when and on what they
        were fitted (learned: the held-out before/after): for `status` and the menus."""
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
        stored = self.root / "indexes" / MAHALANOBIS_FILE
        try:
            saved, _, fitted_at = _read_transform(stored) if stored.exists() else (None, "", "")
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
                    index = load_index(path)
                    if index.dim == (space.dim or self.embedder.dim):
                        return index, True
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):  # rebuilt, saved over
                pass
        return self._new_index(len(self.catalogue.indexed_ids()), space.dim), False

    def _new_index(self, count: int, dim: int | None = None) -> VectorIndex:
        """An empty index for `count` vectors of `dim` dimensions (default: the model's)."""
        dim = dim or self.embedder.dim
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
        meta: dict[str, object] = {"model": self._fingerprint(), "token": space.token, "file": path.name}
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
        from foundation.images import ImageLoadError

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
        """Compare the stored vectors with the library's model and each index with the catalogue:
        lost, damaged or stale index files, vectors of another model, drift. With `repair`, drop
        the foreign vectors (they wait for `index`), rescan the folders, and rebuild and save
        every index; only the writer may repair."""
        report = CheckReport()
        truth = self.catalogue.indexed_ids()
        model = self._fingerprint()
        report.indexed = len(truth)
        dims = self.catalogue.vector_dims()
        report.vector_dims = sorted(dims)
        dim = max(dims, key=dims.__getitem__) if dims else None  # the most common length
        report.foreign_vectors = len(self.catalogue.foreign_vectors(model, dim))
        folder = self.root / "indexes"
        keys = {meta_path.name.removesuffix(".meta.json") for meta_path in folder.glob("*.meta.json")}
        if len(truth):
            keys.add("euclidean")  # every indexing run builds it
        for key in sorted(keys):
            have, problem = self._inspect_index(key, model, dim)
            if problem == "lost":
                report.lost.append(key)
            elif problem:
                report.damaged[key] = problem
            report.missing_from_index[key] = len(np.setdiff1d(truth, have))
            report.extra_in_index[key] = len(np.setdiff1d(have, truth))
        transform = folder / "mahalanobis-transform.npz"
        if transform.exists():
            try:
                _read_transform(transform)
            except CorruptIndexError as exc:
                report.damaged[transform.name] = str(exc)
        report.vanished_files = sum(1 for path in self.catalogue.all_files() if not os.path.exists(path))
        if repair:
            with self._writer:
                foreign = self.catalogue.foreign_vectors(self.embedder.fingerprint, self.embedder.dim)
                self.catalogue.set_status(foreign, cat.PENDING)
                self._drop_from_indexes(np.asarray(foreign, dtype=np.int64))
                self.scan()
                for key in sorted(keys | {"euclidean"}):
                    try:
                        self.index_for(key)
                    except MetricError:
                        continue
                self.save_indexes()
            report.to_embed = len(self.catalogue.pending())
            report.repaired = True
        return report

    def _inspect_index(self, key: str, model: str, dim: int | None) -> tuple[np.ndarray, str | None]:
        """The ids a saved index holds, and what is wrong with it: None, "lost" or a reason."""
        meta_path = self.root / "indexes" / f"{key}.meta.json"
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


def _refuse_lost_catalogue(database: Path) -> None:
    """Raise CatalogueLostError when `database` is missing or empty but the library held images."""
    try:
        if database.stat().st_size > 0:
            return
        state = "empty (0 bytes)"
    except FileNotFoundError:
        state = "missing"
    indexes = database.parent / "indexes"
    traces = [cat.recovery_path(database)] if cat.recovery_path(database).exists() else []
    traces += [p for p in indexes.iterdir() if p.is_file()] if indexes.is_dir() else []
    if traces:
        raise CatalogueLostError(
            f"the catalogue {database} is {state}, but this library held images; "
            "`lookalike check --repair` rebuilds it from your photo folders"
        )


def _read_transform(path: Path) -> tuple[MetricSpace | None, str, str]:
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


def _below_any(path: str, folders: list[str]) -> bool:
    """Whether `path` is one of `folders` or inside one of them."""
    return any(path == folder or path.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def _inside(path: str, folder: str) -> bool:
    """Whether `path` lies below the library folder `folder`."""
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


def _listable(folder: str) -> bool:
    """Whether a library folder can be read now (an unmounted drive or offline share cannot)."""
    try:
        with os.scandir(folder):
            return True
    except OSError:
        return False


def _worth_retrying(row: cat.FileRow, path: str) -> bool:
    """A skipped file that can be read now (permissions fixed, or its HEIC or RAW extra installed)."""
    if row.status == cat.SKIPPED and extra_now_installed(row.reason):
        return True
    reason = (row.reason or "").lower()
    if row.status != cat.SKIPPED or not ("permission denied" in reason or "cannot read file" in reason):
        return False
    try:
        with open_regular(path):
            return True
    except OSError:
        return False
