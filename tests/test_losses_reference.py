"""The trainer's losses and distance-weighted miner against pytorch-metric-learning (pml 2.9).

The rule "a re-implementation is compared numerically with the reference implementation" is why
this file exists: trainer/losses.py and trainer/miners.py re-implement pml's ContrastiveLoss,
TripletMarginLoss, MarginLoss and DistanceWeightedMiner (Wu et al. 2017). tests/test_losses.py
and tests/test_miners.py check them against loop re-derivations of the formulas; here the other
side is pml's own code, so a shared misreading of the paper or of pml would show.

Losses: both sides get the same L2-normalised float embeddings and the same mined triplets
(passed to pml as an explicit `indices_tuple`); pml runs in float64 as the reference. pml's
distance is `LpDistance(normalize_embeddings=False)` (p=2, power=1: plain Euclidean): its default
re-normalises the embeddings, which leaves the values on unit vectors unchanged but projects
the radial part out of the gradients, while our losses take the embeddings as they come (the
network normalises them). Reducers are set to what our losses do by design (see each test).

Miner: sampling is random, so the deterministic part is compared exactly (our per-anchor
sampling probabilities against the weight matrix pml's miner hands to its sampler), and the
random part through seeded draw counts (ours against pml's weights, pml's draws against ours)
with a chi-square bound that the test shows rejects weights with a wrong exponent or cutoff.
"""

from __future__ import annotations

import math

import pytest
import pytorch_metric_learning.miners.distance_weighted_miner as pml_distance_weighted_miner
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning import reducers as pml_reducers

from trainer.distances import pairwise_distances
from trainer.losses import ContrastiveLoss, MarginLoss, TripletLoss
from trainer.miners import DistanceWeightedMiner, MiningBatch, make_miner

