"""The current query and its results: embedded once in the background, searched again on every change.

Changing the metric, k or the distance limit reuses the query's vector, so results follow the
controls at once; answers to questions that have since changed are dropped, never shown.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from retrieval_app.core.progress import CancelToken

from .qimages import pil_to_qimage
from .tasks import Report, Task

if TYPE_CHECKING:
    from retrieval_app.core.library import Library

PREVIEW_SIZE = 480

QuerySource = str | Image.Image


@dataclass
class QueryInfo:
    """The current query as shown on the left: a name, where it came from, and a preview."""

    label: str
    path: str | None
    preview: QImage


@dataclass(frozen=True)
class SearchParams:
    metric: str = "euclidean"
    k: int = 24
    max_distance: float | None = None


@dataclass
class _Query:
    """The embedded query, kept so changing the metric, k or the distance limit needs no re-embedding."""

    source: QuerySource
    label: str
    vector: Any = None
    own_id: int | None = None


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
        library = self.library
        if library is None:
            raise RuntimeError("the library is not open yet")
        if isinstance(source, str):
            label = label or os.path.basename(source)
        query = _Query(source, label or "Pasted image")
        if self._query_task is not None:
            self._query_task.cancel()
        params = self.params

        def run(report: Report, cancel: CancelToken) -> tuple[_Query, QueryInfo, list, float, SearchParams]:
            started = time.perf_counter()
            preview = _embed_query(library, query)
            cancel.raise_if_cancelled()
            results = library.search_vector(
                query.vector, params.k, params.metric, params.max_distance, exclude_id=query.own_id
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
            self.set_query(self._query.source, self._query.label)
            return
        if self._search_task is not None:
            self._search_again = True
            return
        library, query, params = self.library, self._query, self.params

        def run(report: Report, cancel: CancelToken) -> tuple[list, float]:
            started = time.perf_counter()
            results = library.search_vector(
                query.vector, params.k, params.metric, params.max_distance, exclude_id=query.own_id
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


def _embed_query(library: Library, query: _Query) -> QueryInfo:
    """Fill in the query's vector (and its own catalogue id, to leave it out); return its preview."""
    from retrieval_app.core.images import ImageLoadError, load_thumbnail
    from retrieval_app.core.library import LibraryError

    if isinstance(query.source, Image.Image):
        query.vector, query.own_id = library.query_vector(query.source)
        preview = query.source.copy()
        preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
        return QueryInfo(query.label, None, pil_to_qimage(preview))
    path = os.path.abspath(query.source)
    name = os.path.basename(path)
    try:
        preview = load_thumbnail(path, PREVIEW_SIZE)
    except ImageLoadError as exc:
        raise ValueError(f"Cannot search with “{name}”: {exc}") from None
    try:
        query.vector, query.own_id = library.query_vector(path)
    except LibraryError as exc:
        message = str(exc)
        raise ValueError(message[:1].upper() + message[1:]) from None
    return QueryInfo(query.label, path, pil_to_qimage(preview))
