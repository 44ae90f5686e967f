"""Bad input never crashes indexing and every bad file gets a reason a person understands."""

from __future__ import annotations

import os
import resource
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


@pytest.mark.slow
def test_huge_image_indexed_with_bounded_memory(tmp_path, tiny_checkpoint):
    """A 20,000 x 20,000 JPEG is draft-decoded at 1/8 scale: far below its 1.2 GB of pixels."""
    from PIL import Image

    folder = tmp_path / "huge"
    folder.mkdir()
    Image.new("RGB", (20_000, 20_000), (30, 90, 160)).save(folder / "huge.jpg", quality=50)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        report = library.index([folder])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert report.embedded == 1
    assert grown_mb < 600


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
    if os.geteuid() == 0:
        real_open = builtins.open

        def open_as_a_user(file, *args, **kwargs):
            if os.fspath(file) == str(locked):
                raise PermissionError(13, "Permission denied", str(locked))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", open_as_a_user)
    try:
        with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
            report = library.index([tmp_path / "photos"])
            skipped = dict(library.status().skipped)
    finally:
        locked.chmod(0o644)
    assert report.embedded == 2
    assert list(skipped) == [str(locked)]
    assert "permission denied" in skipped[str(locked)].lower()
