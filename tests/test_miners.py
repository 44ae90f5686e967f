"""Miners against slow, obvious loop references, plus the statistics of distance-weighted sampling."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainer.distances import pairwise_distances
from trainer.miners import DistanceWeightedMiner, Triplets, make_miner

MINER_NAMES = ("random", "semihard", "hardest", "distance", "all")


def _batch(seed: int, n: int = 24, dim: int = 8, classes: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    embeddings = F.normalize(torch.randn(n, dim, generator=generator), dim=1)
    labels = torch.randint(0, classes, (n,), generator=generator)
    return embeddings, labels


def _loop_distances(x: torch.Tensor) -> list[list[float]]:
    rows = x.double().tolist()
    return [[math.dist(a, b) for b in rows] for a in rows]


def _loop_pairs(labels: list[int]) -> list[tuple[int, int]]:
    """(anchor, positive) in row-major order, for anchors that have at least one negative."""
    n = len(labels)
    return [
        (i, j)
        for i in range(n)
        for j in range(n)
        if i != j and labels[i] == labels[j] and any(labels[k] != labels[i] for k in range(n))
    ]


def _negatives(labels: list[int], anchor: int) -> list[int]:
    return [k for k in range(len(labels)) if labels[k] != labels[anchor]]


@pytest.mark.parametrize("name", ["random", "semihard", "hardest", "distance"])
def test_every_anchor_positive_pair_gets_one_negative(name):
    embeddings, labels = _batch(0)
    triplets = make_miner(name)(embeddings, labels, generator=torch.Generator().manual_seed(1))
    assert isinstance(triplets, Triplets)
    pairs = list(zip(triplets.anchor.tolist(), triplets.positive.tolist(), strict=True))
    assert pairs == _loop_pairs(labels.tolist())
    for a, n in zip(triplets.anchor.tolist(), triplets.negative.tolist(), strict=True):
        assert labels[a] != labels[n]
    assert all(t.dtype == torch.long for t in triplets)


def test_all_triplets_equal_the_loop_set():
    embeddings, labels = _batch(2, n=12)
    triplets = make_miner("all")(embeddings, labels)
    got = list(zip(*(t.tolist() for t in triplets), strict=True))
    y = labels.tolist()
    expected = [(a, p, n) for a, p in _loop_pairs(y) for n in _negatives(y, a)]
    assert got == expected


def test_hardest_is_the_closest_negative():
    embeddings, labels = _batch(3)
    triplets = make_miner("hardest")(embeddings, labels)
    distances, y = _loop_distances(embeddings), labels.tolist()
    expected = [min(_negatives(y, a), key=lambda k, a=a: (distances[a][k], k)) for a, _ in _loop_pairs(y)]
    assert triplets.negative.tolist() == expected


def test_semihard_chooses_what_a_loop_allows():
    """Semi-hard: a random one of d(a,p) < d(a,n) < d(a,p) + margin; else the closest farther
    negative (deterministic, compared exactly); else any negative. All three cases occur here."""
    embeddings, labels = _batch(4, n=40, dim=6, classes=4)
    margin = 0.3
    distances, y = _loop_distances(embeddings), labels.tolist()
    cases = Counter()
    triplets = make_miner("semihard", margin=margin)(
        embeddings, labels, generator=torch.Generator().manual_seed(0)
    )
    for (a, p), n in zip(_loop_pairs(y), triplets.negative.tolist(), strict=True):
        d_ap = distances[a][p]
        negatives = _negatives(y, a)
        semihard = [k for k in negatives if d_ap < distances[a][k] < d_ap + margin]
        farther = [k for k in negatives if distances[a][k] > d_ap]
        if semihard:
            cases["semihard"] += 1
            assert n in semihard
        elif farther:
            cases["closest farther"] += 1
            assert n == min(farther, key=lambda k, a=a: distances[a][k])
        else:
            cases["random"] += 1
            assert n in negatives
    assert set(cases) == {"semihard", "closest farther", "random"}, cases


def test_semihard_picks_uniformly_among_semihard_negatives():
    # anchor 0 and positive 1 at distance 0.2 on a circle; negatives at 0.3, 0.35, 0.4 (semi-hard
    # for margin 0.25) and 1.5 (too far)
    points = [[0.0, 0.0], [0.2, 0.0], [0.3, 0.0], [0.0, 0.35], [-0.4, 0.0], [0.0, -1.5]]
    embeddings = torch.tensor(points)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    miner = make_miner("semihard", margin=0.25)
    generator = torch.Generator().manual_seed(0)
    chosen = Counter(int(miner(embeddings, labels, generator=generator).negative[0]) for _ in range(600))
    assert set(chosen) == {2, 3, 4}
    assert all(150 < count < 250 for count in chosen.values()), chosen


def test_random_negatives_are_uniform():
    embeddings, labels = _batch(5, n=8, classes=2)
    miner = make_miner("random")
    generator = torch.Generator().manual_seed(0)
    anchor = int(miner(embeddings, labels).anchor[0])
    negatives = _negatives(labels.tolist(), anchor)
    draws = Counter(int(miner(embeddings, labels, generator=generator).negative[0]) for _ in range(800))
    assert set(draws) == set(negatives)
    expected = 800 / len(negatives)
    assert all(abs(count - expected) < 0.35 * expected for count in draws.values()), draws


def test_distance_weights_equal_loop_inverse_density():
    dim = 16
    embeddings, labels = _batch(6, n=30, dim=dim, classes=6)
    embeddings[1] = embeddings[0]  # a duplicate (d = 0, clamped to the cutoff)
    embeddings[2] = -embeddings[0]  # an antipode (d = 2, beyond the non-zero-loss cutoff)
    miner = DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    y = labels.tolist()
    distances = _loop_distances(embeddings)
    same = labels[:, None] == labels[None, :]
    got = miner.negative_weights(pairwise_distances(embeddings), ~same, dim)
    for a in range(len(y)):
        raw = {}
        for k in _negatives(y, a):
            d = max(distances[a][k], 0.5)
            if d < 1.4:
                log_q = (dim - 2) * math.log(d) + (dim - 3) / 2 * math.log(1 - d * d / 4)
                raw[k] = math.exp(-log_q)
        expected = [0.0] * len(y)
        if raw:
            total = sum(raw.values())
            for k, w in raw.items():
                expected[k] = w / total
        else:  # nothing within the cutoff: uniform over negatives
            for k in _negatives(y, a):
                expected[k] = 1 / len(_negatives(y, a))
        torch.testing.assert_close(
            got[a].double(), torch.tensor(expected, dtype=torch.float64), rtol=2e-4, atol=1e-7
        )


def test_distance_weighted_sampling_flattens_the_distance_histogram():
    """Points uniform on the 32-d sphere, 400 points in 40 random classes, two sampling rounds.

    Flatness = coefficient of variation (std / mean) of the counts in 8 equal bins from the 1 %
    quantile of all negative distances (below it there are too few points to sample) up to the
    1.4 cutoff. The naive histogram (all negative distances) follows q(d) and is steep; sampling
    with weights 1/q(d) must give a CV below half of the naive one (measured: about 0.05 of it).
    No sampled negative may lie at or beyond the 1.4 cutoff.
    """
    generator = torch.Generator().manual_seed(0)
    x = F.normalize(torch.randn(400, 32, generator=generator), dim=1)
    labels = torch.randint(0, 40, (400,), generator=generator)
    distances = torch.cdist(x.double(), x.double())
    miner = make_miner("distance")
    sampled = []
    for seed in range(2):
        triplets = miner(x, labels, generator=torch.Generator().manual_seed(seed))
        sampled.append(distances[triplets.anchor, triplets.negative])
    sampled = torch.cat(sampled).numpy()
    naive = distances[labels[:, None] != labels[None, :]].numpy()
    assert sampled.max() < 1.4
    edges = np.linspace(max(0.5, np.quantile(naive, 0.01)), 1.4, 9)

    def variation(values: np.ndarray) -> float:
        counts = np.histogram(values, edges)[0]
        return float(counts.std() / counts.mean())

    assert variation(sampled) < 0.5 * variation(naive)


def test_distance_falls_back_to_uniform_when_all_negatives_are_beyond_the_cutoff():
    # each class is 12 copies of one basis vector: every negative is at d = sqrt 2 > 1.4
    embeddings = torch.eye(3).repeat_interleave(12, dim=0)
    labels = torch.arange(3).repeat_interleave(12)
    miner = make_miner("distance")
    generator = torch.Generator().manual_seed(0)
    draws = Counter()
    for _ in range(10):
        triplets = miner(embeddings, labels, generator=generator)
        assert len(triplets.anchor) == 3 * 12 * 11
        draws.update(triplets.negative.tolist())
    # item i is a negative for the 2 x 12 x 11 pairs of the other classes, 1 of their 24 choices
    expected = 10 * 2 * 12 * 11 / 24
    assert len(draws) == 36 and all(0.6 * expected < count < 1.4 * expected for count in draws.values()), (
        draws
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", MINER_NAMES)
def test_half_precision_with_duplicates_and_antipodes(name, dtype):
    embeddings, labels = _batch(7, n=16, dim=128, classes=4)
    embeddings[1] = embeddings[0]
    embeddings[2] = -embeddings[0]
    embeddings[3] = embeddings[0]
    labels[:4] = torch.tensor([0, 0, 1, 2])
    triplets = make_miner(name)(embeddings.to(dtype), labels, generator=torch.Generator().manual_seed(0))
    assert len(triplets.anchor) > 0
    assert all(
        labels[a] != labels[n]
        for a, n in zip(triplets.anchor.tolist(), triplets.negative.tolist(), strict=True)
    )
    if name == "distance":
        weights = DistanceWeightedMiner().negative_weights(
            pairwise_distances(embeddings.to(dtype)), labels[:, None] != labels[None, :], 128
        )
        assert torch.isfinite(weights).all()
        torch.testing.assert_close(weights.sum(dim=1), torch.ones(16))


@pytest.mark.parametrize("name", MINER_NAMES)
def test_batches_without_positives_or_negatives_give_no_triplets(name):
    embeddings, _ = _batch(8, n=6)
    for labels in (torch.arange(6), torch.zeros(6, dtype=torch.long)):
        triplets = make_miner(name)(embeddings, labels)
        assert [len(t) for t in triplets] == [0, 0, 0]


@pytest.mark.parametrize("name", ["random", "semihard", "distance"])
def test_same_generator_seed_same_triplets(name):
    embeddings, labels = _batch(9)
    miner = make_miner(name)
    first = miner(embeddings, labels, generator=torch.Generator().manual_seed(3))
    second = miner(embeddings, labels, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_unknown_miner_is_a_clear_error():
    with pytest.raises(ValueError, match="semihard"):
        make_miner("hardest-ever")
