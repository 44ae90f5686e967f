"""The GUI's single owner of the open Library: every call to the core goes through here, off the main thread.

Jobs that write the library (indexing, switching the model, removing a folder) run one at a
time from a queue; queries, searches, similar sets, status reads and exclusions run beside them. The core is
imported inside the background functions, so torch loads while the window is already visible.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from retrieval_app.core.progress import CancelToken, Progress

from .formatting import plural, summarize_index
from .search_session import SearchSession
from .tasks import Report, Task, TaskFunction, running_tasks

if TYPE_CHECKING:
    from retrieval_app.core.cleanup import CleanupReport, PlannedMove, UndoReport
    from retrieval_app.core.decisions import Decisions
    from retrieval_app.core.keeper import KeepPolicy
    from retrieval_app.core.library import IndexReport, Library, LibraryStatus
    from retrieval_app.core.metric_learning import LearnedMetric
    from retrieval_app.core.set_review import ReviewedSet

STATUS_REFRESH_SECONDS = 1.5


@dataclass
class LibraryInfo:
    """What the window needs to know once the library is open."""

    root: Path
    model: str
    backbones: list[str]
    metrics: tuple[str, ...]
    devices: list[tuple[str, str]]
    metric_rows: list[dict] = field(default_factory=list)  # core `Library.metrics_available`


@dataclass
class _Job:
    kind: str
    title: str
    function: TaskFunction
    on_finished: Callable[[Any], str]
    on_cancelled: Callable[[Any], str] = field(default=lambda _result: "Stopped.")


def apply_threads(threads: int) -> None:
    """Limit the model's CPU threads (0 keeps the core's default of one per core)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


@dataclass
class _StatusUpdate:
    """A status read inside a running job, sent along with its progress."""

    status: LibraryStatus


@dataclass
class _JobOutcome:
    """A job's result and the library's status read right after it, in the job's own thread."""

    result: Any
    status: LibraryStatus


def _with_status(library: Library, function: TaskFunction) -> TaskFunction:
    """Run a job, reporting the library's status at each new stage, every few seconds and at the end.

    Reading it in the job's thread keeps the order: no status read before the job's last write
    can arrive after the final one.
    """

    def run(report: Report, cancel: CancelToken) -> _JobOutcome:
        last, stage = time.monotonic(), None

        def forward(item: object) -> None:
            nonlocal last, stage
            report(item)
            new_stage = getattr(item, "stage", stage)
            if new_stage != stage or time.monotonic() - last > STATUS_REFRESH_SECONDS:
                last, stage = time.monotonic(), new_stage
                report(_StatusUpdate(library.status()))

        result = function(forward, cancel)
        return _JobOutcome(result, library.status())

    return run


def _cancelled_summary(job: _Job, outcome: _JobOutcome | None) -> tuple[str, bool, LibraryStatus | None]:
    if outcome is None:
        return job.on_cancelled(None), True, None
    return job.on_cancelled(outcome.result), True, outcome.status


