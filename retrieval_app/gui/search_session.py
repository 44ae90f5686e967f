"""The current query and its results: embedded once in the background, searched again on every change.

A query is one or more example images ("more like these"), optional counter-examples ("less
like these") and optionally a region of the first example (see `retrieval_app.core.query`).
Changing the metric, k or the distance limit reuses the query's vectors, so results follow the
controls at once; answers to questions that have since changed are dropped, never shown.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from foundation.errors import InputError
from retrieval_app.core import query as core_query
from retrieval_app.core.library import DEFAULT_K
from retrieval_app.core.progress import CancelToken

from .qimages import pil_to_qimage
from .tasks import Report, Task

if TYPE_CHECKING:
    from retrieval_app.core.library import Library

PREVIEW_SIZE = 480

QuerySource = str | Image.Image
Region = tuple[float, float, float, float]


@dataclass
class QueryInfo:
    """The current query as shown on the left: a name, where it came from, and a preview."""

    label: str
    path: str | None
    preview: QImage
    region: Region | None = None


@dataclass(frozen=True)
class SearchParams:
    metric: str = "euclidean"
    k: int = DEFAULT_K
    max_distance: float | None = None


@dataclass
class _Query:
    """The embedded query, kept so changing the metric, k or the distance limit needs no re-embedding.

    `source` is the first example, the one shown (and cut to `region`); `more` and `less` hold
    further examples and counter-examples; `vector` the embedded `core.query.QueryVectors`."""

    source: QuerySource
    name: str
    more: tuple[QuerySource, ...] = ()
    less: tuple[QuerySource, ...] = ()
    region: Region | None = None
    flips: bool = False
    vector: Any = None

    @property
    def label(self) -> str:
        """The first example's name, then how many more and fewer examples refine it."""
        extras = [f"{len(self.more)} more"] if self.more else []
        extras += [f"{len(self.less)} less"] if self.less else []
        region = " (region)" if self.region else ""
        return self.name + region + (f" + {', '.join(extras)}" if extras else "")

    def core(self) -> core_query.Query:
        first = core_query.Example(self.source, region=self.region)
        positives = (first, *(core_query.Example(s) for s in self.more))
        return core_query.Query(positives, tuple(core_query.Example(s) for s in self.less), self.flips)

    def sources(self) -> tuple[QuerySource, ...]:
        return (self.source, *self.more, *self.less)


