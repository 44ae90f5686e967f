"""Metric spaces: each is a linear map + L2 that reproduces its textbook distance."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval_app.core.metrics import MetricError, euclidean_space, learned_space, mahalanobis_space
from trainer.linear_metric import save_metric


def test_mahalanobis_matches_inverse_covariance_on_plenty_of_data():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    data = rng.normal(size=(20000, 6)) @ mixing.T
    space = mahalanobis_space(data.astype(np.float32))
    a, b = data[:50], data[50:100]
    got = np.linalg.norm(space.apply(a) - space.apply(b), axis=1)
    inverse = np.linalg.inv(np.cov(data, rowvar=False))
    direct = np.sqrt(np.einsum("ij,jk,ik->i", a - b, inverse, a - b))
    ratio = got / direct
    # equal up to the single documented scale (mean squared distance 2), within shrinkage
    assert np.std(ratio) / np.mean(ratio) < 0.02
    pairs = space.apply(data[:2000]) - space.apply(data[2000:4000])
    assert np.mean(np.sum(pairs**2, axis=1)) == pytest.approx(2.0, rel=0.1)


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
