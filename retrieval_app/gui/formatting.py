"""Numbers and reports from the core turned into short sentences for the window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from retrieval_app.core.progress import Progress

if TYPE_CHECKING:
    from retrieval_app.core.library import IndexReport


def format_duration(seconds: float) -> str:
    """`850 ms`, `12 s`, `4 min`, `1.5 h`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


UNIT_NOUNS = {"img": "image"}  # the short units of `Progress.unit` (tqdm's) as words


def plural(count: int, noun: str) -> str:
    """`1 image`, `3 images`, `2 classes`."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {_plural_noun(noun)}"


def _plural_noun(noun: str) -> str:
    return f"{noun}{'es' if noun.endswith(('s', 'x', 'ch', 'sh')) else 's'}"


def describe_progress(progress: Progress) -> str:
    """`120 of 480 · 23.4 images/s · about 15 s left` (only the parts that are known), in the report's unit."""
    parts = []
    if progress.total > 0:
        parts.append(f"{progress.done:,} of {progress.total:,}")
    elif progress.done:
        parts.append(f"{progress.done:,} found")
    if progress.rate:
        unit = _plural_noun(UNIT_NOUNS.get(progress.unit, progress.unit))
        parts.append(f"{progress.rate:.1f} {unit}/s")
    if progress.eta is not None and progress.total > 0 and progress.done < progress.total:
        parts.append("almost done" if progress.eta < 1 else f"about {format_duration(progress.eta)} left")
    if progress.message and not parts:
        parts.append(progress.message)
    return " · ".join(parts)


def summarize_index(report: IndexReport) -> str:
    """One sentence about an indexing run, saying so when it was stopped early."""
    parts = [f"{plural(report.embedded, 'image')} indexed"]
    if report.skipped:
        parts.append(f"{report.skipped:,} skipped")
    if report.removed:
        parts.append(f"{report.removed:,} removed")
    if report.moved:
        parts.append(f"{report.moved:,} moved")
    text = ", ".join(parts)
    offline = "".join(
        f" {Path(folder).name} cannot be read now (unplugged?); its images are kept."
        for folder in report.unavailable
    )
    if report.cancelled:
        return f"Indexing stopped: {text}. The rest is indexed next time.{offline}"
    if not report.embedded and not report.removed and not report.skipped:
        return f"Library is up to date.{offline}"
    return f"{text[0].upper()}{text[1:]} in {format_duration(report.seconds)}.{offline}"
