"""Retrieval metrics against a brute-force loop and a hand-checked MAP@R case."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainer.evaluation import retrieval_metrics


def _average_precision_at_r(relevant: list[bool], r: int) -> float:
    """MAP@R's per-query term by its definition: (1/R) Σ_{i<=R} P(i)·rel(i)."""
    return sum(sum(relevant[:i]) / i for i in range(1, r + 1) if relevant[i - 1]) / r


def _loop_metrics(vectors: np.ndarray, labels: list[int], ks=(1, 2, 4, 8)) -> dict[str, float]:
    rows = vectors.astype(np.float64).tolist()
    hits = dict.fromkeys(ks, 0)
    precisions = []
    for q, row in enumerate(rows):
        r = sum(1 for i, y in enumerate(labels) if y == labels[q] and i != q)
        if r == 0:
            continue
        others = sorted((math.dist(row, rows[i]), i) for i in range(len(rows)) if i != q)
        relevant = [labels[i] == labels[q] for _, i in others]
        for k in ks:
            hits[k] += any(relevant[:k])
        precisions.append(_average_precision_at_r(relevant, r))
    metrics = {f"recall@{k}": hits[k] / len(precisions) for k in ks}
    metrics["map@r"] = sum(precisions) / len(precisions)
    return metrics


def test_hand_checked_case_with_a_tie():
    # 1-D points; x: 0 1 2 4 13, classes: A A B A B (R = 2 for A, 1 for B)
    x = np.array([[0.0], [1.0], [2.0], [4.0], [13.0]])
    labels = [0, 0, 1, 0, 1]
    # rankings by distance, ties to the lower index (query 1 sees 0 and 2 both at distance 1):
    rankings = {0: [1, 2, 3, 4], 1: [0, 2, 3, 4], 2: [1, 0, 3, 4], 3: [2, 1, 0, 4], 4: [3, 2, 1, 0]}
    relevant = {q: [labels[i] == labels[q] for i in ranked] for q, ranked in rankings.items()}
    r = {q: labels.count(labels[q]) - 1 for q in rankings}
    expected_map = sum(_average_precision_at_r(relevant[q], r[q]) for q in rankings) / 5
    assert expected_map == pytest.approx((0.5 + 0.5 + 0.0 + 0.25 + 0.0) / 5)
    got = retrieval_metrics(x, labels)
    assert got["map@r"] == pytest.approx(expected_map)
    assert got["recall@1"] == pytest.approx(2 / 5)  # queries 0 and 1 (the tie goes to index 0, class A)
    assert got["recall@2"] == pytest.approx(4 / 5)  # query 2 finds class B only 4th
    assert got["recall@4"] == got["recall@8"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_data_equal_the_loop(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, size=60)
    vectors = rng.normal(size=(60, 5)) + labels[:, None] * 0.4
    labels[0] = 99  # a singleton class: its query is left out
    got = retrieval_metrics(vectors, labels)
    expected = _loop_metrics(vectors, labels.tolist())
    assert got.keys() == expected.keys() == {"recall@1", "recall@2", "recall@4", "recall@8", "map@r"}
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert 0.0 < got["map@r"] < got["recall@1"] < 1.0


def test_chunking_tensors_and_arrays_agree():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, size=37)
    vectors = rng.normal(size=(37, 3)).astype(np.float32)
    whole = retrieval_metrics(vectors, labels)
    for other in (
        retrieval_metrics(torch.from_numpy(vectors), torch.from_numpy(labels)),
        retrieval_metrics(vectors, labels.tolist(), chunk_size=1),
        retrieval_metrics(vectors, labels, chunk_size=5),
    ):
        assert other == pytest.approx(whole, abs=1e-12)  # MAP sums chunk by chunk


def test_duplicates_of_the_query_are_found_the_query_itself_is_not():
    base = np.random.default_rng(3).normal(size=(4, 8))
    vectors = np.concatenate([base, base])  # item i and i + 4 are identical and share a class
    labels = [0, 1, 2, 3, 0, 1, 2, 3]
    assert retrieval_metrics(vectors, labels) == {
        "recall@1": 1.0,
        "recall@2": 1.0,
        "recall@4": 1.0,
        "recall@8": 1.0,
        "map@r": 1.0,
    }
    shuffled = retrieval_metrics(vectors, [0, 1, 2, 3, 1, 2, 3, 0])  # duplicates now in other classes
    assert shuffled["recall@1"] == 0.0


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="N labels"):
        retrieval_metrics(np.zeros((4, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="two or more items"):
        retrieval_metrics(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics(np.full((2, 2), np.nan), [0, 0])
