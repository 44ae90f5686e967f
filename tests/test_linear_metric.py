"""Linear metric learning: closed forms against direct numpy, learned metrics against Euclidean, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.metric_checks import knn_accuracy, lmnn_objective_by_loops
from trainer.linear_metric import (
    RETRIEVAL_SHRINKAGE,
    MetricFileError,
    fit_covariance,
    fit_lmnn,
    fit_metric,
    fit_mmc,
    fit_retrieval_metric,
    ledoit_wolf_shrinkage,
    load_metric,
    load_metric_file,
    save_metric,
    transform_from_metric,
    whitening,
)


def _noisy_classes(seed: int, n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """4 classes on a unit square in dims 0-1, small noise in dims 2-4, and dim 5 pure noise of std 20."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    X = np.concatenate(
        [
            corners[y] + 0.15 * rng.normal(size=(n, 2)),
            0.3 * rng.normal(size=(n, 3)),
            20.0 * rng.normal(size=(n, 1)),
        ],
        axis=1,
    )
    return X, y


def _separation(M: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean other-class distance over mean same-class distance under d_M (all pairs)."""
    differences = X[:, None, :] - X[None, :, :]
    distances = np.sqrt(np.maximum(np.einsum("ijd,de,ije->ij", differences, M, differences), 0.0))
    same = y[:, None] == y[None, :]
    off_diagonal = ~np.eye(len(y), dtype=bool)
    return float(distances[~same].mean() / distances[same & off_diagonal].mean())


def _random_psd(rng: np.random.Generator, d: int, rank: int) -> np.ndarray:
    factor = rng.normal(size=(rank, d))
    return factor.T @ factor


# ---------------------------------------------------------------- covariance


def test_covariance_metric_is_the_inverse_of_the_shrunk_covariance():
    X = np.random.default_rng(0).normal(size=(40, 6)) @ np.random.default_rng(1).normal(size=(6, 6))
    covariance = np.cov(X, rowvar=False, bias=True)
    mu = np.trace(covariance) / 6
    for shrinkage in (0.0, 0.3, 1.0):
        expected = np.linalg.inv((1 - shrinkage) * covariance + shrinkage * mu * np.eye(6))
        np.testing.assert_allclose(fit_covariance(X, shrinkage=shrinkage), expected, rtol=1e-8, atol=1e-10)


def test_ledoit_wolf_shrinkage_equals_its_formula_by_loops():
    X = np.random.default_rng(2).normal(size=(25, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    n, d = X.shape
    centred = X - X.mean(axis=0)
    S = sum(np.outer(x, x) for x in centred) / n
    mu = np.trace(S) / d
    delta = np.sum((S - mu * np.eye(d)) ** 2) / d
    beta = sum(np.sum((np.outer(x, x) - S) ** 2) for x in centred) / n**2 / d
    expected = min(beta, delta) / delta
    assert ledoit_wolf_shrinkage(X) == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(fit_covariance(X), fit_covariance(X, shrinkage=expected), rtol=1e-10)


def test_shrinkage_grows_when_data_are_scarce_and_keeps_the_metric_finite():
    rng = np.random.default_rng(3)
    scales = np.linspace(0.2, 3.0, 8)  # anisotropic: the identity target is wrong given enough data
    plenty, scarce = rng.normal(size=(5000, 8)) * scales, rng.normal(size=(6, 8)) * scales  # 6 < 8: singular
    assert ledoit_wolf_shrinkage(plenty) < 0.05 < ledoit_wolf_shrinkage(scarce) <= 1.0
    M = fit_covariance(scarce)
    assert np.isfinite(M).all() and np.linalg.eigvalsh(M).min() > 0
    with pytest.raises(ValueError, match="singular"):
        fit_covariance(scarce, shrinkage=0.0)


# ---------------------------------------------------------------- learned metrics


def test_lmnn_and_mmc_beat_euclidean_when_a_noisy_dimension_dominates():
    train, test = _noisy_classes(0), _noisy_classes(1)
    euclidean = np.eye(6)
    base_accuracy = knn_accuracy(euclidean, train, test)
    assert base_accuracy < 0.75  # the noise dimension spoils Euclidean neighbours
    for M in (fit_lmnn(*train), fit_mmc(*train)):
        assert knn_accuracy(M, train, test) > 0.95
        assert _separation(M, *test) > 1.15 * _separation(euclidean, *test)
        assert M[5, 5] < 1e-2 * np.max(np.diag(M))  # the noise dimension is all but switched off


def test_lmnn_beats_every_scaled_euclidean_metric_on_its_exact_objective():
    X, y = _noisy_classes(2, n=45)
    learned = lmnn_objective_by_loops(fit_lmnn(X, y), X, y)
    best_isotropic = min(lmnn_objective_by_loops(scale * np.eye(6), X, y) for scale in np.logspace(-5, 0, 11))
    assert learned < 0.5 * best_isotropic


def test_mmc_gives_a_psd_metric_that_satisfies_its_constraint_scale():
    X, y = _noisy_classes(3)
    M = fit_mmc(X, y, pairs=500)
    assert np.allclose(M, M.T) and np.linalg.eigvalsh(M).min() > -1e-12 * np.abs(M).max()
    # invariant to the data's units: scaling X by 10 scales M by 1/100
    np.testing.assert_allclose(fit_mmc(10 * X, y, pairs=500), M / 100, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", ["covariance", "mmc", "lmnn"])
def test_fit_metric_dispatches_and_keeps_euclidean_scale(method):
    X, y = _noisy_classes(4, n=80)
    M = fit_metric(method, X, y)
    assert M.shape == (6, 6) and np.allclose(M, M.T)
    differences = (X[:, None, :] - X[None, :, :]).reshape(-1, 6)
    learned = np.mean(np.einsum("pd,de,pe->p", differences, M, differences))
    euclidean = np.mean(np.sum(differences**2, axis=1))
    assert learned == pytest.approx(euclidean, rel=0.15)  # scaled on a sample of pairs


def test_unknown_method_and_bad_data_are_clear_errors():
    X, y = _noisy_classes(5, n=20)
    with pytest.raises(ValueError, match="covariance, mmc, lmnn"):
        fit_metric("itml", X, y)
    with pytest.raises(ValueError, match="two classes"):
        fit_lmnn(X, np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        fit_covariance(np.full((3, 2), np.nan))


# ---------------------------------------------------------------- transform and files


def test_transform_reproduces_metric_distances_even_when_rank_deficient():
    rng = np.random.default_rng(6)
    for rank in (7, 3):
        M = _random_psd(rng, 7, rank)
        L = transform_from_metric(M)
        x, z = rng.normal(size=(2, 20, 7))
        expected = np.einsum("nd,de,ne->n", x - z, M, x - z)
        np.testing.assert_allclose(np.sum(((x - z) @ L.T) ** 2, axis=1), expected, rtol=1e-9, atol=1e-9)


def test_save_and_load_round_trip(tmp_path):
    M = _random_psd(np.random.default_rng(7), 5, 5)
    path = tmp_path / "metrics" / "learned.npz"
    save_metric(path, M, {"method": "lmnn", "model_fingerprint": "abcd1234"})
    loaded, info = load_metric(path)
    np.testing.assert_array_equal(loaded, M)
    assert info == {"method": "lmnn", "model_fingerprint": "abcd1234", "dim": 5}
    assert [p.name for p in path.parent.iterdir()] == ["learned.npz"]  # no temporary files left


def _write(path, **arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def test_load_refuses_bad_metric_files(tmp_path):
    good = _random_psd(np.random.default_rng(8), 4, 4)
    info = np.array(json.dumps({"method": "test"}))
    not_symmetric = good.copy()
    not_symmetric[0, 1] += 1.0
    not_psd = good - 2 * np.abs(np.linalg.eigvalsh(good)).max() * np.eye(4)
    with_nan = good.copy()
    with_nan[2, 2] = np.nan
    cases = {
        "not symmetric": dict(matrix=not_symmetric, info=info),
        "not positive semi-definite": dict(matrix=not_psd, info=info),
        "square": dict(matrix=np.ones((4, 3)), info=info),
        "non-empty square": dict(matrix=np.ones(4), info=info),
        "NaN": dict(matrix=with_nan, info=info),
        "pickled": dict(matrix=np.array([{"evil": 1}], dtype=object), info=info),
        "no 'matrix'": dict(weights=good),
        "JSON": dict(matrix=good, info=np.array("{not json")),
    }
    for reason, arrays in cases.items():
        with pytest.raises(MetricFileError, match=reason):
            load_metric(_write(tmp_path / "bad.npz", **arrays))
    pickle_file = tmp_path / "metric.npz"
    pickle_file.write_bytes(b"\x80\x04K\x01.")  # a pickle stream, whatever the name says
    with pytest.raises(MetricFileError, match="not an npz"):
        load_metric(pickle_file)
    with pytest.raises(MetricFileError, match="not found"):
        load_metric(tmp_path / "missing.npz")
    with pytest.raises(MetricFileError, match="symmetric"):
        save_metric(tmp_path / "never.npz", not_symmetric, {"method": "test"})
    assert not (tmp_path / "never.npz").exists()


# ---------------------------------------------------------------- retrieval metrics


def _unit_classes(seed: int, n: int = 240, d: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of 6 classes (the same class means for every seed): the classes differ in 3
    directions, high-variance noise fills the others."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, size=n)
    means = np.zeros((6, d))
    means[:, :3] = 0.25 * np.random.default_rng(0).normal(size=(6, 3))
    X = means[y] + np.concatenate([0.03 * rng.normal(size=(n, 3)), 0.2 * rng.normal(size=(n, d - 3))], axis=1)
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def _recall_at_1(Z: np.ndarray, y: np.ndarray) -> float:
    distances = np.sum((Z[:, None, :] - Z[None, :, :]) ** 2, axis=2)
    np.fill_diagonal(distances, np.inf)
    return float(np.mean(y[distances.argmin(axis=1)] == y))


def _mapped(X: np.ndarray, M: np.ndarray, mean: np.ndarray) -> np.ndarray:
    Z = (X - mean) @ transform_from_metric(M).T
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def test_retrieval_metric_without_blend_is_the_whitening():
    X, y = _unit_classes(10)
    M, mean = fit_retrieval_metric("lmnn", X, y, components=8, blend=0.0)
    expected_mean, W = whitening(X, 8, RETRIEVAL_SHRINKAGE)
    np.testing.assert_allclose(mean, expected_mean)
    np.testing.assert_allclose(M, W.T @ W, rtol=1e-9, atol=1e-9)
    assert np.linalg.matrix_rank(M, tol=1e-8 * np.abs(M).max()) == 8


@pytest.mark.parametrize("method", ["lmnn", "mmc"])
def test_retrieval_metric_finds_the_class_directions_on_new_photos(method):
    train, test = _unit_classes(11), _unit_classes(12)
    M, mean = fit_retrieval_metric(method, *train, components=16)
    assert np.allclose(M, M.T) and np.linalg.eigvalsh(M).min() > -1e-9 * np.abs(M).max()
    assert _recall_at_1(_mapped(test[0], M, mean), test[1]) > _recall_at_1(test[0], test[1]) + 0.1


def test_retrieval_metric_refuses_unknown_methods_and_blends():
    X, y = _unit_classes(13, n=40)
    with pytest.raises(ValueError, match="mmc or lmnn"):
        fit_retrieval_metric("covariance", X, y)
    with pytest.raises(ValueError, match="blend"):
        fit_retrieval_metric("mmc", X, y, blend=1.5)


def test_metric_file_keeps_its_mean_and_refuses_a_bad_one(tmp_path):
    M = _random_psd(np.random.default_rng(14), 4, 4)
    path = save_metric(tmp_path / "m.npz", M, {"method": "lmnn"}, mean=np.arange(4.0))
    metric = load_metric_file(path)
    np.testing.assert_array_equal(metric.mean, np.arange(4.0))
    assert load_metric_file(save_metric(tmp_path / "plain.npz", M, {})).mean is None
    bad = _write(tmp_path / "bad.npz", matrix=M, info=np.array("{}"), mean=np.array([1.0, np.nan, 0.0, 0.0]))
    with pytest.raises(MetricFileError, match="mean"):
        load_metric_file(bad)
    short = _write(tmp_path / "short.npz", matrix=M, info=np.array("{}"), mean=np.zeros(3))
    with pytest.raises(MetricFileError, match="mean"):
        load_metric_file(short)
