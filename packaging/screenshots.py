"""Drive the real app on the sample collection and save screenshots of its main screens.

Run under an X server (packaging/screenshots.sh starts Xvfb): it opens a throw-away library,
indexes the samples, searches, reviews the similar sets, shows the skipped files and fine-tunes
briefly, grabbing each screen into docs/screenshots/ (`--only` picks some); the clean-up screen
moves exact copies of a temporary backup folder to a temporary Trash. Settings go to a
temporary file, never to the user's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retrieval_app.core.progress import Progress  # noqa: E402
from retrieval_app.gui.app import create_application  # noqa: E402
from retrieval_app.gui.finetune import FineTuneDialog  # noqa: E402
from retrieval_app.gui.folders import SkippedDialog  # noqa: E402
from retrieval_app.gui.main_window import MainWindow  # noqa: E402
from retrieval_app.gui.resources import sample_folder  # noqa: E402
from retrieval_app.gui.results import PathRole  # noqa: E402
from retrieval_app.gui.settings import AppSettings  # noqa: E402

WINDOW_SIZE = (1360, 860)
QUERY = "cat-mirror.jpg"
SETS_DISTANCE = 0.6
"""Finds the samples' sets with the default model."""
SHOTS = (
    "welcome",
    "indexing",
    "main-window",
    "queries",
    "similar-sets",
    "compare",
    "skipped-files",
    "clean-up",
    "fine-tune",
)
BACKUP = ("cat.jpg", "alps.jpg", "brick.jpg", "coffee.jpg", "astronaut.jpg")
"""Samples copied into a 'Phone backup' folder: exact copies for the clean-up screen."""


def settle(seconds: float = 0.3) -> None:
    """Let layouts, repaints and queued signals finish."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait_for_signal(signal: object, timeout: float = 600) -> tuple:
    """Run the event loop until `signal` fires; returns its arguments (raises TimeoutError)."""
    loop = QEventLoop()
    received: list[tuple] = []

    def catch(*args: object) -> None:
        received.append(args)
        loop.quit()

    signal.connect(catch)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    signal.disconnect(catch)
    if not received:
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    return received[0]


def save(widget: QWidget, out: Path, name: str) -> None:
    settle()
    path = out / name
    widget.grab().save(str(path))
    print(f"saved {path}")


def _grab_once_when(condition, grab):
    """A progress slot that takes one screenshot the first time `condition(progress)` holds."""
    taken = []

    def check(progress) -> None:
        if not taken and isinstance(progress, Progress) and condition(progress):
            taken.append(True)
            grab()

    return check


def wait_for_thumbnails(window: MainWindow, model=None, timeout: float = 60) -> None:
    model = model or window.results_page.model
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = [model.index(row) for row in range(model.rowCount())]
        if all(
            index.data(Qt.ItemDataRole.DecorationRole) is not None
            or window.thumbnails.failure(index.data(PathRole))
            for index in rows
        ):
            return
        settle(0.1)


def labelled_copy(samples: Path, target: Path) -> Path:
    """A labelled folder made from the samples' groups (one sub-folder per original and its copies)."""
    groups = json.loads((samples / "sets.json").read_text())["groups"]
    for name, files in groups.items():
        folder = target / name
        folder.mkdir(parents=True)
        for file in files:
            shutil.copy2(samples / file, folder / file)
    return target


def refine_a_query(window: MainWindow, samples: Path) -> None:
    """Two examples dropped together, "Less Like This" on a result, then a region drawn on the preview."""
    search = window.controller.search
    search.set_examples([str(samples / "alps.jpg"), str(samples / "lake.jpg")])
    wait_for_signal(search.resultsChanged)
    unwanted = next(r.path for r in search.results if "dunes" in r.path or "meadow" in r.path)
    window.refine_query(unwanted, more=False)
    wait_for_signal(search.resultsChanged)
    region = (0.0, 0.05, 1.0, 0.6)
    window.query_panel.preview.set_region(region)
    window.query_panel.whole_button.setVisible(True)
    search.set_region(region)
    wait_for_signal(search.resultsChanged)
    wait_for_thumbnails(window)


def review_a_set(window: MainWindow) -> None:
    """Show the similar sets with the cat's set open, one copy unticked and another made the keeper."""
    page = window.sets_page
    page.max_distance.setValue(SETS_DISTANCE)
    window.show_similar_sets()
    wait_for_signal(page.setsShown)
    groups = page.groups_model.groups()
    cat = next((row for row, g in enumerate(groups) if "cat" in Path(g.representative.path).stem), 0)
    page.groups_view.setCurrentIndex(page.groups_model.index(cat))
    members = page.members_model
    if members.rowCount() > 2:
        members.set_keeper(1)
        members.set_ticked([members.rowCount() - 1], False)
    page.members_view.setCurrentIndex(members.index(1))
    for model in (page.groups_model, members):
        wait_for_thumbnails(window, model)


