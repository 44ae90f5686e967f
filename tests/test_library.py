"""The library end to end: indexing, incremental updates, search quality, metrics, persistence."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from retrieval_app.core.library import Library, LibraryError
from retrieval_app.core.progress import CancelToken
from retrieval_app.core.vector_index import HnswIndex
from tests.imagegen import original, variant, write_collection


@pytest.fixture
def photos(tmp_path):
    return write_collection(tmp_path / "photos", originals=8, variants=("resized",))


def _open(tmp_path, spec, name="lib", size=128):
    return Library.open(tmp_path / name, model=str(spec), image_size=size)


def test_resized_copy_finds_original_at_rank_1(tmp_path, photos, lite_model_spec):
    with _open(tmp_path, lite_model_spec) as library:
        report = library.index([tmp_path / "photos"])
        assert report.embedded == 16 and report.skipped == 0
        for name, (orig, copy) in photos.items():
            results = library.search(copy, k=3)
            assert results[0].path == str(orig), name
            assert all(r.path != str(copy) for r in results)
            assert [r.rank for r in results] == [1, 2, 3]
            assert results[0].distance <= results[1].distance


def test_query_from_outside_the_library_and_pasted_image(tmp_path, photos, lite_model_spec):
    outside = tmp_path / "outside.png"
    variant(original(3), "crop").save(outside)
    # at 128 px a 6 % crop of these generated scenes lies as far as other scenes (0.96 vs 0.89)
    with _open(tmp_path, lite_model_spec, size=160) as library:
        library.index([tmp_path / "photos"])
        assert library.search(outside, k=1)[0].path == str(photos["scene03"][0])
        pasted = variant(original(5), "bright")
        assert library.search(pasted, k=1)[0].path == str(photos["scene05"][0])


def _snapshot(library):
    ids, vectors = library.catalogue.vectors()
    paths = library.catalogue.paths_for(ids)
    return {paths[i]: v for i, v in zip(ids.tolist(), vectors, strict=True)}


def test_incremental_reindex_equals_fresh_index(tmp_path, photos, tiny_checkpoint):
    folder = tmp_path / "photos"
    with _open(tmp_path, tiny_checkpoint, "incremental", 64) as library:
        library.index([folder])
        # add, modify, delete and move (rename) files
        original(100).save(folder / "new.jpg")
        variant(original(1), "blur").save(folder / "scene01.jpg")
        os.utime(folder / "scene01.jpg", ns=(1, 10**18))
        (folder / "scene02-resized.jpg").unlink()
        (folder / "sub").mkdir()
        shutil.move(folder / "scene04.jpg", folder / "sub" / "renamed.jpg")
        report = library.index()
        assert (report.added, report.changed, report.removed, report.moved) == (1, 1, 1, 1)
        assert report.embedded == 2  # the moved file kept its vector
        incremental = _snapshot(library)
        assert len(library.index_for("euclidean")[0]) == len(incremental)
    with _open(tmp_path, tiny_checkpoint, "fresh", 64) as fresh:
        fresh.index([folder])
        expected = _snapshot(fresh)
    assert sorted(incremental) == sorted(expected)
    for path, vector in expected.items():
        np.testing.assert_allclose(incremental[path], vector, atol=1e-5)


def test_rescan_of_unchanged_library_embeds_nothing(tmp_path, photos, tiny_checkpoint):
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        report = library.index()
    assert report.embedded == 0 and report.unchanged == 16


def test_corrupt_files_are_skipped_with_reasons(tmp_path, photos, tiny_checkpoint):
    folder = tmp_path / "photos"
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not a picture")
    good = folder / "scene00.jpg"
    (folder / "cut.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        report = library.index([folder])
        status = library.status()
    assert report.embedded == 16 and report.skipped == 3
    reasons = dict(status.skipped)
    assert "empty" in reasons[str(folder / "empty.jpg")]
    assert "not an image" in reasons[str(folder / "notes.png")]
    assert "corrupt or truncated" in reasons[str(folder / "cut.jpg")]
    assert status.to_json()["indexed"] == 16 and status.pending == 0


def test_reopened_library_answers_identically(tmp_path, photos, tiny_checkpoint):
    queries = [members[1] for members in photos.values()]
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        before = {
            m: [library.search(q, k=5, metric=m) for q in queries] for m in ("euclidean", "mahalanobis")
        }
    reopened = Library.open(tmp_path / "lib")
    with reopened:
        for metric, results in before.items():
            assert [reopened.search(q, k=5, metric=metric) for q in queries] == results


def test_cosine_is_half_squared_euclidean_with_same_ranking(tmp_path, photos, tiny_checkpoint):
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        query = photos["scene02"][1]
        euclid = library.search(query, k=6)
        cosine = library.search(query, k=6, metric="cosine")
    assert [r.path for r in euclid] == [r.path for r in cosine]
    np.testing.assert_allclose([c.distance for c in cosine], [e.distance**2 / 2 for e in euclid], rtol=1e-4)


def test_mahalanobis_distances_equal_direct_numpy(tmp_path, photos, tiny_checkpoint):
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        ids, vectors = library.catalogue.vectors()
        space = library.metric_space("mahalanobis")
        query = photos["scene06"][1]
        results = library.search(query, k=15, metric="mahalanobis")
        q = library.embedder.embed_file(str(query))
        paths = library.catalogue.paths_for(ids)
    transform, mean = space.transform.astype(np.float64), space.mean.astype(np.float64)

    def whitened(x):  # centred, whitened, unit length
        z = (x.astype(np.float64) - mean) @ transform.T
        return z / np.linalg.norm(z)

    by_path = {paths[i]: v for i, v in zip(ids.tolist(), vectors, strict=True)}
    for r in results:
        assert r.distance == pytest.approx(np.linalg.norm(whitened(by_path[r.path]) - whitened(q)), rel=1e-3)
    distances = [r.distance for r in results]
    assert distances == sorted(distances)


def test_max_distance_and_k(tmp_path, photos, tiny_checkpoint):
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        query = photos["scene00"][1]
        everything = library.search(query, k=None)
        assert len(everything) == 15
        cutoff = everything[4].distance
        limited = library.search(query, k=None, max_distance=cutoff)
        assert [r.path for r in limited] == [r.path for r in everything if r.distance <= cutoff]
        with pytest.raises(LibraryError):
            library.search(query, k=0)


def test_cancel_keeps_work_and_resumes(tmp_path, tiny_checkpoint):
    folder = tmp_path / "many"
    write_collection(folder, originals=40, variants=())
    token = CancelToken()
    seen = []

    def progress(report):
        seen.append(report)
        if report.stage == "embedding" and report.done >= 8:
            token.cancel()

    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.embedder.batch_size = 8
        first = library.index([folder], progress=progress, cancel=token)
        assert first.cancelled and 8 <= first.embedded < 40
        second = library.index()
        assert second.embedded == 40 - first.embedded
        assert library.status().indexed == 40


def test_model_change_reembeds(tmp_path, photos, tiny_checkpoint, lite_model_spec):
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        assert library.index_for("euclidean")[0].dim == 32
        assert library.set_model(lite_model_spec, image_size=128) is True
        assert library.status().pending == 16
        library.index()
        assert library.index_for("euclidean")[0].dim == 1280
        assert library.status().indexed == 16


def test_bad_query_gives_clear_error(tmp_path, photos, tiny_checkpoint):
    broken = tmp_path / "broken.jpg"
    broken.write_text("nope")
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        with pytest.raises(LibraryError, match="cannot use .* as a query: not an image"):
            library.search(broken)


def test_rgba_query_image(tmp_path, photos, tiny_checkpoint):
    with _open(tmp_path, tiny_checkpoint, size=64) as library:
        library.index([tmp_path / "photos"])
        assert len(library.search(Image.new("RGBA", (50, 50)), k=3)) == 3


def test_a_grown_library_tunes_its_graph_search_and_retunes_after_growing(
    tmp_path, photos, lite_model_spec, monkeypatch, capsys
):
    import retrieval_app.core.index_store as index_store
    from retrieval_app.cli.main import main
    from retrieval_app.core.reports import DEFAULT_K

    monkeypatch.setattr(index_store, "EXACT_LIMIT", 10)
    folder = tmp_path / "photos"
    with _open(tmp_path, lite_model_spec) as library:
        reports = []
        library.index([folder], progress=reports.append)
        assert [r.stage for r in reports][-1] == "tuning search" and reports[-1].fraction == 1.0
        index, _ = library.index_for("euclidean")
        assert isinstance(index, HnswIndex)
        assert (index.tuning.size, index.tuning.k) == (16, DEFAULT_K)
        first = index.tuning
    assert main(["--library", str(tmp_path / "lib"), "status"]) == 0
    assert f"HNSW graph of 16 vectors, ef {index.ef} (recall@12 {first.recall:.3f}" in capsys.readouterr().out

    for extra in range(8):  # 24 = 1.5 x 16: not yet worth re-measuring
        original(200 + extra).save(folder / f"extra{extra}.jpg")
    with _open(tmp_path, lite_model_spec) as library:
        library.index()
        assert library.index_for("euclidean")[0].tuning == first
        original(300).save(folder / "one-more.jpg")
        library.index()
        assert library.index_for("euclidean")[0].tuning.size == 25
