"""Metric spaces: each is a linear map (centred, optionally normalised) + L2 that reproduces its textbook distance."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval_app.core.metrics import (
    MAX_COMPONENTS,
    SAMPLES_PER_COMPONENT,
    SHRINKAGE,
    MetricError,
    MetricSpace,
    euclidean_space,
    learned_space,
    mahalanobis_space,
)
from trainer.linear_metric import save_metric, transform_from_metric, whitening


def _known_covariance_data(n: int, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples of a Gaussian with a known, strongly anisotropic covariance C, and C."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    covariance = rotation @ np.diag(np.geomspace(25.0, 0.01, d)) @ rotation.T
    return rng.multivariate_normal(np.arange(d, dtype=float), covariance, size=n), covariance


def _reference_whitened_distance(x, y, covariance, components, shrinkage):
    """sqrt((x−y)ᵀ U (Λ_s)⁻¹ Uᵀ (x−y)) from numpy's eigh, with the top `components` kept and
    Λ_s = (1 − s) Λ + s mean(Λ): the textbook definition, written out."""
    values, vectors = np.linalg.eigh(covariance)
    keep = np.argsort(values)[::-1][:components]
    values, vectors = values[keep], vectors[:, keep]
    shrunk = (1 - shrinkage) * values + shrinkage * values.mean()
    inverse = vectors @ np.diag(1 / shrunk) @ vectors.T
    diff = x - y
    return np.sqrt(np.einsum("nd,de,ne->n", diff, inverse, diff))


def test_whitening_without_shrinkage_is_the_inverse_square_root_of_the_covariance():
    data, truth = _known_covariance_data(50_000)
    mean, W = whitening(data, components=6, shrinkage=0.0)
    np.testing.assert_allclose(mean, data.mean(axis=0), atol=1e-12)
    sample = np.cov(data, rowvar=False, bias=True)
    np.testing.assert_allclose(W @ sample @ W.T, np.eye(6), atol=1e-9)  # exactly white on its data
    a, b = data[:200], data[200:400]
    got = np.linalg.norm((a - b) @ W.T, axis=1)
    np.testing.assert_allclose(got, _reference_whitened_distance(a, b, sample, 6, 0.0), rtol=1e-9)
    # and close to the Mahalanobis distance of the covariance the data were drawn from
    np.testing.assert_allclose(got, _reference_whitened_distance(a, b, truth, 6, 0.0), rtol=0.03)


@pytest.mark.parametrize(("components", "shrinkage"), [(6, 0.5), (3, 0.0), (2, 0.9)])
def test_shrunk_and_truncated_whitening_matches_numpy_reference(components, shrinkage):
    data, _ = _known_covariance_data(5_000, seed=1)
    _, W = whitening(data, components=components, shrinkage=shrinkage)
    assert W.shape == (components, 6)
    sample = np.cov(data, rowvar=False, bias=True)
    a, b = data[:100], data[100:200]
    got = np.linalg.norm((a - b) @ W.T, axis=1)
    np.testing.assert_allclose(
        got, _reference_whitened_distance(a, b, sample, components, shrinkage), rtol=1e-8
    )


def test_mahalanobis_space_is_shrunk_whitening_then_unit_length():
    data, _ = _known_covariance_data(400, d=8, seed=2)
    space = mahalanobis_space(data.astype(np.float32))
    assert space.dim == 8 and space.normalize and space.fitted_on == 400  # 400 // 4 > 8: every component
    mapped = space.apply(data[:50])
    np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), 1.0, rtol=1e-5)
    mean, W = whitening(data, components=8, shrinkage=SHRINKAGE)
    expected = (data[:50] - mean) @ W.T
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(mapped, expected, atol=1e-4)


def test_mahalanobis_keeps_only_the_components_the_data_support():
    rng = np.random.default_rng(3)
    few = rng.normal(size=(40, 64)).astype(np.float32)  # 40 photos of 64 dimensions
    assert mahalanobis_space(few).dim == 40 // SAMPLES_PER_COMPONENT
    many = rng.normal(size=(3000, 300)).astype(np.float32)
    assert mahalanobis_space(many).dim == MAX_COMPONENTS
    with pytest.raises(MetricError, match="at least two"):
        mahalanobis_space(few[:1])


def test_a_fitted_space_is_stale_after_growing_by_half_or_shrinking_by_a_third():
    space = mahalanobis_space(np.random.default_rng(4).normal(size=(100, 5)))
    assert [space.stale(n) for n in (66, 67, 100, 150, 151)] == [True, False, False, False, True]
    assert not euclidean_space().stale(10**6)


def test_token_follows_every_part_of_the_mapping():
    transform = np.eye(3, dtype=np.float32)
    tokens = {
        MetricSpace("m", transform).token,
        MetricSpace("m", transform, np.ones(3, dtype=np.float32)).token,
        MetricSpace("m", transform, None, True).token,
        MetricSpace("m", 2 * transform).token,
        euclidean_space().token,
    }
    assert len(tokens) == 5


def test_cosine_reports_one_minus_cosine():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    space = euclidean_space("cosine")
    l2 = np.linalg.norm(space.apply(x[:5]) - space.apply(x[5:]), axis=1)
    np.testing.assert_allclose(space.report(l2), 1 - np.sum(x[:5] * x[5:], axis=1), atol=1e-6)
    assert space.index_key == "euclidean"


def test_learned_metric_reproduces_its_matrix(tmp_path):
    rng = np.random.default_rng(2)
    factor = rng.normal(size=(4, 4))
    matrix = factor.T @ factor
    path = tmp_path / "m.npz"
    save_metric(path, matrix, {"method": "test"})
    space = learned_space(str(path), 4)
    x, y = rng.normal(size=(2, 4))
    got = np.linalg.norm(space.apply(x[None]) - space.apply(y[None]))
    assert got == pytest.approx(np.sqrt((x - y) @ matrix @ (x - y)), rel=1e-4)


def test_learned_metric_with_mean_centres_maps_and_normalises(tmp_path):
    rng = np.random.default_rng(5)
    factor = rng.normal(size=(3, 6))  # rank 3: the searched space has 3 dimensions
    matrix, mean = factor.T @ factor, rng.normal(size=6)
    path = tmp_path / "m.npz"
    save_metric(path, matrix, {"method": "test", "normalize": True}, mean=mean)
    space = learned_space(str(path), 6)
    assert space.dim == 3
    x = rng.normal(size=(10, 6))
    got = space.apply(x)
    z = (x - mean) @ transform_from_metric(matrix).T
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    pairwise = np.linalg.norm(got[:5] - got[5:], axis=1)
    np.testing.assert_allclose(pairwise, np.linalg.norm(z[:5] - z[5:], axis=1), atol=1e-5)


def test_learned_metric_of_wrong_dimension_refused(tmp_path):
    path = tmp_path / "m.npz"
    save_metric(path, np.eye(3), {"method": "test"})
    with pytest.raises(MetricError, match="3-dimensional"):
        learned_space(str(path), 4)


def test_learned_metric_for_another_model_refused(tmp_path):
    path = tmp_path / "m.npz"
    save_metric(path, np.eye(4), {"method": "test", "model_fingerprint": "aaaa"})
    with pytest.raises(MetricError, match="different model"):
        learned_space(str(path), 4, model_fingerprint="bbbb")
