"""Show core `Progress` reports as tqdm bars on stderr (count, rate and ETA)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from retrieval_app.core.progress import Progress


class TqdmProgress:
    """A progress callback that keeps one bar per stage."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None
        self._stage = ""

    def __call__(self, report: Progress) -> None:
        if not self.enabled:
            return
        if self._bar is None or report.stage != self._stage:
            self.close()
            self._stage = report.stage
            self._bar = tqdm(total=report.total or None, desc=report.stage, unit=report.unit, file=sys.stderr)
        if report.total and self._bar.total != report.total:
            self._bar.total = report.total
        self._bar.n = report.done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
