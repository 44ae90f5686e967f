"""Vector indexes against a brute-force oracle: recall, distances, deletions, save/load."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from retrieval_app.core.vector_index import ExactIndex, HnswIndex, load_index
from tests.vectors import unit_vectors


def _brute(data, ids, queries, k):
    d = np.sqrt(((queries[:, None, :] - data[None, :, :]) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(d, order, axis=1)


def test_exact_matches_brute_force():
    rng = np.random.default_rng(1)
    data, queries = unit_vectors(rng, 500, 16), unit_vectors(rng, 20, 16)
    ids = rng.permutation(10_000)[:500].astype(np.int64)
    index = ExactIndex(16)
    index.add(ids, data)
    got_ids, got_d = index.query(queries, 7)
    want_ids, want_d = _brute(data, ids, queries, 7)
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-4, atol=1e-5)


def test_hnsw_recall_at_10_against_exact():
    rng = np.random.default_rng(2)
    data, queries = unit_vectors(rng, 5000, 32), unit_vectors(rng, 200, 32)
    ids = np.arange(5000, dtype=np.int64)
    hnsw, exact = HnswIndex(32, capacity=100, threads=1, seed=2), ExactIndex(32)
    hnsw.add(ids, data)
    exact.add(ids, data)
    got, got_d = hnsw.query(queries, 10)
    want, _ = exact.query(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])
    assert recall >= 0.95
    true_d = np.linalg.norm(data[got[:, 0]] - queries, axis=1)
    np.testing.assert_allclose(got_d[:, 0], true_d, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_remove_and_readd(kind):
    rng = np.random.default_rng(3)
    data = unit_vectors(rng, 300, 8)
    index = ExactIndex(8) if kind == "exact" else HnswIndex(8, capacity=16)
    index.add(np.arange(300), data)
    index.remove(np.arange(0, 300, 2))
    assert len(index) == 150
    found, _ = index.query(data[:10], 1)
    assert all(int(f) % 2 == 1 for f in found[:, 0])
    index.add(np.array([0]), data[0])
    assert index.query(data[0], 1)[0][0, 0] == 0
    assert len(index) == 151


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_saved_index_answers_identically(tmp_path, kind):
    rng = np.random.default_rng(4)
    data, queries = unit_vectors(rng, 800, 24), unit_vectors(rng, 50, 24)
    index = ExactIndex(24) if kind == "exact" else HnswIndex(24)
    index.add(np.arange(800) + 7, data)
    index.remove(np.arange(7, 57))
    path = tmp_path / ("i.npz" if kind == "exact" else "i.hnsw")
    index.save(path)
    loaded = load_index(path)
    assert len(loaded) == len(index) == 750
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    a_ids, a_d = index.query(queries, 10)
    b_ids, b_d = loaded.query(queries, 10)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_d, b_d)


def test_k_larger_than_index_and_empty():
    index = HnswIndex(4)
    assert index.query(np.ones(4), 5)[0].shape == (1, 0)
    index.add(np.array([1, 2]), np.eye(4)[:2])
    ids, _ = index.query(np.ones(4), 5)
    assert sorted(ids[0].tolist()) == [1, 2]


def test_wrong_dimension_rejected():
    with pytest.raises(ValueError, match="dimension 4"):
        ExactIndex(4).add(np.array([1]), np.ones((1, 5)))


def test_queries_concurrent_with_adds_never_see_half_written_vectors():
    rng = np.random.default_rng(5)
    data = unit_vectors(rng, 4000, 16)
    index = HnswIndex(16, capacity=64)
    index.add(np.arange(500), data[:500])
    errors: list[BaseException] = []

    def writer():
        for start in range(500, 4000, 100):
            index.add(np.arange(start, start + 100), data[start : start + 100])

    def reader():
        try:
            for i in range(300):
                ids, dist = index.query(data[i % 500], 1)
                assert ids[0, 0] == i % 500 and dist[0, 0] < 1e-3
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 4000


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_readding_and_updating_labels_never_leaves_a_second_copy(kind):
    rng = np.random.default_rng(5)
    data, moved = unit_vectors(rng, 60, 8), unit_vectors(rng, 60, 8)
    index = ExactIndex(8) if kind == "exact" else HnswIndex(8, capacity=64)
    index.add(np.arange(60), data)
    index.remove(np.array([3, 4, 10, 11]))
    index.add(np.array([3, 50]), moved[[3, 50]])  # 3 comes back, 50 changes; deleted slots remain
    ids, distances = index.query(np.vstack([data, moved]), len(index))
    live = sorted(set(range(60)) - {4, 10, 11})
    for row in ids:
        assert sorted(row.tolist()) == live  # each label once, every live label reachable
    vectors = {i: data[i] for i in live} | {3: moved[3], 50: moved[50]}
    for query, row, dist in zip(np.vstack([data, moved]), ids, distances, strict=True):
        want = [np.linalg.norm(vectors[int(i)] - query) for i in row]
        np.testing.assert_allclose(dist, want, rtol=1e-3, atol=1e-3)  # sqrt of a rounding-size d²


def test_a_graph_paired_with_another_saves_sidecar_is_refused(tmp_path):
    rng = np.random.default_rng(6)
    index = HnswIndex(8, capacity=64)
    index.add(np.arange(40), unit_vectors(rng, 40, 8))
    path = tmp_path / "euclidean.hnsw"
    index.save(path)
    earlier_sidecar = (tmp_path / "euclidean.hnsw.json").read_bytes()
    index.remove(np.array([1, 2]))
    index.add(np.array([1]), unit_vectors(rng, 1, 8))
    index.save(path)
    (tmp_path / "euclidean.hnsw.json").write_bytes(earlier_sidecar)  # killed between the two renames
    with pytest.raises(RuntimeError, match="different saves"):
        load_index(path)


def test_a_seeded_single_threaded_build_is_the_same_graph_every_time(tmp_path):
    """What makes recall thresholds in tests mean something: no build order left to chance."""
    rng = np.random.default_rng(11)
    data, queries = unit_vectors(rng, 3000, 16), unit_vectors(rng, 100, 16)
    ids = np.arange(3000, dtype=np.int64)
    answers, graphs = [], []
    for run in range(2):
        index = HnswIndex(16, m=4, ef_construction=16, ef=10, capacity=100, threads=1, seed=5)
        for start in range(0, 3000, 500):  # grows and resizes as the library's index does
            index.add(ids[start : start + 500], data[start : start + 500])
        answers.append(index.query(queries, 10))
        index.save(tmp_path / f"{run}.hnsw")
        graphs.append((tmp_path / f"{run}.hnsw").read_bytes())
    np.testing.assert_array_equal(answers[0][0], answers[1][0])
    np.testing.assert_array_equal(answers[0][1], answers[1][1])
    assert graphs[0] == graphs[1]
    other = HnswIndex(16, m=4, ef_construction=16, ef=10, capacity=100, threads=1, seed=6)
    other.add(ids, data)
    assert not np.array_equal(other.query(queries, 10)[0], answers[0][0])  # the seed matters
