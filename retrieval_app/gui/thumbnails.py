"""Thumbnails decoded in the thread pool (core `load_thumbnail` -> QImage) and kept in an LRU cache.

A QImage may be built in any thread; the QPixmap the views paint is made on the main thread
when the worker's result arrives. Files that cannot be shown are remembered with the reason.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from foundation.images import ImageLoadError, load_thumbnail

from .qimages import pil_to_qimage

DEFAULT_CAPACITY = 600


class _Delivery(QObject):
    """Carries results from the workers to the main thread (queued signals)."""

    loaded = Signal(str, int, QImage)
    failed = Signal(str, int, str)


class _ThumbnailJob(QRunnable):
    def __init__(self, path: str, size: int, delivery: _Delivery) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.path = path
        self.size = size
        self._delivery = delivery

    def run(self) -> None:
        try:
            image = pil_to_qimage(load_thumbnail(self.path, self.size))
        except ImageLoadError as exc:
            self._delivery.failed.emit(self.path, self.size, str(exc))
        except (OSError, ValueError, MemoryError) as exc:
            self._delivery.failed.emit(self.path, self.size, f"cannot be shown ({type(exc).__name__})")
        else:
            self._delivery.loaded.emit(self.path, self.size, image)


class ThumbnailCache(QObject):
    """`pixmap(path)` answers from the cache or starts a load; `ready(path)` says when one arrived."""

    ready = Signal(str)

    def __init__(self, size: int, capacity: int = DEFAULT_CAPACITY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failures: dict[str, str] = {}
        self._jobs: dict[str, _ThumbnailJob] = {}
        self._delivery = _Delivery(self)
        self._delivery.loaded.connect(self._loaded)
        self._delivery.failed.connect(self._failed)

    def pixmap(self, path: str) -> QPixmap | None:
        """The cached thumbnail (marked most recently used), or None while it loads or when it failed."""
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._failures and path not in self._jobs:
            job = _ThumbnailJob(path, self.size, self._delivery)
            self._jobs[path] = job
            QThreadPool.globalInstance().start(job, -1)
        return None

    def failure(self, path: str) -> str | None:
        """Why a file cannot be shown, once its load has failed."""
        return self._failures.get(path)

    def is_loading(self, path: str) -> bool:
        return path in self._jobs

    def set_size(self, size: int) -> None:
        """New thumbnail size: drop what was cached at the old one."""
        if size != self.size:
            self.size = size
            self.clear()

    def clear(self) -> None:
        """Forget everything and take back loads that have not started."""
        pool = QThreadPool.globalInstance()
        for path, job in list(self._jobs.items()):
            if pool.tryTake(job):
                del self._jobs[path]
        self._pixmaps.clear()
        self._failures.clear()

    def _loaded(self, path: str, size: int, image: QImage) -> None:
        self._jobs.pop(path, None)
        if size != self.size:
            self.ready.emit(path)  # loaded at an old size: views ask again at the new one
            return
        self._pixmaps[path] = QPixmap.fromImage(image)
        self._pixmaps.move_to_end(path)
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(path)

    def _failed(self, path: str, size: int, reason: str) -> None:
        self._jobs.pop(path, None)
        if size != self.size:
            self.ready.emit(path)
            return
        self._failures[path] = reason
        self.ready.emit(path)
