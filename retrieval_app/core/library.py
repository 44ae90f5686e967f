"""The library: folders of photos, their catalogue, their vectors and one index per metric.

This facade is all the CLI and the GUI talk to; it composes parts with one job each: the
catalogue (SQLite, the truth), the scan diff (`scan_diff`), the embedder (the model, switched
here), the metric spaces (`metric_spaces`) and the index store (`index_store`, caches checked
against the catalogue whenever they are loaded), so a process killed at any point resumes
cleanly and never indexes a file twice.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from foundation.errors import CheckpointError, UserError, WeightsUnavailableError
from foundation.files import is_inside
from trainer.options import DEFAULT_BACKBONE, is_checkpoint_spec

from . import catalogue as cat
from .catalogue import Catalogue
from .index_store import IndexStore
from .lock import LibraryLock
from .metric_spaces import MetricSpaces
from .metrics import MetricError, MetricSpace
from .progress import CancelToken, ProgressCallback, ProgressMeter
from .reports import DEFAULT_K, CheckReport, FolderStatus, IndexReport, LibraryStatus, SearchResult
from .scan_diff import diff_scan
from .scanner import FileEntry, scan_folder
from .vector_index import VectorIndex

if TYPE_CHECKING:
    from .embedder import Embedder

SAVE_EVERY_SECONDS = 30.0
SCAN_REPORT_EVERY = 500  # files listed between two progress reports

__all__ = [
    "DEFAULT_K",
    "CatalogueLostError",
    "CheckReport",
    "IndexReport",
    "Library",
    "LibraryError",
    "LibraryStatus",
    "SearchResult",
    "default_library_dir",
]


class LibraryError(UserError, RuntimeError):
    """Something about the library or a request to it is wrong; the message says what."""


class CatalogueLostError(LibraryError):
    """The catalogue is gone or empty while the library's other files show it held images."""


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
        self._writer = LibraryLock(root)
        self._embedder: Embedder | None = None
        self._embedder_key: tuple[str, int | None] | None = None  # (spec, image size) it was made for
        self._store = IndexStore(root / "indexes", catalogue, self._lock, self._writer)
        self._spaces = MetricSpaces(
            root / "indexes", catalogue, self._lock, self._writer, lambda: self.embedder, self._library_size
        )
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

    def close(self, best_effort: bool = False) -> OSError | None:
        """Save changed indexes and close the catalogue, which is closed even when saving fails
        (a full disk): its committed rows are already safe, and the indexes are caches. With
        `best_effort` (a command that only reads, like a search), an index that cannot be
        written is returned instead of raised: the next run rebuilds it from the catalogue."""
        try:
            self.save_indexes()
        except OSError as exc:
            if not best_effort:
                raise
            return exc
        finally:
            self.catalogue.close()
        return None

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
                self._forget_spaces()  # made for the vectors of the model loaded before, if any
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
                self._forget_spaces()
                if self.catalogue.get_meta("model_fingerprint") == embedder.fingerprint:
                    return False
                self._forget_vectors(embedder.fingerprint)
                return True

    def _forget_vectors(self, fingerprint_: str) -> None:
        """Make `fingerprint_` the library's model: its vectors and model-made skips are reset
        in one transaction and the indexes (caches of the old vectors) deleted; writer only."""
        with self._writer, self._lock:
            self.catalogue.reset_vectors(fingerprint_)
            self._forget_spaces()
            self._store.delete_files()

    def _forget_spaces(self) -> None:
        """Drop every metric space and loaded index: they were made for another model."""
        self._spaces.forget()
        self._store.forget()

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
        self._store.remove(np.asarray(ids, dtype=np.int64))

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
                if len(present) % SCAN_REPORT_EVERY == 0:
                    meter.done = len(present)
                    meter.report()
                if cancel is not None and cancel.cancelled:
                    report.cancelled = True
                    return report
        offline = {folder_id for folder_id, folder in folders.items() if folder in report.unavailable}
        report.unavailable += unlisted
        diff = diff_scan(present, self.catalogue.all_files(), offline, unlisted)
        report.count_scan(diff)
        self.catalogue.apply_scan(diff.inserts, diff.moves, diff.deletes)
        self._store.remove(np.asarray(diff.deletes, dtype=np.int64))
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
                    self._store.tune(progress=progress, cancel=cancel)
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
            self._store.add({file_id: batch.vectors[file_id] for file_id in stored})
            report.embedded += len(batch.vectors)
            report.skipped += len(batch.failures)
            meter.advance(len(batch))
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                self.save_indexes()
                last_save = time.monotonic()
        report.cancelled = bool(cancel and cancel.cancelled)
        self._store.upgrade_grown()

    def exclude(self, paths: list[str]) -> int:
        """Keep files out of results (they stay catalogued as excluded)."""
        ids = [row.id for p in paths if (row := self.catalogue.file_by_path(os.path.abspath(p)))]
        self.catalogue.set_status(ids, cat.EXCLUDED, "excluded by you")
        self._store.remove(np.asarray(ids, dtype=np.int64))
        return len(ids)

    def forget_files(self, ids: list[int]) -> None:
        """Drop files that left the library (moved to the trash by a clean-up) from the catalogue
        and every index at once, without waiting for a scan and without re-embedding anything."""
        with self._writer:
            self.catalogue.apply_scan([], [], [int(i) for i in ids])
            self._store.remove(np.asarray(ids, dtype=np.int64))

    def restore_files(self, files: list[tuple[str, int, int, str | None, np.ndarray | None, str]]) -> int:
        """Catalogue files put back from the trash with the vectors they had: (path, size,
        mtime_ns, fingerprint, vector, model fingerprint). A vector made by another model than
        the library's now is not reused: that file waits for `index`. Returns the count indexed."""
        folders = self.catalogue.folders()
        with self._writer:
            inserts, vectors = [], {}
            for path, size, mtime_ns, digest, vector, model in files:
                folder_id = next((f for f, root in folders.items() if is_inside(path, root)), None)
                if folder_id is None or self.catalogue.file_by_path(path) is not None:
                    continue
                inserts.append((path, folder_id, size, mtime_ns, digest, cat.PENDING, None))
                if vector is not None and model == self._store.model():
                    vectors[path] = vector
            self.catalogue.apply_scan(inserts, [], [])
            by_id = {}
            for path, vector in vectors.items():
                row = self.catalogue.file_by_path(path)
                if row is not None:
                    by_id[row.id] = vector
            stored = self.catalogue.store_results(by_id, {}, self._store.model()) if by_id else []
            self._store.add({i: by_id[i] for i in stored})
        return len(stored)

    # -- metrics and indexes -------------------------------------------------------------
    def metric_space(self, metric: str) -> MetricSpace:
        """The transform for `metric` (see `MetricSpaces.get`)."""
        return self._spaces.get(metric)

    def _library_size(self, key: str) -> int:
        """Vectors the library holds: its loaded index's size (kept in step), else the catalogue's."""
        size = self._store.loaded_size(key)
        return size if size is not None else len(self.catalogue.indexed_ids())

    def use_learned_metric(self, path: str | os.PathLike, force: bool = False) -> None:
        """Make a metric file from `lookalike train-metric` the library's `learned` metric. A file
        whose held-out check found it no better than Euclidean is refused unless `force`."""
        with self._lock:
            self._spaces.use_learned(path, force)
            self._store.forget("learned")

    def metrics_available(self) -> list[dict]:
        """Every metric with its description and what fitted ones were fitted on: for `status`
        and the menus (see `MetricSpaces.available`)."""
        return self._spaces.available()

    def index_for(self, metric: str) -> tuple[VectorIndex, MetricSpace]:
        """The index searching `metric`'s space, loaded or built and reconciled with the catalogue."""
        space = self.metric_space(metric)
        index, fresh = self._store.get(space, self.embedder.dim)
        if fresh:
            self._store.tune([space.index_key])
        return index, space

    def save_indexes(self) -> None:
        """Write every changed index atomically, when no other process is writing (`IndexStore.save`)."""
        self._store.save()

    # -- searching -----------------------------------------------------------------------
    def search(
        self,
        query: str | os.PathLike | Image.Image,
        k: int | None = DEFAULT_K,
        metric: str = "euclidean",
        max_distance: float | None = None,
    ) -> list[SearchResult]:
        """Nearest library images to a file or a decoded image; the query file itself is left out."""
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
        """Nearest library images to one embedded vector, `exclude_id` left out (see `nearest`)."""
        index, space = self.index_for(metric)
        exclude = frozenset() if exclude_id is None else frozenset({exclude_id})
        return self.nearest(space.apply(vector[None, :]), index, space, k, max_distance, exclude)

    def nearest(
        self,
        points: np.ndarray,
        index: VectorIndex,
        space: MetricSpace,
        k: int | None,
        max_distance: float | None = None,
        exclude: frozenset[int] = frozenset(),
    ) -> list[SearchResult]:
        """The ranked results of query `points` already in `space` (one per query orientation): a
        candidate's distance is its least to any point, in the metric's units; ids in `exclude`
        and files that left the catalogue meanwhile are left out."""
        if k is not None and k < 1:
            raise LibraryError("k must be at least 1")
        wanted = len(index) if k is None else k
        ids, l2 = index.query(points, min(wanted + len(exclude) + 1, len(index)))  # +1: one may be gone
        best: dict[int, float] = {}
        for file_id, distance in zip(ids.ravel().tolist(), l2.ravel().tolist(), strict=True):
            if file_id not in exclude and distance < best.get(file_id, np.inf):
                best[file_id] = distance
        paths = self.catalogue.paths_for(best)
        ranked = sorted(
            (item for item in best.items() if item[0] in paths), key=lambda item: (item[1], item[0])
        )
        ranked = ranked[:wanted]
        distances = space.report(np.array([d for _, d in ranked], dtype=np.float32))
        results: list[SearchResult] = []
        for (file_id, _), distance in zip(ranked, distances.tolist(), strict=True):
            if max_distance is not None and distance > max_distance:
                break
            results.append(SearchResult(len(results) + 1, paths[file_id], float(distance), file_id))
        return results

    # -- status and checks ---------------------------------------------------------------
    def status(self) -> LibraryStatus:
        """Files per folder and state, skip reasons, index size and how each index searches."""
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
        return LibraryStatus(
            model=self.model_spec,
            folders=rows,
            files=sum(r.files for r in rows),
            indexed=sum(r.indexed for r in rows),
            pending=sum(r.pending for r in rows),
            skipped=self.catalogue.skipped(),
            index_bytes=self._store.size_bytes(),
            search=self._store.saved_summaries(),
        )

    def check(self, repair: bool = False) -> CheckReport:
        """Compare the stored vectors with the library's model and each index with the catalogue:
        lost, damaged or stale index files, vectors of another model, drift. With `repair`, drop
        the foreign vectors (they wait for `index`), rescan the folders, and rebuild and save
        every index; only the writer may repair."""
        report = CheckReport()
        truth = self.catalogue.indexed_ids()
        model = self._store.model()
        report.indexed = len(truth)
        dims = self.catalogue.vector_dims()
        report.vector_dims = sorted(dims)
        dim = max(dims, key=dims.__getitem__) if dims else None  # the most common length
        report.foreign_vectors = len(self.catalogue.foreign_vectors(model, dim))
        keys = self._store.saved_keys()
        if len(truth):
            keys.add("euclidean")  # every indexing run builds it
        for key in sorted(keys):
            have, problem = self._store.inspect(key, model, dim)
            if problem == "lost":
                report.lost.append(key)
            elif problem:
                report.damaged[key] = problem
            report.missing_from_index[key] = len(np.setdiff1d(truth, have))
            report.extra_in_index[key] = len(np.setdiff1d(have, truth))
        damage = self._spaces.damage()
        if damage is not None:
            report.damaged[damage[0]] = damage[1]
        report.vanished_files = sum(1 for path in self.catalogue.all_files() if not os.path.exists(path))
        if repair:
            with self._writer:
                foreign = self.catalogue.foreign_vectors(self.embedder.fingerprint, self.embedder.dim)
                self.catalogue.set_status(foreign, cat.PENDING)
                self._store.remove(np.asarray(foreign, dtype=np.int64))
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


def _listable(folder: str) -> bool:
    """Whether a library folder can be read now (an unmounted drive or offline share cannot)."""
    try:
        with os.scandir(folder):
            return True
    except OSError:
        return False
