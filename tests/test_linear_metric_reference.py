"""Linear metric learning against the reference implementations (scikit-learn, metric-learn).

- Ledoit–Wolf: our shrinkage intensity, shrunk covariance and its inverse equal scikit-learn's
  `ledoit_wolf_shrinkage` / `LedoitWolf` to float precision (both centre the data on its mean).
- MMC (Xing et al. 2002) is convex, so two correct solvers reach the same optimum up to scale:
  ours (projected gradient ascent) and metric-learn's `MMC` (alternating projections), fitted on the
  SAME pairs, give the same scale-free objective Σ_dissimilar d_M / sqrt(Σ_similar d_M²) and the
  same matrix up to scale; `MMC_Supervised`, which samples its own pairs, gives the same direction.
- LMNN (Weinberger & Saul): metric-learn descends on L (non-convex), ours projected subgradient
  descent on M. The objective is computed here by a plain loop and compared at both solutions as
  returned: the margin of 1 fixes the scale, so both minimise the same absolute objective and no
  rescaling is needed. Held-out 1-NN accuracy is compared too.

The reference solvers run to convergence here (ours with more iterations than its defaults, which
stop MMC early on purpose) because the comparison is of optima, not of the trainer's settings.
"""

from __future__ import annotations

import metric_learn
import numpy as np
import pytest
import sklearn.covariance as sk_covariance

from tests.metric_checks import knn_accuracy, lmnn_objective_by_loops
from trainer.linear_metric import (
    _sample_pairs,
    fit_covariance,
    fit_lmnn,
    fit_mmc,
    ledoit_wolf_shrinkage,
    whitening,
)

# ---------------------------------------------------------------- Ledoit–Wolf


def _correlated(seed: int, n: int, d: int, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) * np.linspace(0.3, 3.0, d)
    return rng.normal(size=(n, d)) @ mixing + offset


@pytest.mark.parametrize("n, d", [(5, 12), (12, 12), (30, 8), (500, 6), (7, 1)])
def test_ledoit_wolf_matches_sklearn(n, d):
    X = _correlated(n + d, n, d, offset=4.0)  # an offset mean: both must centre the data
    shrinkage = ledoit_wolf_shrinkage(X)
    assert shrinkage == pytest.approx(sk_covariance.ledoit_wolf_shrinkage(X), rel=1e-10, abs=1e-14)
    if d == 1:
        assert shrinkage == 0.0  # one feature: nothing to shrink toward (sklearn returns 0 too)
        return
    reference = sk_covariance.LedoitWolf().fit(X)  # assume_centered=False: subtracts the mean, 1/N
    assert reference.shrinkage_ == pytest.approx(shrinkage, rel=1e-10)
    ours = fit_covariance(X)
    np.testing.assert_allclose(np.linalg.inv(ours), reference.covariance_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours, reference.precision_, rtol=1e-7, atol=1e-10)


def test_ledoit_wolf_centres_like_sklearn_and_not_like_assume_centered():
    X = _correlated(1, 20, 6, offset=3.0)
    centred = sk_covariance.ledoit_wolf_shrinkage(X - X.mean(axis=0), assume_centered=True)
    uncentred = sk_covariance.ledoit_wolf_shrinkage(X, assume_centered=True)
    assert ledoit_wolf_shrinkage(X) == pytest.approx(centred, rel=1e-10)
    assert abs(ledoit_wolf_shrinkage(X) - uncentred) > 1e-3  # the check above can tell them apart


# ---------------------------------------------------------------- MMC


