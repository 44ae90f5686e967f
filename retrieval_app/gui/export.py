"""Export results or similar sets into a folder the person picks (core `export_files`, in the background)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval_app.core.progress import CancelToken

from .formatting import plural
from .tasks import Report, Task

if TYPE_CHECKING:
    from retrieval_app.core.export import ExportItem

EXPORT_MODES = {
    "copy": ("copies", "Independent copies of the files"),
    "link": ("links", "Hard links where the disk allows it, else symbolic links: no extra space"),
}
VERBS = {"copy": "Copied", "hardlink": "Linked", "symlink": "Linked"}


def export_task(results: list, destination: str, query: str | None) -> Task:
    """A Task copying `results` into `destination`, numbered by rank, with a CSV manifest."""
    from retrieval_app.core.export import items_for_results

    return export_items_task(items_for_results(results, query), destination)


def export_items_task(
    items: list[ExportItem], destination: str, mode: str = "copy", numbered: bool = True
) -> Task:
    """A Task exporting `items` into `destination` (copy or link) with a CSV manifest; progress and cancel."""
    from retrieval_app.core.export import export_files

    def run(report: Report, cancel: CancelToken) -> object:
        return export_files(
            items, destination, mode, numbered=numbered, manifests=("csv",), progress=report, cancel=cancel
        )

    return Task("export", run)


def describe_export(report: object) -> str:
    """`Copied 24 images to ~/Pictures/cats (list in manifest.csv); 1 could not be read: …`."""
    modes = Counter(VERBS.get(f.mode, "Exported") for f in report.exported)
    verb = modes.most_common(1)[0][0] if len(modes) == 1 else "Exported"
    text = f"{verb} {plural(len(report.exported), 'image')} to {report.destination}"
    if report.manifests:
        text += f" (list in {Path(report.manifests[0]).name})"
    if report.failed:
        path, reason = report.failed[0]
        text += f"; {len(report.failed)} could not be exported, e.g. {Path(path).name}: {reason}"
    if report.cancelled:
        text += "; stopped before the end"
    return text + "."
