"""Pairwise and paired Euclidean distances against a float64 loop, with finite gradients at d = 0."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.distances import paired_distances, pairwise_distances


def _loop_distances(x: torch.Tensor) -> torch.Tensor:
    rows = x.double().tolist()
    return torch.tensor(
        [[math.dist(a, b) for b in rows] for a in rows],
        dtype=torch.float64,
    )


def test_pairwise_distances_match_a_loop():
    x = torch.randn(13, 7, generator=torch.Generator().manual_seed(0))
    got = pairwise_distances(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), _loop_distances(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(got.diagonal(), torch.zeros(13))


def test_paired_distances_match_a_loop():
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(2, 9, 5, generator=generator)
    expected = torch.tensor([math.dist(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)])
    torch.testing.assert_close(paired_distances(x, y), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_duplicates_and_antipodes_stay_finite(dtype):
    base = torch.nn.functional.normalize(
        torch.randn(4, 64, generator=torch.Generator().manual_seed(2)), dim=1
    )
    x = torch.cat([base, base[:1], -base[:1]]).to(dtype).requires_grad_()
    distances = pairwise_distances(x)
    assert distances.dtype == torch.float32
    assert float(distances.detach()[0, 4]) < 1e-3  # duplicate
    assert float(distances.detach()[0, 5]) == pytest.approx(2.0, abs=2e-2)  # antipode
    distances.sum().backward()
    assert torch.isfinite(x.grad).all()
    pairs = paired_distances(x[:1].expand(6, -1), x)
    pairs.sum().backward()
    assert torch.isfinite(x.grad).all()