N, CLASSES, DIM = 24, 6, 8


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """24 unit vectors in 8-d, 4 of each of 6 classes in a random order."""
    generator = torch.Generator().manual_seed(seed)
    embeddings = F.normalize(torch.randn(N, DIM, generator=generator), dim=1)
    labels = torch.arange(CLASSES).repeat_interleave(N // CLASSES)[torch.randperm(N, generator=generator)]
    return embeddings, labels


def _triplets(embeddings, labels, miner_name: str, seed: int):
    triplets = make_miner(miner_name)(embeddings, labels, generator=torch.Generator().manual_seed(seed))
    assert len(triplets.anchor) > 50
    return triplets


def _euclidean():
    return pml_distances.LpDistance(normalize_embeddings=False, p=2, power=1)


def _compare(ours, theirs, embeddings, labels, triplets, pml_labels=None):
    """Loss values equal at rtol 1e-5 and embedding gradients equal at rtol 1e-4 / atol 1e-6 (ours in
    float32, pml in float64). Returns our output (for further checks on it)."""
    mine = embeddings.clone().requires_grad_()
    output = ours(mine, labels, triplets)
    output.loss.backward()
    reference = embeddings.double().requires_grad_()
    expected = theirs(reference, pml_labels, indices_tuple=tuple(triplets))
    expected.backward()
    torch.testing.assert_close(output.loss.double(), expected.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(mine.grad.double(), reference.grad, rtol=1e-4, atol=1e-6)
    assert mine.grad.abs().sum() > 0
    return output


@pytest.mark.parametrize("miner_name", ["random", "all"])
def test_contrastive_equals_pml(miner_name):
    embeddings, labels = _batch(1)
    triplets = _triplets(embeddings, labels, miner_name, seed=2)
    ours = ContrastiveLoss(pos_margin=1.1, neg_margin=1.3)
    # pml turns (a, p, n) into the pairs (a, p) and (a, n), one each per triplet, as ours does. Ours
    # averages pull and push over all pairs (zeros included): MeanReducer, not pml's default
    # AvgNonZeroReducer; pml sums the two reduced sub-losses, as ours does.
    theirs = pml_losses.ContrastiveLoss(
        pos_margin=1.1, neg_margin=1.3, distance=_euclidean(), reducer=pml_reducers.MeanReducer()
    )
    output = _compare(ours, theirs, embeddings, labels, triplets)
    assert 0.2 < float(output.active_fraction) < 0.8  # zero and non-zero terms: the reducer matters


@pytest.mark.parametrize("miner_name", ["random", "all"])
def test_triplet_equals_pml(miner_name):
    embeddings, labels = _batch(3)
    triplets = _triplets(embeddings, labels, miner_name, seed=4)
    ours = TripletLoss(margin=0.2)
    # Ours is the mean over all triplets: MeanReducer, not pml's default AvgNonZeroReducer.
    theirs = pml_losses.TripletMarginLoss(
        margin=0.2, swap=False, smooth_loss=False, distance=_euclidean(), reducer=pml_reducers.MeanReducer()
    )
    output = _compare(ours, theirs, embeddings, labels, triplets)
    fraction = float(output.active_fraction)
    assert 0.2 < fraction < 0.8
    # The active fraction against pml's AvgNonZeroReducer: mean over non-zero = mean over all / fraction.
    non_zero = pml_losses.TripletMarginLoss(
        margin=0.2, distance=_euclidean(), reducer=pml_reducers.AvgNonZeroReducer()
    )
    expected = non_zero(embeddings.double(), indices_tuple=tuple(triplets))
    torch.testing.assert_close(output.loss.detach().double() / fraction, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("per_class", "nu"),
    # ν > 0 with one shared β is left out: there the two differ by design (see the docstring).
    [(False, 0.0), (True, 0.0), (True, 0.05)],
)
@pytest.mark.parametrize("miner_name", ["random", "all"])
def test_margin_equals_pml_with_learnable_beta(per_class, nu, miner_name):
    """pml's default DivisorReducer is what ours does: the sum of the pull and push terms (and, per
    class, ν·β of each triplet's anchor) divided by the number of non-zero terms.

    Not compared: ν > 0 with one shared β. pml then adds ν·β once, already reduced; ours adds
    ν·β per triplet before the division, i.e. ν·β·T / (non-zero terms). Nor ν > 0 with a fixed β:
    pml then drops the ν term, ours keeps it. The trainer never sets ν (default 0).
    """
    embeddings, labels = _batch(5)
    triplets = _triplets(embeddings, labels, miner_name, seed=6)
    num_classes = CLASSES if per_class else None
    ours = MarginLoss(alpha=0.2, beta=1.2, num_classes=num_classes, nu=nu)
    theirs = pml_losses.MarginLoss(
        margin=0.2, nu=nu, beta=1.2, learn_beta=True, num_classes=num_classes, distance=_euclidean()
    )
    sub_reducers = theirs.reducer.reducers  # pml's MultipleReducers, one per sub-loss
    assert set(sub_reducers) == {"margin_loss", "beta_reg_loss"}
    assert all(isinstance(r, pml_reducers.DivisorReducer) for r in sub_reducers.values())
    betas = torch.linspace(1.1, 1.5, CLASSES if per_class else 1)  # distinct, so a wrong class shows
    with torch.no_grad():
        ours.beta.copy_(betas)
        theirs.beta.copy_(betas)
    output = _compare(ours, theirs, embeddings, labels, triplets, pml_labels=labels)
    assert 0.2 < float(output.active_fraction) < 0.8
    assert ours.beta.grad.abs().sum() > 0
    torch.testing.assert_close(ours.beta.grad, theirs.beta.grad, rtol=1e-5, atol=1e-7)


# --- distance-weighted miner ---------------------------------------------------------------------

CUTOFF, NONZERO_LOSS_CUTOFF = 0.5, 1.4


def _miner_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """A batch with negatives on both sides of both cutoffs: five points are moved next to a point
    of another class, so some negative distances are below 0.5, and random 8-d unit vectors give
    plenty beyond 1.4."""
    embeddings, labels = _batch(7)
    generator = torch.Generator().manual_seed(8)
    for i in range(5):
        j = int(torch.nonzero((labels != labels[i]) & (torch.arange(N) >= 5))[i])  # a point left in place
        embeddings[i] = F.normalize(embeddings[j] + 0.08 * torch.randn(DIM, generator=generator), dim=0)
    distances = torch.cdist(embeddings.double(), embeddings.double())
    negative = labels[:, None] != labels[None, :]
    assert (distances[negative] < CUTOFF).sum() >= 6
    assert (distances[negative] >= NONZERO_LOSS_CUTOFF).sum() >= 100
    # no negative distance so close to a cutoff that float32 rounding could put it on the other side
    assert ((distances[negative] - CUTOFF).abs().min() > 1e-4) and (
        (distances[negative] - NONZERO_LOSS_CUTOFF).abs().min() > 1e-4
    )
    # every anchor has a negative below 1.4 (pml drops anchors that have none; ours then samples
    # uniformly, tested in tests/test_miners.py)
    assert ((distances < NONZERO_LOSS_CUTOFF) & negative).any(dim=1).all()
    return embeddings, labels


def _our_probabilities(embeddings, labels) -> torch.Tensor:
    miner = DistanceWeightedMiner(cutoff=CUTOFF, nonzero_loss_cutoff=NONZERO_LOSS_CUTOFF)
    negatives = labels[:, None] != labels[None, :]
    return miner.negative_weights(pairwise_distances(embeddings), negatives, embeddings.shape[1]).double()


def _pml_weights(embeddings, labels, monkeypatch) -> torch.Tensor:
    """The (N, N) row-normalised weight matrix pml's DistanceWeightedMiner.mine computes and passes to
    its sampler. pml computes it inline in `mine` (there is no weight function to call), so the test
    records the `weights` argument of the sampler call, `lmu.get_random_triplet_indices(labels,
    ref_labels=..., weights=weights)`, rather than re-deriving pml's formula; the sampler still runs,
    and the seeded-draw test below checks pml end to end without this hook."""
    captured = []
    sampler = pml_distance_weighted_miner.lmu.get_random_triplet_indices

    def recording_sampler(*args, weights=None, **kwargs):
        captured.append(weights.detach().clone())
        return sampler(*args, weights=weights, **kwargs)

    monkeypatch.setattr(pml_distance_weighted_miner.lmu, "get_random_triplet_indices", recording_sampler)
    miner = pml_miners.DistanceWeightedMiner(cutoff=CUTOFF, nonzero_loss_cutoff=NONZERO_LOSS_CUTOFF)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        miner(embeddings.double(), labels)
    assert len(captured) == 1
    return captured[0]


def test_distance_weights_equal_pml(monkeypatch):
    embeddings, labels = _miner_batch()
    theirs = _pml_weights(embeddings, labels, monkeypatch)
    ours = _our_probabilities(embeddings, labels)
    assert theirs.shape == ours.shape == (N, N)
    # ours in float32 against pml in float64; a weight's relative error is about (n - 2) times that
    # of its distance (~1e-7), so rtol 1e-5 is ample and far below any formula difference.
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-8)
    # the same zeros (same-class items, negatives at or beyond 1.4), and there are such zeros
    assert torch.equal(ours == 0, theirs == 0)
    assert (ours == 0).sum() > (labels[:, None] == labels[None, :]).sum()


def _chi_square_accepts(counts: torch.Tensor, probabilities: torch.Tensor) -> bool:
    """Whether per-anchor draw counts (N, N) fit per-anchor probabilities (N, N).

    No draw may fall where the probability is 0. Pearson's X² summed over anchors, with
    df = Σ_anchors (support size - 1), must stay below df + 6·sqrt(2·df): X² has mean df and
    standard deviation sqrt(2·df) when the probabilities are right, so a 6σ bound practically
    never fails by chance (and the draws are seeded); the power of this bound against wrong
    weights is checked in the test.
    """
    support = probabilities > 0
    if counts[~support].sum() > 0:
        return False
    expected = counts.sum(dim=1, keepdim=True) * probabilities
    statistic = float(((counts - expected) ** 2 / expected)[support].sum())
    df = int((support.sum(dim=1) - 1).sum())
    return statistic < df + 6 * math.sqrt(2 * df)


def _formula(
    embeddings,
    labels,
    exponent_shift=0.0,
    second_exponent_shift=0.0,
    cutoff=CUTOFF,
    nonzero_loss_cutoff=NONZERO_LOSS_CUTOFF,
):
    """Probabilities ∝ 1/q(d) recomputed here, only to build wrong variants for the power check."""
    n = embeddings.shape[1]
    d = torch.cdist(embeddings.double(), embeddings.double()).clamp_min(max(cutoff, 1e-9))
    log_q = (n - 2 + exponent_shift) * d.log() + (n - 3 + second_exponent_shift) / 2 * (
        1 - d * d / 4
    ).clamp_min(1e-12).log()
    allowed = (labels[:, None] != labels[None, :]) & (d < nonzero_loss_cutoff)
    weights = torch.exp(-log_q).masked_fill(~allowed, 0.0)
    return weights / weights.sum(dim=1, keepdim=True)


def _wrong_weights(embeddings, labels) -> dict[str, torch.Tensor]:
    return {
        "exponent n-3": _formula(embeddings, labels, exponent_shift=-1.0),
        "exponent n-1": _formula(embeddings, labels, exponent_shift=1.0),
        "exponent (n-1)/2 on 1 - d²/4": _formula(embeddings, labels, second_exponent_shift=2.0),
        "no cutoff": _formula(embeddings, labels, cutoff=0.0),
        "no non-zero-loss cutoff": _formula(embeddings, labels, nonzero_loss_cutoff=math.inf),
    }


def _counts(anchors: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    counts = torch.zeros(N * N, dtype=torch.float64)
    counts.index_add_(0, anchors * N + negatives, torch.ones(len(anchors), dtype=torch.float64))
    return counts.view(N, N)


def test_our_distance_weighted_draws_follow_pml_weights(monkeypatch):
    """6000 seeded draws of a negative per anchor from our sampler (2000 copies of the 72 pairs, in one
    `choose_negatives` call, the sampling step of `Miner.__call__`, to stay fast)."""
    embeddings, labels = _miner_batch()
    theirs = _pml_weights(embeddings, labels, monkeypatch)
    miner = make_miner("distance", cutoff=CUTOFF, nonzero_loss_cutoff=NONZERO_LOSS_CUTOFF)
    pairs = miner(embeddings, labels, generator=torch.Generator().manual_seed(9))
    batch = MiningBatch(
        pairwise_distances(embeddings),
        labels[:, None] != labels[None, :],
        pairs.anchor.repeat(2000),
        pairs.positive.repeat(2000),
        DIM,
    )
    negatives = miner.choose_negatives(batch, torch.Generator().manual_seed(10))
    counts = _counts(batch.anchor, negatives)
    assert torch.equal(counts.sum(dim=1), torch.full((N,), 6000.0))
    assert _chi_square_accepts(counts, theirs)
    for name, wrong in _wrong_weights(embeddings, labels).items():
        assert not _chi_square_accepts(counts, wrong), name


def test_pml_distance_weighted_draws_follow_our_weights():
    """pml's own miner, end to end: 400 seeded rounds; pml draws 4 (random) positives per anchor,
    so 1600 negatives per anchor (pml's Python loop over classes makes more rounds slow)."""
    embeddings, labels = _miner_batch()
    miner = pml_miners.DistanceWeightedMiner(cutoff=CUTOFF, nonzero_loss_cutoff=NONZERO_LOSS_CUTOFF)
    anchors, negatives = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(10)
        for _ in range(400):
            a, _, n = miner(embeddings.double(), labels)
            anchors.append(a)
            negatives.append(n)
    counts = _counts(torch.cat(anchors), torch.cat(negatives))
    assert torch.equal(counts.sum(dim=1), torch.full((N,), 1600.0))
    assert _chi_square_accepts(counts, _our_probabilities(embeddings, labels))
    for name, wrong in _wrong_weights(embeddings, labels).items():
        assert not _chi_square_accepts(counts, wrong), name
