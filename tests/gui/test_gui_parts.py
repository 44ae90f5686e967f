"""Thumbnail cache, drop/paste interpretation and progress wording, without a library."""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QColor, QImage

from retrieval_app.core.progress import Progress
from retrieval_app.gui.drops import candidate_from_mime
from retrieval_app.gui.formatting import describe_progress
from retrieval_app.gui.thumbnails import ThumbnailCache
from tests.imagegen import original


def _mime_for(path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    return mime


def test_thumbnails_load_off_the_main_thread_and_evict_least_recent(qtbot, tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        original(i, size=(120, 80)).save(path)
        paths.append(str(path))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a jpeg")
    cache = ThumbnailCache(size=64, capacity=2)
    assert cache.pixmap(paths[0]) is None  # not loaded yet: a worker was started
    qtbot.waitUntil(lambda: cache.pixmap(paths[0]) is not None, timeout=10_000)
    pixmap = cache.pixmap(paths[0])
    assert (pixmap.width(), pixmap.height()) == (64, 43)
    for path in paths[1:]:
        cache.pixmap(path)
        qtbot.waitUntil(lambda p=path: cache.pixmap(p) is not None, timeout=10_000)
    assert cache.pixmap(paths[2]) is not None
    with qtbot.waitSignal(cache.ready, timeout=10_000):
        assert cache.pixmap(paths[0]) is None  # evicted (capacity 2), so it loads again
    cache.pixmap(str(broken))
    qtbot.waitUntil(lambda: cache.failure(str(broken)) is not None, timeout=10_000)
    assert "not an image" in cache.failure(str(broken))
    assert cache.pixmap(str(broken)) is None and not cache.is_loading(str(broken))


def test_drops_are_understood_or_refused_with_a_reason(tmp_path):
    image = tmp_path / "photo.jpg"
    original(1).save(image)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert candidate_from_mime(_mime_for(image)).source == str(image)
    assert "is a folder" in candidate_from_mime(_mime_for(tmp_path)).error
    assert "not an image Lookalike can read" in candidate_from_mime(_mime_for(notes)).error
    assert "was not found" in candidate_from_mime(_mime_for(tmp_path / "gone.png")).error
    web = QMimeData()
    web.setUrls([QUrl("https://example.com/cat.jpg")])
    assert "on the web" in candidate_from_mime(web).error
    text = QMimeData()
    text.setText("just some words")
    assert "text, not an image" in candidate_from_mime(text).error
    pasted = QMimeData()
    qimage = QImage(40, 30, QImage.Format.Format_RGB32)
    qimage.fill(QColor(10, 200, 30))
    pasted.setImageData(qimage)
    candidate = candidate_from_mime(pasted)
    assert isinstance(candidate.source, Image.Image) and candidate.source.size == (40, 30)
    assert candidate.source.getpixel((5, 5)) == (10, 200, 30)


def test_progress_wording():
    assert describe_progress(Progress("embedding", 120, 480, rate=24.0, eta=15.0)) == (
        "120 of 480 · 24.0 images/s · about 15 s left"
    )
    assert describe_progress(Progress("embedding", 470, 480, rate=30.0, eta=0.3)).endswith("· almost done")
    assert describe_progress(Progress("scanning", 2500, 0)) == "2,500 found"
    assert (
        describe_progress(Progress("embedding", 480, 480, rate=30.0, eta=0.0)) == "480 of 480 · 30.0 images/s"
    )


def test_index_summary_names_folders_that_could_not_be_read():
    from retrieval_app.core.library import IndexReport
    from retrieval_app.gui.formatting import summarize_index

    report = IndexReport(embedded=3, seconds=2.0, unavailable=["/media/usb/Holiday"])
    assert summarize_index(report) == (
        "3 images indexed in 2 s. Holiday cannot be read now (unplugged?); its images are kept."
    )
    assert summarize_index(IndexReport()) == "Library is up to date."


def test_the_window_shows_before_torch_is_imported(tmp_path):
    """Torch loads in the background while the window is already usable."""
    script = (
        "import sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from retrieval_app.gui.app import create_application\n"
        "from retrieval_app.gui.main_window import MainWindow\n"
        "from retrieval_app.gui.settings import AppSettings\n"
        "app = create_application(sys.argv[:1])\n"
        f"settings = AppSettings(QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))\n"
        f"window = MainWindow(settings, {str(tmp_path / 'library')!r})\n"
        "window.show()\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules, window.isVisible())\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
