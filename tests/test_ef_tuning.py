"""Tuning HNSW's ef against a brute-force oracle: exact k-th distances, recall with ties, the
chosen ladder step, when to re-tune, and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval_app.core import ef_tuning
from retrieval_app.core.ef_tuning import (
    EF_LADDER,
    kth_distances,
    needs_tuning,
    recall_at_k,
    sample_queries,
    tune_ef,
)
from retrieval_app.core.progress import Cancelled, CancelToken
from retrieval_app.core.vector_index import HnswIndex, load_index
from tests.vectors import unit_vectors


def _weak_graph(n=3000, dim=24, seed=0):
    """A deliberately sparse graph on structureless data, so recall depends strongly on ef."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    data = unit_vectors(rng, n, dim)
    index = HnswIndex(dim, m=4, ef_construction=12, capacity=n)
    index.add(ids, data)
    return index, ids, data


def _oracle_recall(index, ids, data, own, k, ef):
    """Set recall@k of HNSW at `ef` against sorted brute-force distances, own entry left out."""
    by_id = dict(zip(ids.tolist(), range(len(ids)), strict=True))
    queries = data[[by_id[i] for i in own.tolist()]]
    found, _ = index.query(queries, k + 1, ef=ef)
    hits = 0
    for query, query_id, row in zip(queries, own, found, strict=True):
        distances = np.linalg.norm(data - query, axis=1)
        distances[by_id[int(query_id)]] = np.inf
        truth = set(ids[np.argsort(distances)[:k]].tolist())
        hits += len(truth & set(row[row != query_id][:k].tolist()))
    return hits / (k * len(own))


def test_kth_distances_match_brute_force_across_chunks_skipping_removed_entries(monkeypatch):
    monkeypatch.setattr(ef_tuning, "SCAN_CHUNK", 37)
    index, ids, data = _weak_graph(n=400, dim=8)
    snapshot = index.ids()
    removed = snapshot[::7]
    index.remove(removed)  # as another thread may, after the tuner took its snapshot
    own, queries = index.live_vectors(sample_queries(snapshot, 25, seed=3))
    assert 0 < len(own) < 25
    got = kth_distances(index, snapshot, queries, own, 5)
    live = ~np.isin(ids, removed)
    for query, query_id, kth in zip(queries, own, got, strict=True):
        distances = np.linalg.norm(data[live].astype(np.float64) - query, axis=1)
        distances[ids[live] == query_id] = np.inf
        assert kth == pytest.approx(np.sort(distances)[4], rel=1e-6)


def test_recall_counts_a_tie_with_the_kth_neighbour_as_a_hit():
    # query 0 at the origin; 1, 2, 3 all at distance 1, 4 at distance 2; k = 2
    own = np.array([0])
    kth = np.array([1.0])
    either_tied_pair = np.array([[0, 3, 2, 1]]), np.array([[0.0, 1.0, 1.0, 1.0]])
    one_too_far = np.array([[0, 1, 4, 2]]), np.array([[0.0, 1.0, 2.0, 1.0]])
    assert recall_at_k(*either_tied_pair, own, kth, 2) == 1.0
    assert recall_at_k(*one_too_far, own, kth, 2) == 0.5


def test_tune_picks_the_smallest_ladder_step_that_reaches_the_target():
    index, ids, data = _weak_graph()
    tuning = tune_ef(index, k=10, target=0.95, sample=120, seed=1)
    own = sample_queries(index.ids(), 120, seed=1)
    steps = [ef for ef in EF_LADDER if ef > 10]
    chosen = steps.index(index.ef)
    assert chosen > 0, "the weak graph should need more than the smallest step"
    assert _oracle_recall(index, ids, data, own, 10, index.ef) == pytest.approx(tuning.recall, abs=1e-9)
    assert tuning.recall >= 0.95
    assert _oracle_recall(index, ids, data, own, 10, steps[chosen - 1]) < 0.95
    assert (tuning.size, tuning.k, tuning.queries, tuning.target) == (3000, 10, 120, 0.95)


def test_an_unreachable_target_keeps_the_largest_step_and_its_recall():
    index, ids, data = _weak_graph(n=500)
    tuning = tune_ef(index, k=10, target=1.01, sample=20, seed=4)
    assert index.ef == EF_LADDER[-1]
    own = sample_queries(index.ids(), 20, seed=4)
    assert tuning.recall == pytest.approx(_oracle_recall(index, ids, data, own, 10, EF_LADDER[-1]))


def test_a_cancelled_tuning_changes_nothing():
    index, _, _ = _weak_graph(n=500)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        tune_ef(index, k=10, cancel=cancel)
    assert (index.ef, index.tuning) == (256, None)


def test_searches_for_more_results_widen_ef_in_proportion():
    index, ids, data = _weak_graph()
    tune_ef(index, k=10, target=0.95, sample=120, seed=1)
    own = sample_queries(index.ids(), 120, seed=1)
    by_id = dict(zip(ids.tolist(), range(len(ids)), strict=True))
    queries = data[[by_id[i] for i in own.tolist()]]
    wide = index.query(queries, 41)[0]  # 40 results besides the query itself: ef widened 41 / 11
    plain = index.query(queries, 41, ef=41)[0]  # what ef = k alone would give
    truth = [np.argsort(np.linalg.norm(data - q, axis=1))[1:41] for q in queries]

    def recall(found):
        return np.mean([len(set(ids[t]) & set(f)) / 40 for t, f in zip(truth, found, strict=True)])

    assert recall(wide) >= 0.95 > recall(plain)


def test_retuning_is_due_after_growing_or_shrinking_by_half():
    index, _, data = _weak_graph(n=1000)
    assert needs_tuning(index)
    tune_ef(index, k=10, sample=20)
    assert not needs_tuning(index)
    rng = np.random.default_rng(9)
    index.add(np.arange(100_000, 100_500), unit_vectors(rng, 500, data.shape[1]))
    assert not needs_tuning(index)  # 1500 = 1.5 x 1000
    index.add(np.array([100_500]), unit_vectors(rng, 1, data.shape[1]))
    assert needs_tuning(index)
    tune_ef(index, k=10, sample=20)
    index.remove(index.ids()[:500])
    assert not needs_tuning(index)  # 1001 is above 1501 / 1.5
    index.remove(index.ids()[:2])
    assert needs_tuning(index)


def test_tuning_is_saved_with_the_graph(tmp_path):
    index, _, _ = _weak_graph(n=600)
    tuning = tune_ef(index, k=10, sample=30)
    index.save(tmp_path / "g.hnsw")
    loaded = load_index(tmp_path / "g.hnsw")
    assert isinstance(loaded, HnswIndex)
    assert (loaded.ef, loaded.tuning) == (index.ef, tuning)


def test_tiny_index_is_tuned_without_error():
    index = HnswIndex(4, capacity=4)
    index.add(np.array([7]), np.ones((1, 4), dtype=np.float32))
    tuning = tune_ef(index, k=10)
    assert (index.ef, tuning.size, tuning.k, tuning.recall) == (EF_LADDER[0], 1, 0, None)


def test_tuning_survives_every_entry_being_removed_meanwhile(monkeypatch):
    index, _, _ = _weak_graph(n=300)
    live_vectors = index.live_vectors

    def removed_first(ids):  # another thread removes a whole folder as tuning starts
        index.remove(index.ids())
        return live_vectors(ids)

    monkeypatch.setattr(index, "live_vectors", removed_first)
    tuning = tune_ef(index, k=10)
    assert (tuning.size, tuning.recall, tuning.queries) == (300, None, 0)
