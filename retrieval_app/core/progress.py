"""Progress reporting and cancellation shared by the CLI, the GUI and the trainer's callers.

Long operations take a `ProgressCallback` and a `CancelToken`: plain Python, no Qt, so the
CLI can drive a tqdm bar and the GUI can forward the same reports as signals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class Cancelled(Exception):
    """Raised inside a long operation when its token was cancelled."""


class CancelToken:
    """Thread-safe flag a caller sets to ask a running operation to stop at the next checkpoint."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class Progress:
    """One report: `done` of `total` items in `stage`, with rate (items/s) and ETA (s) when known."""

    stage: str
    done: int
    total: int
    rate: float | None = None
    eta: float | None = None
    message: str = ""
    unit: str = "img"  # what `done` and `total` count

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


class ProgressMeter:
    """Turns counts into `Progress` reports with a smoothed rate and ETA."""

    def __init__(self, stage: str, total: int, callback: ProgressCallback | None, unit: str = "img") -> None:
        self.stage = stage
        self.total = total
        self.callback = callback
        self.unit = unit
        self.done = 0
        self._start = time.perf_counter()

    def advance(self, count: int = 1, message: str = "") -> None:
        self.done += count
        self.report(message)

    def report(self, message: str = "") -> None:
        if self.callback is None:
            return
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 and self.done else None
        eta = (self.total - self.done) / rate if rate else None
        self.callback(Progress(self.stage, self.done, self.total, rate, eta, message, self.unit))
