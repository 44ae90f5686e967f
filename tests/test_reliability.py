"""Bad input never crashes indexing and every bad file gets a reason a person understands."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from retrieval_app.core.library import Library
from tests.imagegen import write_collection
from tests.torture import make_torture_folder

REASON_WORDS = ("empty", "not an image", "corrupt or truncated", "too large", "symbolic link", "disappeared")


def test_torture_folder_indexes_every_good_image(tmp_path, tiny_checkpoint):
    good, bad = make_torture_folder(tmp_path / "torture")
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        report = library.index([tmp_path / "torture"])
        status = library.status()
        ids, _ = library.catalogue.vectors()
        indexed = set(library.catalogue.paths_for(ids).values())
    assert indexed == {str(p) for p in good}
    skipped = dict(status.skipped)
    assert set(skipped) == {str(p) for p in bad}
    for path, reason in skipped.items():
        assert any(word in reason for word in REASON_WORDS), (path, reason)
    assert report.embedded == len(good)
    assert status.pending == 0


PEAK_GROWTH = """
import re, sys
from retrieval_app.core.library import Library

def kib(field):
    return int(re.search(field + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1))

with Library.open(sys.argv[1], model=sys.argv[2]) as library:
    library.embedder  # model loaded: what follows is the indexing alone
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # peak memory (VmHWM) starts again from the current use
    before = kib("VmRSS")
    report = library.index([sys.argv[3]])
    print(report.embedded, report.skipped, (kib("VmHWM") - before) // 1024)
"""
MEASURABLE = os.path.exists("/proc/self/clear_refs")


def _index_in_a_fresh_process(tmp_path, model, folder) -> tuple[int, int, int]:
    """(embedded, skipped, peak memory growth in MB) of indexing `folder` in a new process, whose
    peak was not raised by writing the test images, measured from after the model loaded (Linux)."""
    if not MEASURABLE:
        pytest.skip("peak memory can be reset only on Linux (/proc/self/clear_refs)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PEAK_GROWTH, str(tmp_path / "lib"), str(model), str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    embedded, skipped, grown_mb = (int(word) for word in done.stdout.split())
    return embedded, skipped, grown_mb


@pytest.mark.slow
def test_huge_image_indexed_with_bounded_memory(tmp_path, tiny_checkpoint):
    """A 12,000 x 12,000 JPEG is draft-decoded at 1/8 scale: far below its 430 MB of pixels."""
    from PIL import Image

    folder = tmp_path / "huge"
    folder.mkdir()
    Image.new("RGB", (12_000, 12_000), (30, 90, 160)).save(folder / "huge.jpg", quality=50)
    embedded, _, grown_mb = _index_in_a_fresh_process(tmp_path, tiny_checkpoint, folder)
    assert embedded == 1
    assert grown_mb < 200, f"indexing one huge JPEG raised peak memory by {grown_mb} MB"


def test_extreme_strips_are_indexed_with_bounded_memory(tmp_path, tiny_checkpoint):
    """8000 x 1 and 1 x 100000 PNGs (a few hundred bytes): scaled for the model uncut they would
    take GBs; their centres are embedded instead."""
    from PIL import Image

    folder = tmp_path / "strips"
    folder.mkdir()
    Image.new("RGB", (8000, 1), (200, 10, 10)).save(folder / "wide.png")
    Image.new("L", (1, 100_000), 90).save(folder / "tall.png")
    embedded, skipped, grown_mb = _index_in_a_fresh_process(tmp_path, tiny_checkpoint, folder)
    assert (embedded, skipped) == (2, 0)
    assert grown_mb < 100, f"indexing two strips raised peak memory by {grown_mb} MB"


def test_other_image_types_are_indexed_or_listed_with_a_reason(tmp_path, tiny_checkpoint, monkeypatch):
    """Netpbm files are indexed; a JPEG named .svg and a HEIC without pillow-heif are listed as
    skipped with what to do; a real SVG drawing and a text file are no photos and stay unlisted."""
    from PIL import Image

    from foundation import imagetypes

    monkeypatch.setattr(imagetypes, "heif_ready", lambda: False)
    folder = tmp_path / "types"
    folder.mkdir()
    for index, name in enumerate(("scan.ppm", "grey.pgm", "bw.pbm", "old.jfif")):
        mode = {".pgm": "L", ".pbm": "1"}.get(os.path.splitext(name)[1], "RGB")
        Image.new("RGB", (40, 30), (20 * index, 90, 160)).convert(mode).save(
            folder / name, format="JPEG" if name.endswith(".jfif") else None
        )
    Image.new("RGB", (40, 30), (200, 90, 10)).save(folder / "holiday.svg", format="JPEG")
    (folder / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(16))
    (folder / "notes.txt").write_text("not an image")
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        report = library.index([folder])
        skipped = dict(library.status().skipped)
    assert (report.embedded, report.skipped) == (4, 2)
    assert skipped == {
        str(folder / "holiday.svg"): "a JPEG image named .svg: rename it to .jpg to have it indexed",
        str(folder / "phone.heic"): imagetypes.HEIF_MISSING,
    }


def test_file_removed_while_indexing_is_recorded(tmp_path, tiny_checkpoint):
    sets = write_collection(tmp_path / "photos", originals=30, variants=())
    victim = sets["scene29"][0]

    def progress(report):
        if report.stage == "embedding" and report.done == 0 and victim.exists():
            victim.unlink()

    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        report = library.index([tmp_path / "photos"], progress=progress)
        skipped = dict(library.status().skipped)
        assert report.embedded == 29
        assert "disappeared" in skipped[str(victim)]
        again = library.index()
        assert again.removed == 1 and library.status().files == 29


def test_searches_while_indexing_stay_consistent(tmp_path, tiny_checkpoint):
    first = write_collection(tmp_path / "a", originals=10, variants=("resized",))
    write_collection(tmp_path / "b", originals=40, variants=(), seed=7)
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "a"])
        query = first["scene03"][1]
        expected = library.search(query, k=1)[0].path
        library.add_folder(tmp_path / "b")
        errors: list[BaseException] = []
        done = threading.Event()

        def search_loop():
            try:
                while not done.is_set():
                    results = library.search(query, k=3)
                    assert results[0].path == expected
                    assert all(os.path.exists(r.path) for r in results)
            except BaseException as exc:  # re-raised below in the test thread
                errors.append(exc)

        searcher = threading.Thread(target=search_loop)
        searcher.start()
        try:
            library.index()
        finally:
            done.set()
            searcher.join()
        assert not errors
        assert len(library.index_for("euclidean")[0]) == 60


def test_two_writers_are_refused_not_interleaved(tmp_path, tiny_checkpoint):
    from retrieval_app.core.lock import LibraryBusyError, LibraryLock

    write_collection(tmp_path / "photos", originals=2, variants=())
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library, LibraryLock(library.root):
        other = Library.open(tmp_path / "lib")
        with pytest.raises(LibraryBusyError, match="another Lookalike process"):
            other.index([tmp_path / "photos"])
        other.close()


def test_unreadable_file_is_skipped_with_a_reason(tmp_path, tiny_checkpoint, monkeypatch):
    """chmod 000 stops everyone but root; as root (CI), opening it is made to fail the same way."""
    import builtins

    sets = write_collection(tmp_path / "photos", originals=3, variants=())
    locked = sets["scene01"][0]
    locked.chmod(0)
    if getattr(os, "geteuid", lambda: -1)() == 0:  # the decoder opens with os.open, others with open
        for module, name in ((builtins, "open"), (os, "open")):
            real = getattr(module, name)

            def as_a_user(file, *args, real=real, **kwargs):
                if not isinstance(file, int) and os.fsdecode(file) == str(locked):
                    raise PermissionError(13, "Permission denied", str(locked))
                return real(file, *args, **kwargs)

            monkeypatch.setattr(module, name, as_a_user)
    try:
        with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
            report = library.index([tmp_path / "photos"])
            skipped = dict(library.status().skipped)
    finally:
        locked.chmod(0o644)
    assert report.embedded == 2
    assert list(skipped) == [str(locked)]
    assert "permission denied" in skipped[str(locked)].lower()
