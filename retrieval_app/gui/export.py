"""Export the results on screen into a folder the person picks (core `export_files`, in the background)."""

from __future__ import annotations

from pathlib import Path

from retrieval_app.core.progress import CancelToken

from .formatting import plural
from .tasks import Report, Task


def export_task(results: list, destination: str, query: str | None) -> Task:
    """A Task copying `results` into `destination`, numbered by rank, with a CSV manifest."""
    from retrieval_app.core.export import export_files, items_for_results

    items = items_for_results(results, query)

    def run(report: Report, cancel: CancelToken) -> object:
        return export_files(
            items, destination, "copy", numbered=True, manifests=("csv",), progress=report, cancel=cancel
        )

    return Task("export", run)


def describe_export(report: object) -> str:
    """`Copied 24 images to ~/Pictures/cats (list in manifest.csv); 1 could not be read: …`."""
    text = f"Copied {plural(len(report.exported), 'image')} to {report.destination}"
    if report.manifests:
        text += f" (list in {Path(report.manifests[0]).name})"
    if report.failed:
        path, reason = report.failed[0]
        text += f"; {len(report.failed)} could not be copied, e.g. {Path(path).name}: {reason}"
    if report.cancelled:
        text += "; stopped before the end"
    return text + "."
