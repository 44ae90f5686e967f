"""A hostile tester's library: pipes named .jpg, a second process switching models, damaged
index files, a lost or damaged catalogue. Each case once broke Lookalike (issue 16)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading

import numpy as np
import pytest

from retrieval_app.cli.main import main
from retrieval_app.core.library import CatalogueLostError, Library
from retrieval_app.core.lock import LibraryBusyError, LibraryLock
from retrieval_app.core.vector_index import CorruptIndexError, HnswIndex
from tests.imagegen import write_collection
from tests.vectors import unit_vectors

HANG_LIMIT_S = 120  # a hang fails the test instead of blocking the suite
NEEDS_FIFO = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes in folders are POSIX only")


@pytest.fixture
def indexed(tmp_path, tiny_checkpoint):
    """A small library at image size 64: (library folder, photo sets)."""
    sets = write_collection(tmp_path / "photos", originals=4, variants=("resized",))
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "photos"])
        library.search(sets["scene00"][1], k=1, metric="mahalanobis")  # saves the transform
        library.save_indexes()
    return tmp_path / "lib", sets


def _without_hanging(work, fifo):
    """Run `work()` in a thread; if it blocks on `fifo`, unblock it and fail."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_LIMIT_S)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked reader gets EOF
        thread.join()
        pytest.fail(f"hung on the named pipe {fifo}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@NEEDS_FIFO
def test_a_named_pipe_or_a_device_named_jpg_is_skipped_not_opened(tmp_path, tiny_checkpoint):
    write_collection(tmp_path / "photos", originals=2, variants=())
    fifo = tmp_path / "photos" / "zz.jpg"
    os.mkfifo(fifo)
    (tmp_path / "photos" / "null.jpg").symlink_to(os.devnull)
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        report = _without_hanging(lambda: library.index([tmp_path / "photos"]), fifo)
        skipped = dict(library.status().skipped)
        assert report.embedded == 2
        assert skipped[str(fifo)] == "not an image file but a named pipe"
        assert skipped[str(tmp_path / "photos" / "null.jpg")] == "not an image file but a device"
        assert _without_hanging(lambda: library.check(repair=True), fifo).repaired


@NEEDS_FIFO
def test_fingerprinting_refuses_a_file_that_became_a_pipe(tmp_path):
    from retrieval_app.core.scanner import fingerprint

    fifo = tmp_path / "was-a-photo.jpg"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not an image file but a named pipe"):
        _without_hanging(lambda: fingerprint(str(fifo), 10), fifo)


@NEEDS_FIFO
def test_the_decoder_refuses_a_named_pipe_instead_of_waiting_for_a_writer(tmp_path):
    from foundation.images import ImageLoadError, load_image

    fifo = tmp_path / "query.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="not an image file but a named pipe"):
        _without_hanging(lambda: load_image(fifo, min_side=64), fifo)


@NEEDS_FIFO
def test_the_trainer_lists_a_named_pipe_among_its_images_as_skipped(tmp_path):
    from trainer.data import scan_labelled_folder

    for seed, name in enumerate(("cats", "dogs")):
        write_collection(tmp_path / name, originals=2, variants=(), seed=seed)
    fifo = tmp_path / "cats" / "zz.jpg"
    os.mkfifo(fifo)
    images = _without_hanging(lambda: scan_labelled_folder(tmp_path), fifo)
    assert len(images) == 4 and images.skipped == [(fifo, "not an image file but a named pipe")]


def _state(root):
    with sqlite3.connect(root / "catalogue.sqlite") as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        files = db.execute("SELECT id, status, vector, model FROM files ORDER BY id").fetchall()
    indexes = {p.name: p.read_bytes() for p in (root / "indexes").iterdir()}
    return meta, files, indexes


def test_the_model_cannot_be_switched_while_another_process_indexes(indexed, tiny_checkpoint, capsys):
    root, _ = indexed
    before = _state(root)
    with LibraryLock(root):  # held by the indexing process
        with pytest.raises(LibraryBusyError):
            Library.open(root, model=str(tiny_checkpoint), image_size=72)
        switch = ["--library", str(root), "index", "--model", str(tiny_checkpoint), "--image-size", "72"]
        assert main([*switch, "-q"]) == 2
    assert "another Lookalike process is indexing" in capsys.readouterr().err
    assert _state(root) == before


def test_an_indexer_that_loaded_the_old_model_embeds_with_the_new_one(indexed, tiny_checkpoint):
    root, _ = indexed
    with Library.open(root) as long_lived:  # a GUI that searched with the old model
        old = long_lived.embedder.fingerprint
        with Library.open(root, model=str(tiny_checkpoint), image_size=72) as switcher:
            new = switcher.embedder.fingerprint
        assert new != old
        report = long_lived.index()
        assert report.embedded == 8
        assert {row[3] for row in _state(root)[1]} == {new}
        assert long_lived.index_for("euclidean")[0].dim == 32
        check = long_lived.check()
        assert check.consistent and check.foreign_vectors == 0


def test_a_model_switched_during_embedding_leaves_no_vector_of_the_old_one(indexed, tiny_checkpoint):
    from retrieval_app.core.catalogue import ModelChangedError

    root, sets = indexed
    (sets["scene00"][0].parent / "new").mkdir()
    write_collection(sets["scene00"][0].parent / "new", originals=3, variants=(), seed=5)
    with Library.open(root) as library:

        def switch(report):
            if report.stage == "embedding" and report.done == 0:
                library.set_model(str(tiny_checkpoint), image_size=72)

        with pytest.raises(ModelChangedError):
            library.index(progress=switch)
        new = library.embedder.fingerprint
        assert all(model in (None, new) for _, status, _, model in _state(root)[1])
        assert library.index().embedded == 11
        assert library.check().consistent


def test_check_finds_and_repair_drops_vectors_of_another_model(indexed):
    root, _ = indexed
    with sqlite3.connect(root / "catalogue.sqlite") as db:
        db.execute("UPDATE files SET model = 'someone-else' WHERE id = 1")
        db.execute("UPDATE files SET vector = ? WHERE id = 2", (np.ones(7, np.float32).tobytes(),))
    with Library.open(root) as library:
        found = library.check()
        assert (found.foreign_vectors, found.vector_dims, found.consistent) == (2, [7, 32], False)
        fixed = library.check(repair=True)
        assert fixed.repaired and fixed.to_embed == 2
        assert library.index().embedded == 2
        after = library.check()
        assert after.consistent and after.vector_dims == [32] and after.foreign_vectors == 0


def test_damaged_exact_index_and_transform_are_rebuilt_not_fatal(indexed, capsys):
    root, sets = indexed
    exact = root / "indexes" / "euclidean.npz"
    exact.write_bytes(exact.read_bytes()[: exact.stat().st_size // 2])
    (root / "indexes" / "mahalanobis-transform.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    assert main(["--library", str(root), "check"]) == 1
    out = capsys.readouterr().out
    assert "euclidean: index unusable (euclidean.npz is damaged" in out
    assert "mahalanobis-transform.npz: unusable" in out
    with Library.open(root) as library:  # a search rebuilds in memory
        assert library.search(sets["scene01"][1], k=1)[0].path == str(sets["scene01"][0])
        # refitted from the catalogue instead of raising BadZipFile (how well a whitening fitted on
        # 8 vectors ranks is the metric's own tests' business)
        assert len(library.search(sets["scene02"][1], k=1, metric="mahalanobis")) == 1
    assert main(["--library", str(root), "check", "--repair"]) == 0
    assert main(["--library", str(root), "check"]) == 0
    assert main(["--library", str(root), "index", "-q"]) == 0


def _hnsw_library(root, photos, checkpoint, monkeypatch):
    import retrieval_app.core.index_store as index_store

    monkeypatch.setattr(index_store, "EXACT_LIMIT", 4)
    with Library.open(root, model=str(checkpoint)) as library:
        library.index([photos])
        assert isinstance(library.index_for("euclidean")[0], HnswIndex)


@pytest.mark.parametrize("legacy", [False, True], ids=["sidecar", "sidecar-without-digest"])
def test_one_character_changed_in_a_sidecars_dim_is_detected_and_repaired(
    indexed, tiny_checkpoint, monkeypatch, legacy
):
    root, sets = indexed
    _hnsw_library(root, sets["scene00"][0].parent, tiny_checkpoint, monkeypatch)
    sidecar = root / "indexes" / "euclidean.hnsw.json"
    meta = json.loads(sidecar.read_text())
    if legacy:  # written before sidecars carried their own digest
        del meta["sidecar_blake2b"]
    text = json.dumps(meta)
    assert '"dim": 32' in text
    sidecar.write_text(text.replace('"dim": 32', '"dim": 33'))
    with pytest.raises(CorruptIndexError, match="says 33 dimensions|changed after it was saved"):
        HnswIndex.load(root / "indexes" / "euclidean.hnsw")
    with Library.open(root) as library:
        report = library.check()
        assert not report.consistent and "euclidean" in report.damaged
        assert library.check(repair=True).repaired
        assert library.check().consistent
        assert library.search(sets["scene03"][1], k=1)[0].path == str(sets["scene03"][0])


def test_an_edited_sidecar_is_refused(tmp_path):
    index = HnswIndex(8)
    index.add(np.arange(5), unit_vectors(np.random.default_rng(0), 5, 8))
    index.save(tmp_path / "x.hnsw")
    sidecar = tmp_path / "x.hnsw.json"
    meta = json.loads(sidecar.read_text())
    meta["live"] = [0, 1]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CorruptIndexError, match="changed after it was saved"):
        HnswIndex.load(tmp_path / "x.hnsw")


def test_a_model_change_retries_files_the_old_model_could_not_take(tmp_path, tiny_checkpoint, monkeypatch):
    from retrieval_app.core.embedder import Embedder

    write_collection(tmp_path / "photos", originals=3, variants=())
    real = Embedder.load_tensor

    def too_large(self, path):
        if self.config.image_size == 64:
            raise RuntimeError("not enough memory for this size")
        return real(self, path)

    monkeypatch.setattr(Embedder, "load_tensor", too_large)
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "photos"])
        assert {r for _, r in library.status().skipped} == {
            "could not be prepared for the model (RuntimeError)"
        }
        assert library.set_model(str(tiny_checkpoint), image_size=72)
        assert library.index().embedded == 3
        assert library.status().indexed == 3 and library.status().skipped == []


@pytest.mark.parametrize("damage", ["deleted", "zero bytes"])
def test_a_lost_catalogue_is_said_and_rebuilt_from_the_folders(indexed, capsys, damage):
    root, sets = indexed
    database = root / "catalogue.sqlite"
    if damage == "deleted":
        database.unlink()
    else:
        database.write_bytes(b"")
    with pytest.raises(CatalogueLostError, match=f"is {'missing' if damage == 'deleted' else 'empty'}"):
        Library.open(root)
    assert main(["--library", str(root), "status"]) == 2
    assert "check --repair" in capsys.readouterr().err
    assert main(["--library", str(root), "check", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "catalogue rebuilt: 1 folders" in out and "8 files wait to be embedded" in out
    assert main(["--library", str(root), "index", "-q"]) == 0
    with Library.open(root) as library:
        assert library.status().indexed == 8
        assert library.search(sets["scene02"][1], k=1)[0].path == str(sets["scene02"][0])


def test_a_folder_that_cannot_be_listed_keeps_its_indexed_files(indexed, monkeypatch):
    import retrieval_app.core.scanner as scanner

    root, sets = indexed
    locked = sets["scene00"][0].parent / "locked"
    write_collection(locked, originals=2, variants=(), seed=9)
    with Library.open(root) as library:
        assert library.index().embedded == 2
        real = scanner.os.scandir

        def scandir(path):
            if os.fspath(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(locked))
            return real(path)

        monkeypatch.setattr(scanner.os, "scandir", scandir)
        report = library.index()
        assert report.removed == 0 and report.unavailable == [str(locked)]
        assert library.status().indexed == 10
        monkeypatch.setattr(scanner.os, "scandir", real)
        assert library.index().unchanged == 10


def test_a_library_that_does_not_exist_is_announced_once(tmp_path, capsys):
    assert main(["--library", str(tmp_path / "typo"), "status"]) == 0
    assert "created a new, empty library in" in capsys.readouterr().err
    assert main(["--library", str(tmp_path / "typo"), "status"]) == 0
    assert "created" not in capsys.readouterr().err


def test_check_tells_an_empty_library_from_lost_indexes(indexed, tmp_path, capsys):
    assert main(["--library", str(tmp_path / "fresh"), "check"]) == 0
    assert "the library is empty" in capsys.readouterr().out
    root, _ = indexed
    for path in (root / "indexes").iterdir():
        path.unlink()
    assert main(["--library", str(root), "check"]) == 1
    out = capsys.readouterr().out
    assert "euclidean: index lost (8 vectors in the catalogue)" in out and "empty" not in out
    assert main(["--library", str(root), "check", "--repair"]) == 0
    assert main(["--library", str(root), "check"]) == 0


def _damage_page_holding(database, needle: bytes) -> None:
    """Overwrite the leaf page of the files table that holds `needle` with garbage."""
    with sqlite3.connect(database) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name = 'files' AND pagetype = 'leaf'")
        ]
    data = bytearray(database.read_bytes())
    pages = [n for n in leaves if needle in data[(n - 1) * page_size : n * page_size]]
    assert len(leaves) > 1 and len(pages) == 1
    start = (pages[0] - 1) * page_size
    data[start : start + page_size] = b"\xa5" * page_size
    database.write_bytes(bytes(data))


def test_a_damaged_catalogue_is_one_line_and_repair_keeps_what_can_be_read(tmp_path, tiny_checkpoint, capsys):
    sets = write_collection(tmp_path / "photos", originals=30, variants=())
    root = tmp_path / "lib"
    with Library.open(root, model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "photos"])
    _damage_page_holding(root / "catalogue.sqlite", os.fsencode(str(sets["scene15"][0])))
    assert main(["--library", str(root), "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert "malformed" in err and "check --repair" in err and "\n" not in err
    assert main(["--library", str(root), "check", "--repair"]) == 0
    out = capsys.readouterr().out
    kept = int(out.split("files and ")[1].split(" vectors")[0])
    assert 0 < kept < 30 and f"{30 - kept} files wait to be embedded" in out
    assert list(root.glob("catalogue.damaged-*.sqlite"))
    assert main(["--library", str(root), "index", "-q"]) == 0
    with Library.open(root) as library:
        assert library.status().indexed == 30 and library.check().consistent
        embedded_again = library.index().embedded
    assert embedded_again == 0