class LibraryController(QObject):
    """Opens the library in the background and runs every request to it as a Task."""

    opened = Signal(object)
    openFailed = Signal(str)
    statusChanged = Signal(object)
    jobStarted = Signal(str)
    jobProgress = Signal(object)
    jobEnded = Signal(str, bool)
    modelChanged = Signal(str)
    metricLearned = Signal(str)
    error = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library: Library | None = None
        self.info: LibraryInfo | None = None
        self.threads = 0
        self._queue: deque[_Job] = deque()
        self._job: tuple[_Job, Task] | None = None
        self._status_serial = 0
        self._status_shown = 0
        self.search = SearchSession(self)

    # -- opening ------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.library is not None

    def open(
        self, root: Path | None, model: str | None = None, device: str = "auto", threads: int = 0
    ) -> Task:
        """Open (or create) the library at `root` (None: the default place); `opened` or `openFailed` follows."""
        self.threads = threads

        def run(report: Report, cancel: CancelToken) -> tuple[Library, LibraryInfo, LibraryStatus]:
            report(Progress("opening", 0, 0, message="Loading the model"))
            from foundation.devices import available_devices
            from retrieval_app.core.library import Library
            from retrieval_app.core.metrics import METRICS
            from trainer.options import BACKBONE_NAMES

            library = Library.open(root, model=model, device=device)
            try:
                library.embedder  # noqa: B018 - load the model now so the first query is quick
                apply_threads(threads)
                info = LibraryInfo(
                    library.root, library.model_spec, list(BACKBONE_NAMES), METRICS, available_devices()
                )
                info.metric_rows = library.metrics_available()
                return library, info, library.status()
            except BaseException:
                library.close()
                raise

        task = Task("open", run, self)
        task.progressed.connect(self.jobProgress)
        task.finished.connect(self._opened)
        task.failed.connect(self.openFailed)
        self.jobStarted.emit("Opening library")
        return task.start(priority=1)

    def _opened(self, result: tuple[Library, LibraryInfo, LibraryStatus]) -> None:
        self.library, self.info, status = result
        self.search.library = self.library
        self.jobEnded.emit("Library ready.", True)
        self.opened.emit(self.info)
        self._show_status(status, self._next_status_serial())
        if status.folders:
            self.index()

    def shutdown(self) -> None:
        """Stop everything, wait for the workers (each stops at its next check, within a batch),
        save the changed indexes and close the library."""
        from PySide6.QtCore import QThreadPool

        self._queue.clear()
        self.search.close()
        for task in running_tasks():  # the job, and set searches and exports started by the pages
            task.cancel()
        QThreadPool.globalInstance().waitForDone()
        self._job = None
        if self.library is not None:
            self.library.close()
            self.library = None

    # -- the job queue ------------------------------------------------------------------
    def _current_task(self) -> Task | None:
        return self._job[1] if self._job else None

    @property
    def current_job(self) -> str | None:
        return self._job[0].kind if self._job else None

    def _enqueue(self, job: _Job) -> None:
        if job.kind == "index" and any(queued.kind == "index" for queued in self._queue):
            return
        self._queue.append(job)
        if self._job is None:
            self._start_next()

    def _start_next(self) -> None:
        if not self._queue or self.library is None:
            return
        job = self._queue.popleft()
        task = Task(job.kind, _with_status(self.library, job.function), self)
        self._job = (job, task)
        task.progressed.connect(self._job_progress)
        task.finished.connect(lambda out: self._job_done(job, job.on_finished(out.result), True, out.status))
        task.cancelled.connect(lambda out: self._job_done(job, *_cancelled_summary(job, out)))
        task.failed.connect(lambda text: self._job_done(job, text, False, None))
        self.jobStarted.emit(job.title)
        task.start()

    def _job_progress(self, item: object) -> None:
        if isinstance(item, _StatusUpdate):
            self._show_status(item.status, self._next_status_serial())
        else:
            self.jobProgress.emit(item)

    def _job_done(self, job: _Job, summary: str, ok: bool, status: LibraryStatus | None) -> None:
        if self._job is None or self._job[0] is not job:
            return  # a job of a library closed since
        self._job = None
        if status is not None:
            self._show_status(status, self._next_status_serial())
        else:
            self.refresh_status()
        self.jobEnded.emit(summary, ok)
        if self._queue:
            self._start_next()
        else:
            self.search.refresh()

    def cancel_job(self) -> bool:
        """Cancel the running job (Esc); returns False when nothing was running."""
        task = self._current_task()
        if task is None:
            return False
        task.cancel()
        return True

    # -- folders and indexing -----------------------------------------------------------
    def add_folders(self, paths: list[str]) -> None:
        """Add folders (listed as soon as they are in the catalogue), then index them."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> list[str]:
            return [library.add_folder(path) for path in paths]

        task = Task("add folders", run, self)
        task.finished.connect(self._folders_added)
        task.failed.connect(self.error)
        task.start(priority=1)

    def _folders_added(self, folders: list[str]) -> None:
        self.refresh_status()
        self.index()

    def index(self) -> None:
        """Scan every folder and embed what is new or changed (coalesced with a queued run)."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> IndexReport:
            return library.index(progress=report, cancel=cancel)

        self._enqueue(_Job("index", "Indexing", run, summarize_index, summarize_index))

    def remove_folder(self, path: str) -> None:
        """Forget a folder and its images (files on disk are untouched)."""
        library = self._require()
        resume = self.current_job == "index"
        if resume:
            self.cancel_job()

        def run(report: Report, cancel: CancelToken) -> str:
            library.remove_folder(path)
            return path

        self._enqueue(_Job("folder", "Removing folder", run, lambda p: f"Removed {p} from the library."))
        if resume:
            self.index()

    def exclude(self, paths: list[str]) -> None:
        """Keep these files out of results from now on."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> int:
            return library.exclude(paths)

        task = Task("exclude", run, self)
        task.finished.connect(self._excluded)
        task.failed.connect(self.error)
        task.start(priority=1)

    def _excluded(self, count: int) -> None:
        self.message.emit(f"{plural(count, 'image')} excluded from results.")
        self.refresh_status()
        self.search.refresh()

    def refresh_status(self) -> None:
        """Read folder counts and skipped files in the background; `statusChanged` follows.

        Every read is numbered when asked for; one that arrives after a later one was shown is dropped.
        """
        if self.library is None:
            return
        library, serial = self.library, self._next_status_serial()

        def read(report: Report, cancel: CancelToken) -> LibraryStatus:
            return library.status()

        task = Task("status", read, self)
        task.finished.connect(lambda status: self._show_status(status, serial))
        task.failed.connect(self.error)
        task.start(priority=1)

    def _next_status_serial(self) -> int:
        self._status_serial += 1
        return self._status_serial

    def _show_status(self, status: LibraryStatus, serial: int) -> None:
        if serial > self._status_shown:
            self._status_shown = serial
            self.statusChanged.emit(status)

    # -- similar sets -------------------------------------------------------------------
    def groups_task(
        self,
        metric: str,
        max_distance: float,
        min_size: int,
        policy: KeepPolicy | None = None,
        flips: bool = True,
    ) -> Task:
        """A Task finding the library's similar sets, reviewed (core `find_sets`: tiers, keepers,
        the person's decisions, turned copies with `flips`); connect to it, then start it."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> list[ReviewedSet]:
            from retrieval_app.core.set_review import find_sets

            return find_sets(
                library,
                metric,
                max_distance,
                min_size=min_size,
                policy=policy,
                progress=report,
                cancel=cancel,
                flips=flips,
            )

        return Task("similar sets", run, self)

    def cleanup_task(self, plan: list[PlannedMove]) -> Task:
        """A Task moving `plan`'s files to the trash (core `clean_up`, journalled); its result is the report."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> CleanupReport:
            from retrieval_app.core.cleanup import clean_up

            return clean_up(library, plan, progress=report, cancel=cancel)

        return Task("clean-up", run, self)

    def undo_cleanup_task(self) -> Task:
        """A Task putting back what the latest clean-up moved (core `undo_cleanup`)."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> UndoReport:
            from retrieval_app.core.cleanup import undo_cleanup

            return undo_cleanup(library)

        return Task("undo clean-up", run, self)

    def decisions_task(self, change: Callable[[Decisions], object]) -> Task:
        """A Task reading or changing the library's set decisions: `change(decisions)` is its result."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> object:
            from retrieval_app.core.decisions import Decisions

            return change(Decisions(library.catalogue))

        return Task("decisions", run, self)

    # -- model and metric ---------------------------------------------------------------
    def switch_model(self, spec: str) -> None:
        """Use another model; the library re-embeds in the background when its vectors change."""
        library = self._require()
        if self.current_job == "index":
            self.cancel_job()
        self._queue = deque(job for job in self._queue if job.kind != "index")
        threads = self.threads

        def run(report: Report, cancel: CancelToken) -> bool:
            report(Progress("loading model", 0, 0, message=f"Loading {Path(spec).name}"))
            changed = library.set_model(spec)
            apply_threads(threads)
            return changed

        def finished(changed: bool) -> str:
            if self.info is not None:
                self.info.model = spec
            self.search.model_changed()
            self.modelChanged.emit(spec)
            if changed:
                self.index()
                return f"Now using {Path(spec).name}; re-embedding the library."
            return f"Now using {Path(spec).name}."

        self._enqueue(_Job("model", "Switching model", run, finished))

    def use_learned_metric(self, path: str) -> None:
        """Make a metric file the library's `learned` metric; `metricLearned` follows."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> tuple[str, list[dict]]:
            library.use_learned_metric(path)
            return path, library.metrics_available()

        def used(result: tuple[str, list[dict]]) -> None:
            if self.info is not None:
                self.info.metric_rows = result[1]
            self.metricLearned.emit(result[0])

        task = Task("metric", run, self)
        task.finished.connect(used)
        task.failed.connect(self.error)
        task.start(priority=1)

    def learn_metric_task(self, folder: str, method: str, out: Path) -> Task:
        """A Task learning a metric from a labelled folder with the library's model (core
        `learn_metric`, held-out check included); it does not switch the library to it."""
        library = self._require()

        def run(report: Report, cancel: CancelToken) -> LearnedMetric:
            from retrieval_app.core.metric_learning import learn_metric

            return learn_metric(library, folder, method, out, progress=report, cancel=cancel)

        return Task("learn metric", run, self)

    def _require(self) -> Library:
        if self.library is None:
            raise RuntimeError("the library is not open yet")
        return self.library
