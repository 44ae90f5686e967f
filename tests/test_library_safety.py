"""The library keeps what it knows when the disk misbehaves, and readers never rewrite indexes."""

from __future__ import annotations

import os

import numpy as np

from retrieval_app.core.library import Library
from tests.imagegen import write_collection


def test_an_unavailable_folder_keeps_its_images_until_it_returns(tmp_path, tiny_checkpoint):
    sets = write_collection(tmp_path / "photos", originals=3, variants=("resized",))
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "photos"])
        ids_before = sorted(library.catalogue.indexed_ids().tolist())
        (tmp_path / "photos").rename(tmp_path / "unmounted")
        report = library.index()
        assert report.unavailable == [str(tmp_path / "photos")] and report.removed == 0
        assert sorted(library.index_for("euclidean")[0].ids().tolist()) == ids_before
        (tmp_path / "unmounted").rename(tmp_path / "photos")
        again = library.index()
        assert (again.unchanged, again.embedded, again.unavailable) == (6, 0, [])
        assert library.search(sets["scene01"][1], k=1)[0].path == str(sets["scene01"][0])


def test_a_deleted_subfolder_is_still_removed(tmp_path, tiny_checkpoint):
    write_collection(tmp_path / "photos" / "old", originals=2, variants=())
    write_collection(tmp_path / "photos" / "new", originals=2, variants=(), seed=3)
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "photos"])
        for path in (tmp_path / "photos" / "old").iterdir():
            path.unlink()
        (tmp_path / "photos" / "old").rmdir()
        assert library.index().removed == 2
        assert library.status().indexed == 2


def test_a_relative_model_path_works_from_any_folder(tmp_path, tiny_checkpoint, monkeypatch):
    write_collection(tmp_path / "photos", originals=2, variants=("resized",))
    monkeypatch.chdir(tiny_checkpoint.parent)
    with Library.open(tmp_path / "lib", model=tiny_checkpoint.name) as library:
        library.index([tmp_path / "photos"])
        assert library.model_spec == str(tiny_checkpoint)
    monkeypatch.chdir(tmp_path)
    with Library.open(tmp_path / "lib") as library:
        assert library.search(tmp_path / "photos" / "scene01-resized.jpg", k=1)[0].path.endswith(
            "scene01.jpg"
        )


def test_searching_writes_nothing(tmp_path, tiny_checkpoint):
    write_collection(tmp_path / "photos", originals=3, variants=("resized",))
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([tmp_path / "photos"])
    indexes = tmp_path / "lib" / "indexes"
    before = {p.name: p.stat().st_mtime_ns for p in indexes.iterdir()}
    with Library.open(tmp_path / "lib") as library:
        library.search(tmp_path / "photos" / "scene01.jpg", k=3)
    assert {p.name: p.stat().st_mtime_ns for p in indexes.iterdir()} == before


def test_a_file_excluded_while_its_batch_embeds_stays_out_of_the_index(tmp_path, tiny_checkpoint):
    sets = write_collection(tmp_path / "photos", originals=4, variants=())
    victim = str(sets["scene02"][0])
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.add_folder(tmp_path / "photos")
        library.scan()

        def exclude_during_embedding(report):
            if report.stage == "embedding" and report.done == 0:
                library.exclude([victim])

        library.index(progress=exclude_during_embedding)
        index, _ = library.index_for("euclidean")
        victim_id = library.catalogue.file_by_path(victim).id
        assert victim_id not in index.ids().tolist()
        assert len(index) == 3 and library.catalogue.file_by_path(victim).status == "excluded"


def test_a_file_that_becomes_readable_is_indexed_on_the_next_scan(tmp_path, tiny_checkpoint, monkeypatch):
    import builtins

    sets = write_collection(tmp_path / "photos", originals=2, variants=())
    locked = str(sets["scene01"][0])
    real = {(builtins, "open"): builtins.open, (os, "open"): os.open}  # the decoder uses os.open

    def lock() -> None:
        for (module, name), real_open in real.items():

            def as_a_user(file, *args, real_open=real_open, **kwargs):
                if not isinstance(file, int) and os.fsdecode(file) == locked:
                    raise PermissionError(13, "Permission denied", locked)
                return real_open(file, *args, **kwargs)

            monkeypatch.setattr(module, name, as_a_user)

    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        lock()
        library.index([tmp_path / "photos"])
        assert [path for path, _ in library.status().skipped] == [locked]
        still = library.index()
        assert (still.changed, still.unchanged) == (0, 2)
        monkeypatch.undo()
        fixed = library.index()
        assert fixed.embedded == 1 and library.status().skipped == []
        vectors = library.catalogue.vectors()[1]
        assert np.isfinite(vectors).all() and len(vectors) == 2