def compare_two(window: MainWindow) -> QWidget:
    """The compare view on the open set: its keeper and the member after it, side by side."""
    dialog = window.sets_page.compare()
    dialog.resize(1200, 820)
    end = time.monotonic() + 60
    while not dialog.loaded() and time.monotonic() < end:
        settle(0.1)
    return dialog


def clean_up_backup(window: MainWindow, settings: AppSettings, samples: Path, backup: Path) -> None:
    """Index a backup folder of exact copies, then move the copies to the Trash (a temporary one).

    The samples folder is a reference folder, so nothing in it can be proposed; checked again
    before anything moves (only files of the temporary folders may go)."""
    backup.mkdir(parents=True)
    for name in BACKUP:
        shutil.copy2(samples / name, backup / name)
    settings.reference_folders = [str(samples)]
    window.add_folders([str(backup)])
    wait_for_signal(window.controller.jobEnded)
    page = window.sets_page
    page.max_distance.setValue(SETS_DISTANCE)
    page.tier_filter.setCurrentIndex(page.tier_filter.findData("exact"))
    window.show_similar_sets()
    wait_for_signal(page.setsShown)
    while page.busy():  # the find's task ends just after its sets are shown
        settle(0.1)
    plan = page.trash_plan(every_set=True)
    if not plan or not all(Path(move.path).is_relative_to(backup.parent) for move in plan):
        raise RuntimeError(f"the clean-up would move files outside the temporary folders: {plan}")
    if page.trash_others(every_set=True, confirm=False) is None:
        raise RuntimeError("the clean-up did not start")
    wait_for_signal(page.setsShown)
    page.tier_filter.setCurrentIndex(page.tier_filter.findData(""))  # every set again, after the clean-up
    wait_for_thumbnails(window, page.groups_model)
    wait_for_thumbnails(window, page.members_model)


def messy_folder(target: Path, samples: Path) -> Path:
    """A 'Downloads' folder with a few files that cannot be indexed, for the skipped-files screen."""
    target.mkdir(parents=True)
    shutil.copy2(samples / "meadow.jpg", target / "meadow-copy.jpg")
    (target / "holiday-truncated.jpg").write_bytes((samples / "lake.jpg").read_bytes()[:2000])
    (target / "empty.png").write_bytes(b"")
    (target / "notes.webp").write_text("not really an image")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--only", nargs="+", choices=SHOTS, help="take only these screenshots")
    args = parser.parse_args()
    wanted = set(args.only or SHOTS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def shot(widget: QWidget, name: str) -> None:
        if name in wanted:
            save(widget, out, f"{name}.png")

    samples = sample_folder() or REPO / "resources" / "samples"
    app = create_application(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="lookalike-shots-") as tmp:
        tmp_path = Path(tmp)
        settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        settings.thumbnail_size = 150
        window = MainWindow(settings, tmp_path / "library")
        window.resize(*WINDOW_SIZE)
        window.show()
        window.start()
        wait_for_signal(window.controller.opened)
        settle(1.0)
        shot(window, "welcome")

        grab_while_indexing = _grab_once_when(
            lambda progress: progress.stage == "embedding" and progress.done >= progress.total // 3,
            lambda: shot(window, "indexing"),
        )
        window.controller.jobProgress.connect(grab_while_indexing)
        window.add_folders([str(samples)])
        wait_for_signal(window.controller.jobEnded)
        window.controller.jobProgress.disconnect(grab_while_indexing)
        window.use_as_query(str(samples / QUERY))
        wait_for_signal(window.controller.search.resultsChanged)
        wait_for_thumbnails(window)
        shot(window, "main-window")
        if "queries" in wanted:
            refine_a_query(window, samples)
            shot(window, "queries")

        if wanted & {"similar-sets", "compare"}:
            review_a_set(window)
            shot(window, "similar-sets")
            if "compare" in wanted:
                dialog = compare_two(window)
                shot(dialog, "compare")
                dialog.close()
            window.show_search_results()

        window.add_folders([str(messy_folder(tmp_path / "Downloads", samples))])
        wait_for_signal(window.controller.jobEnded)
        window.folders.view.setCurrentIndex(window.folders.model.index(0, 0))
        dialog = SkippedDialog(window.status.skipped, window)
        dialog.show()
        shot(dialog, "skipped-files")
        dialog.close()

        if "clean-up" in wanted:  # the trash is a temporary folder's, never the person's
            os.environ["XDG_DATA_HOME"] = str(tmp_path / "xdg")
            clean_up_backup(window, settings, samples, tmp_path / "Phone backup")
            shot(window, "clean-up")
            window.show_search_results()

        if "fine-tune" not in wanted:
            window.close()
            app.quit()
            return 0
        finetune = FineTuneDialog(window.controller, settings, window)
        finetune.show()
        finetune.set_folder(str(labelled_copy(samples, tmp_path / "Pictures" / "sample-groups")))
        wait_for_signal(finetune.scanned)
        finetune.epochs.setValue(args.epochs)
        finetune.image_size.setValue(args.image_size)
        finetune.start_training()
        wait_for_signal(finetune.trainingEnded, timeout=1800)
        shot(finetune, "fine-tune")
        finetune.close()
        window.close()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
