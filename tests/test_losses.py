"""Losses against loop references built from scalar torch ops: values, active fractions, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer.losses import ContrastiveLoss, LossOutput, MarginLoss, make_loss
from trainer.miners import Triplets, make_miner


def _batch(seed: int = 0, n: int = 20, dim: int = 6, classes: int = 4):
    generator = torch.Generator().manual_seed(seed)
    embeddings = F.normalize(torch.randn(n, dim, generator=generator), dim=1)
    labels = torch.randint(0, classes, (n,), generator=generator)
    triplets = make_miner("random")(embeddings, labels, generator=generator)
    assert len(triplets.anchor) > 10
    return embeddings, labels, triplets


def _distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(sum((x[i] - y[i]) ** 2 for i in range(len(x))))


def _loop_triplet_distances(embeddings, triplets):
    for a, p, n in zip(*(t.tolist() for t in triplets), strict=True):
        yield a, _distance(embeddings[a], embeddings[p]), _distance(embeddings[a], embeddings[n])


def _check(loss_module, reference, embeddings, labels, triplets, extra_params=()):
    """Equal loss, active fraction and gradients (embeddings and `extra_params`) to the reference."""
    mine = embeddings.clone().double().requires_grad_()
    output = loss_module(mine.float(), labels, triplets)
    assert isinstance(output, LossOutput)
    output.loss.backward()
    theirs = embeddings.clone().double().requires_grad_()
    reference_params = [p.detach().clone().double().requires_grad_() for p in extra_params]
    expected_loss, expected_active = reference(theirs, *reference_params)
    expected_loss.backward()
    torch.testing.assert_close(output.loss.double(), expected_loss.detach(), rtol=1e-5, atol=1e-6)
    assert float(output.active_fraction) == pytest.approx(expected_active)
    torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-6)
    for param, reference_param in zip(extra_params, reference_params, strict=True):
        torch.testing.assert_close(param.grad.double(), reference_param.grad, rtol=1e-5, atol=1e-7)


def test_contrastive_equals_loop():
    embeddings, labels, triplets = _batch(1)

    def reference(x):
        pulls, pushes = [], []
        for _, d_ap, d_an in _loop_triplet_distances(x, triplets):
            pulls.append(torch.clamp(d_ap - 0.1, min=0))
            pushes.append(torch.clamp(1.3 - d_an, min=0))
        active = sum(float(t > 0) for t in pulls + pushes) / (2 * len(pulls))
        return sum(pulls) / len(pulls) + sum(pushes) / len(pushes), active

    _check(ContrastiveLoss(pos_margin=0.1, neg_margin=1.3), reference, embeddings, labels, triplets)


def test_triplet_equals_loop():
    embeddings, labels, triplets = _batch(2)

    def reference(x):
        terms = [
            torch.clamp(d_ap - d_an + 0.2, min=0) for _, d_ap, d_an in _loop_triplet_distances(x, triplets)
        ]
        return sum(terms) / len(terms), sum(float(t > 0) for t in terms) / len(terms)

    loss = make_loss("triplet", margin=0.2)
    _check(loss, reference, embeddings, labels, triplets)


def _margin_reference(triplets, labels, alpha, nu, per_class):
    def reference(x, beta):
        total, active, terms = 0.0, 0, 0
        for a, d_ap, d_an in _loop_triplet_distances(x, triplets):
            b = beta[int(labels[a])] if per_class else beta[0]
            pull = torch.clamp(alpha + (d_ap - b), min=0)
            push = torch.clamp(alpha - (d_an - b), min=0)
            total = total + pull + push + nu * b
            active += int(pull > 0) + int(push > 0)
            terms += 2
        return total / max(active, 1), active / terms

    return reference


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("nu", [0.0, 0.05])
def test_margin_equals_loop_and_trains_beta(per_class, nu):
    embeddings, labels, triplets = _batch(3)
    loss = make_loss("margin", num_classes=4 if per_class else None, alpha=0.2, beta=0.9, nu=nu)
    assert isinstance(loss, MarginLoss)
    with torch.no_grad():  # distinct betas so a wrong class index would show
        loss.beta.copy_(torch.linspace(0.8, 1.1, len(loss.beta)))
    assert loss.beta_parameters() == [loss.beta] and loss.beta.requires_grad
    assert loss.beta.shape == ((4,) if per_class else (1,))
    reference = _margin_reference(triplets, labels, alpha=0.2, nu=nu, per_class=per_class)
    _check(loss, reference, embeddings, labels, triplets, extra_params=[loss.beta])
    assert loss.beta.grad.abs().sum() > 0


def test_margin_with_fixed_beta_has_no_beta_gradient():
    loss = MarginLoss(learn_beta=False)
    assert not loss.beta.requires_grad
    assert [p for p in loss.parameters() if p.requires_grad] == []


@pytest.mark.parametrize("name", ["contrastive", "triplet", "margin"])
def test_no_triplets_gives_a_connected_zero(name):
    embeddings = torch.randn(4, 3, requires_grad=True)
    empty = torch.zeros(0, dtype=torch.long)
    loss = make_loss(name, num_classes=2)
    output = loss(embeddings, torch.tensor([0, 1, 0, 1]), Triplets(empty, empty, empty))
    assert float(output.loss.detach()) == 0.0 and float(output.active_fraction) == 0.0
    output.loss.backward()
    assert torch.equal(embeddings.grad, torch.zeros(4, 3))
    for param in loss.parameters():
        assert param.grad is not None and torch.equal(param.grad, torch.zeros_like(param))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["contrastive", "triplet", "margin"])
def test_half_precision_duplicates_and_antipodes_give_finite_loss_and_gradients(name, dtype):
    embeddings = F.normalize(torch.randn(8, 128, generator=torch.Generator().manual_seed(4)), dim=1)
    embeddings[1] = embeddings[0]  # positive at d = 0
    embeddings[2] = -embeddings[0]  # negative at d = 2
    embeddings[4] = embeddings[0]  # negative at d = 0
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    half = embeddings.to(dtype).requires_grad_()
    triplets = make_miner("all")(half.detach(), labels)
    output = make_loss(name, num_classes=4)(half, labels, triplets)
    assert output.loss.dtype == torch.float32 and torch.isfinite(output.loss)
    output.loss.backward()
    assert half.grad.dtype == dtype and torch.isfinite(half.grad.float()).all()


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="contrastive, triplet, margin"):
        make_loss("arcface")