def _three_classes(seed: int, n: int = 40, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """3 classes on a triangle in dims 0-1, small noise in dims 2..d-2, the last dim noise of std 5."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    X = np.concatenate(
        [
            corners[y] + 0.2 * rng.normal(size=(n, 2)),
            0.3 * rng.normal(size=(n, d - 3)),
            5.0 * rng.normal(size=(n, 1)),
        ],
        axis=1,
    )
    return X, y


def _mmc_ratio(M: np.ndarray, similar: np.ndarray, dissimilar: np.ndarray) -> float:
    """Xing et al.'s objective in its scale-free form: Σ_dissimilar d_M / sqrt(Σ_similar d_M²)."""
    spread = sum(np.sqrt(max(float(v @ M @ v), 0.0)) for v in dissimilar)
    return spread / np.sqrt(sum(float(v @ M @ v) for v in similar))


def _cosine(A: np.ndarray, B: np.ndarray) -> float:
    """Cosine of the flattened matrices: 1 when equal up to a positive scale."""
    return float(np.sum(A * B) / (np.linalg.norm(A) * np.linalg.norm(B)))


@pytest.mark.parametrize("seed", [0, 1])
def test_mmc_reaches_metric_learns_optimum_on_the_same_pairs(seed):
    """On the raw data metric-learn's `MMC` stops short of the optimum and is slow: its alternating
    projections need thousands of steps a cycle when the similar-pair scatter is this anisotropic
    (seed 0: 74.95 against 88.42 after 140 cycles, about 20 s). So the reference is fitted on
    whitened data. MMC is affine-equivariant (d_A of the whitened points equals d_{T A Tᵀ} of x),
    so its optimum maps back as T M Tᵀ: ours is fitted on both."""
    X, y = _three_classes(seed)
    mean, W = whitening(X, X.shape[1], 0.0)
    T = W.T  # (X − mean) T has identity covariance
    Xw = (X - mean) @ T
    pairs = 300
    # fit_mmc takes labels, not pairs: draw the pairs it draws (same generator, same order)
    rng = np.random.default_rng(seed)
    a, b = _sample_pairs(y, pairs, rng, same=True)
    c, d = _sample_pairs(y, pairs, rng, same=False)
    ours = fit_mmc(Xw, y, pairs=pairs, max_iter=3000, ridge=0.0, tol=1e-12, seed=seed)
    ours_raw = fit_mmc(X, y, pairs=pairs, max_iter=3000, ridge=0.0, tol=1e-12, seed=seed)
    # ours is scaled so Σ_dissimilar d_M = 1 on ITS pairs: holding here shows these are its pairs
    assert sum(np.sqrt(v @ ours @ v) for v in Xw[c] - Xw[d]) == pytest.approx(1.0, rel=1e-9)

    tuples = np.concatenate([np.stack([Xw[a], Xw[b]], axis=1), np.stack([Xw[c], Xw[d]], axis=1)])
    labels = np.concatenate([np.ones(pairs), -np.ones(pairs)])
    reference = metric_learn.MMC(init="identity", max_iter=1000).fit(tuples, labels)
    assert reference.converged_
    A = reference.get_mahalanobis_matrix()

    similar, dissimilar = Xw[a] - Xw[b], Xw[c] - Xw[d]
    expected = _mmc_ratio(A, similar, dissimilar)
    # ours converges tighter than the reference's tol=1e-3 on the step: at least its value, and
    # the two optima agree to 0.1 %
    assert _mmc_ratio(ours, similar, dissimilar) >= expected * (1.0 - 1e-6)
    assert _mmc_ratio(ours, similar, dissimilar) == pytest.approx(expected, rel=1e-3)
    assert _mmc_ratio(ours_raw, X[a] - X[b], X[c] - X[d]) == pytest.approx(expected, rel=1e-3)
    # the optimum is nearly rank 1; the matrices agree in direction closely (measured ≥ 0.99999)
    assert _cosine(ours, A) > 0.999
    assert _cosine(ours_raw, T @ A @ T.T) > 0.999


@pytest.mark.parametrize("seed", [0, 1])
def test_mmc_agrees_with_mmc_supervised_on_the_same_labels(seed):
    """`MMC_Supervised` samples its own pairs (without replacement; 150 keeps it from warning that
    fewer similar pairs exist), so the two fits see different samples of the same pairs and agree in
    direction only to sampling error (measured 0.997 and 0.9996), not to solver precision."""
    X, y = _three_classes(seed)
    mean, W = whitening(X, X.shape[1], 0.0)
    T = W.T  # (X − mean) T has identity covariance
    Xw = (X - mean) @ T
    ours = fit_mmc(Xw, y, pairs=2000, max_iter=3000, ridge=0.0, tol=1e-12, seed=seed)
    reference = metric_learn.MMC_Supervised(n_constraints=150, init="identity", random_state=0).fit(Xw, y)
    assert _cosine(ours, reference.get_mahalanobis_matrix()) > 0.99


# ---------------------------------------------------------------- LMNN


def _lmnn_data(seed: int, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """3 classes on a triangle in dims 0-1 (std 0.25), 2 dims of std 0.3, one dim of std `noise`."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    X = np.concatenate(
        [
            corners[y] + 0.25 * rng.normal(size=(n, 2)),
            0.3 * rng.normal(size=(n, 2)),
            noise * rng.normal(size=(n, 1)),
        ],
        axis=1,
    )
    return X, y


def _metric_learn_lmnn(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    # learn_rate 1e-7 and 1000 iterations are its defaults; regularization 0.5 = our push_weight
    reference = metric_learn.LMNN(init="identity", n_neighbors=3, regularization=0.5, max_iter=1000)
    return reference.fit(X, y).get_mahalanobis_matrix()


@pytest.mark.parametrize("seed, noise", [(0, 0.3), (2, 0.3), (0, 0.6)])
def test_lmnn_objective_is_no_worse_than_metric_learns(seed, noise):
    X, y = _lmnn_data(seed, 45, noise)
    Xt, yt = _lmnn_data(seed + 100, 150, noise)
    ours = fit_lmnn(X, y, k=3, push_weight=0.5, max_iter=1000, tol=1e-9)
    reference = _metric_learn_lmnn(X, y)
    # measured: ours 33.46 / 35.08 / 35.59 against 33.63 / 35.40 / 35.56 (Euclidean: 137 / 135 / 129);
    # 1-NN accuracy ours 0.953 / 0.913 / 0.927 against 0.953 / 0.913 / 0.940
    assert lmnn_objective_by_loops(ours, X, y) <= 1.01 * lmnn_objective_by_loops(reference, X, y)
    assert knn_accuracy(ours, (X, y), (Xt, yt)) >= knn_accuracy(reference, (X, y), (Xt, yt)) - 0.03


@pytest.mark.parametrize("noise", [1.0, 5.0])
def test_lmnn_neighbours_are_as_good_as_metric_learns_with_a_dominant_noise_dimension(noise):
    X, y = _lmnn_data(0, 45, noise)
    Xt, yt = _lmnn_data(100, 150, noise)
    ours = fit_lmnn(X, y, k=3, push_weight=0.5, max_iter=1000, tol=1e-9)
    reference = _metric_learn_lmnn(X, y)
    # measured: ours 0.913 / 0.947 against 0.940 / 0.927 (Euclidean 0.92 / 0.73)
    assert knn_accuracy(ours, (X, y), (Xt, yt)) >= knn_accuracy(reference, (X, y), (Xt, yt)) - 0.04


@pytest.mark.parametrize("seed", [0, 1])
def test_lmnn_on_the_libraries_whitened_vectors_matches_metric_learn_despite_a_noisy_dimension(seed):
    # the app fits LMNN only after whitening and L2-normalising (fit_retrieval_metric), which takes
    # the dominant dimension's scale away: there ours reaches metric-learn's objective
    X, y = _lmnn_data(seed, 45, 5.0)
    mean, W = whitening(X, X.shape[1], 0.0)
    Z = (X - mean) @ W.T
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    ours = fit_lmnn(Z, y, k=3, push_weight=0.5, max_iter=1000, tol=1e-9)
    reference = _metric_learn_lmnn(Z, y)
    # measured: ours 87.08 / 71.49 against 86.08 / 71.19 (Euclidean in that space 187 / 166)
    assert lmnn_objective_by_loops(ours, Z, y) <= 1.02 * lmnn_objective_by_loops(reference, Z, y)
    assert lmnn_objective_by_loops(ours, Z, y) < 0.6 * lmnn_objective_by_loops(np.eye(len(W)), Z, y)


@pytest.mark.xfail(
    strict=True,
    reason="known disagreement, on raw vectors only (the app whitens first, see the test above): "
    "with a dominant noise dimension our projected subgradient descent "
    "reaches objective 544 after 1000 iterations and stalls at 543 (its step halves to nothing) where "
    "metric-learn reaches 41.9 and the Euclidean metric scores 166",
)
def test_lmnn_objective_with_a_dominant_noise_dimension_matches_metric_learn():
    X, y = _lmnn_data(0, 45, 1.0)
    ours = fit_lmnn(X, y, k=3, push_weight=0.5, max_iter=1000, tol=1e-9)
    assert lmnn_objective_by_loops(ours, X, y) <= 1.1 * lmnn_objective_by_loops(
        _metric_learn_lmnn(X, y), X, y
    )