class SearchSession(QObject):
    """Set `library` once it is open; then `set_query`, `set_params` and `refresh` drive the results."""

    queryChanged = Signal(object)
    queryFailed = Signal(str)
    searchStarted = Signal()
    resultsChanged = Signal(list, float)
    searchFailed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library: Library | None = None
        self.params = SearchParams()
        self.results: list = []
        self._query: _Query | None = None
        self.flips = False
        self._query_task: Task | None = None
        self._search_task: Task | None = None
        self._search_again = False

    @property
    def query_label(self) -> str | None:
        return self._query.label if self._query else None

    @property
    def query_path(self) -> str | None:
        """The query's absolute path, as export manifests record it; None for a pasted image."""
        if self._query is None or not isinstance(self._query.source, str):
            return None
        return os.path.abspath(self._query.source)

    def close(self) -> None:
        """Forget the library and the query (the caller has waited for the workers)."""
        for task in (self._query_task, self._search_task):
            if task is not None:
                task.cancel()
        self.library = None
        self._query = self._query_task = self._search_task = None
        self._search_again = False

    def model_changed(self) -> None:
        """Vectors of another model are meaningless: the query is embedded again on the next refresh."""
        if self._query is not None:
            self._query.vector = None

    def set_query(self, source: QuerySource, label: str | None = None) -> None:
        """Embed a file or a decoded image (in the background) and search with it."""
        self.set_examples([source], label)

    def set_examples(self, sources: list[QuerySource], label: str | None = None) -> None:
        """A new query of several examples (files or decoded images); `label` names the first."""
        if not sources:
            raise ValueError("a query needs at least one example")
        first = sources[0]
        name = label or (os.path.basename(first) if isinstance(first, str) else "Pasted image")
        self._start_query(_Query(first, name, more=tuple(sources[1:]), flips=self.flips))

    def refine(self, path: str, more: bool) -> None:
        """Relevance feedback: add a result as an example ("more like this") or a counter-example
        ("less like this") to the current query and search again. An image already in the query
        moves to the side asked for."""
        if self._query is None:
            self.set_query(path)
            return
        query = self._query
        path = os.path.abspath(path)
        if _same(query.source, path):
            return
        kept_more = tuple(s for s in query.more if not _same(s, path))
        kept_less = tuple(s for s in query.less if not _same(s, path))
        if more:
            self._start_query(replace(query, more=(*kept_more, path), less=kept_less, vector=None))
        else:
            self._start_query(replace(query, more=kept_more, less=(*kept_less, path), vector=None))

    def set_flips(self, flips: bool) -> None:
        """Match rotated and mirrored copies (each example embedded in four quarter turns) or not."""
        self.flips = flips
        if self._query is not None and flips != self._query.flips:
            self._start_query(replace(self._query, flips=flips, vector=None))

    def set_region(self, region: Region | None) -> None:
        """Search with a region (fractions left, top, right, bottom) of the first example, or all of it."""
        if self._query is not None and region != self._query.region:
            self._start_query(replace(self._query, region=region, vector=None))

    def _start_query(self, query: _Query) -> None:
        library = self.library
        if library is None:
            raise RuntimeError("the library is not open yet")
        if self._query_task is not None:
            self._query_task.cancel()
        params = self.params

        def run(report: Report, cancel: CancelToken) -> tuple[_Query, QueryInfo, list, float, SearchParams]:
            started = time.perf_counter()
            preview = _embed_query(library, query)
            cancel.raise_if_cancelled()
            results = core_query.search_vectors(
                library, query.vector, params.k, params.metric, params.max_distance
            )
            return query, preview, results, time.perf_counter() - started, params

        task = Task("query", run, self)
        self._query_task = task
        task.settled.connect(lambda: self._query_settled(task))
        task.finished.connect(self._query_done)
        task.failed.connect(self.queryFailed)
        self.searchStarted.emit()
        task.start(priority=2)

    def _query_settled(self, task: Task) -> None:
        """From here on new params start a search of their own."""
        if self._query_task is task:
            self._query_task = None

    def _query_done(self, result: tuple[_Query, QueryInfo, list, float, SearchParams]) -> None:
        query, preview, results, seconds, params = result
        self._query = query
        self.queryChanged.emit(preview)
        if params is self.params:
            self._publish(results, seconds)
        else:
            self.refresh()

    def set_params(self, metric: str, k: int, max_distance: float | None) -> None:
        """New metric, k or distance limit: search again with the query already embedded."""
        self.params = SearchParams(metric, k, max_distance)
        if self._query_task is None:
            self.refresh()

    def refresh(self) -> None:
        """Run the current query again (after new params, new images or a new model)."""
        if self._query is None or self.library is None:
            return
        if self._query.vector is None:
            self._start_query(self._query)
            return
        if self._search_task is not None:
            self._search_again = True
            return
        library, query, params = self.library, self._query, self.params

        def run(report: Report, cancel: CancelToken) -> tuple[list, float]:
            started = time.perf_counter()
            vectors = replace(query.vector, exclude=_left_out(library, query))
            results = core_query.search_vectors(
                library, vectors, params.k, params.metric, params.max_distance
            )
            return results, time.perf_counter() - started

        task = Task("search", run, self)
        self._search_task = task
        task.settled.connect(self._search_settled)
        task.finished.connect(lambda result: self._publish_if_current(query, params, *result))
        task.failed.connect(self.searchFailed)
        self.searchStarted.emit()
        task.start(priority=2)

    def _search_settled(self) -> None:
        self._search_task = None
        if self._search_again:
            self._search_again = False
            self.refresh()

    def _publish_if_current(self, query: _Query, params: SearchParams, results: list, seconds: float) -> None:
        """Drop answers to a question that has since changed (a newer query or newer params)."""
        if query is self._query and params is self.params:
            self._publish(results, seconds)

    def _publish(self, results: list, seconds: float) -> None:
        self.results = results
        self.resultsChanged.emit(results, seconds)


def _left_out(library: Library, query: _Query) -> frozenset[int]:
    """The catalogue ids of the query's example files as the library knows them now (indexing may
    have added or moved one since they were embedded); they are left out of the results."""
    ids = set()
    for source in query.sources():
        if isinstance(source, str) and (row := library.catalogue.file_by_path(os.path.abspath(source))):
            ids.add(row.id)
    return frozenset(ids)


def _same(source: QuerySource, path: str) -> bool:
    return isinstance(source, str) and os.path.abspath(source) == path


def _embed_query(library: Library, query: _Query) -> QueryInfo:
    """Fill in the query's vectors (and the ids of its example files, to leave them out); return
    the preview of its first example."""
    from foundation.errors import UserError
    from foundation.images import ImageLoadError, load_thumbnail

    path = None
    if isinstance(query.source, Image.Image):
        preview = query.source.copy()
        preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    else:
        path = os.path.abspath(query.source)
        try:
            preview = load_thumbnail(path, PREVIEW_SIZE)
        except ImageLoadError as exc:
            raise InputError(f"Cannot search with “{os.path.basename(path)}”: {exc}") from None
    try:
        query.vector = core_query.embed_query(library, query.core())
    except UserError as exc:
        message = str(exc)
        raise InputError(message[:1].upper() + message[1:]) from None
    return QueryInfo(query.label, path, pil_to_qimage(preview), query.region)
