"""Export results or similar sets into a folder the person picks (core `export_files`, in the background)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval_app.core.progress import CancelToken

from .formatting import plural
from .tasks import Report, Task

if TYPE_CHECKING:
    from retrieval_app.core.export import ExportItem

    from .progress_panel import ProgressPanel

EXPORT_MODES = {
    "copy": ("copies", "Independent copies of the files"),
    "link": ("links", "Hard links where the disk allows it, else symbolic links: no extra space"),
}
VERBS = {"copy": "Copied", "hardlink": "Linked", "symlink": "Linked"}


def export_items_task(
    items: list[ExportItem],
    destination: str,
    mode: str = "copy",
    numbered: bool = True,
    manifests: Sequence[str] = ("csv",),
) -> Task:
    """A Task exporting `items` into `destination` (copy or link) with manifests; progress and cancel."""
    from retrieval_app.core.export import export_files

    def run(report: Report, cancel: CancelToken) -> object:
        return export_files(
            items, destination, mode, numbered=numbered, manifests=manifests, progress=report, cancel=cancel
        )

    return Task("export", run)


def follow_export(
    task: Task,
    destination: str,
    progress: ProgressPanel,
    message: Callable[[str], None],
    error: Callable[[str], None],
) -> None:
    """Show the export's progress, then say what was written (a stopped export keeps it) or why not.

    The caller hides `progress` when the task is done (the panel may be shared with other work).
    """

    def ended(report: object) -> None:
        if report is not None:  # None: stopped before it began
            message(describe_export(report))

    task.progressed.connect(progress.update_progress)
    task.finished.connect(ended)
    task.cancelled.connect(ended)
    task.failed.connect(lambda text: error(f"Could not export: {text}"))
    progress.start(f"Exporting to {destination}")


def describe_export(report: object) -> str:
    """`Copied 24 images to ~/Pictures/cats (list in manifest.csv); 1 could not be read: …`."""
    modes = Counter(VERBS.get(f.mode, "Exported") for f in report.exported)
    verb = modes.most_common(1)[0][0] if len(modes) == 1 else "Exported"
    text = f"{verb} {plural(len(report.exported), 'image')} to {report.destination}"
    if report.manifests:
        names = " and ".join(Path(manifest).name for manifest in report.manifests)
        text += f" (list in {names})"
    if report.failed:
        path, reason = report.failed[0]
        text += f"; {len(report.failed)} could not be exported, e.g. {Path(path).name}: {reason}"
    if report.cancelled:
        text += "; stopped before the end"
    return text + "."
