"""Folding BatchNorm into convolutions for inference: the same vectors, fewer layers."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from retrieval_app.core.embedder import fold_batchnorm
from trainer.model import ModelConfig, build_model


def _with_trained_statistics(network: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm statistics and affine parameters, as a trained network has (a fresh one's
    mean 0 / variance 1 would make a wrong fold look right)."""
    generator = torch.Generator().manual_seed(seed)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(channels, generator=generator) * 2 + 0.1)
            module.weight.data.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(channels, generator=generator) * 0.2)
    return network.eval()


@pytest.mark.parametrize(
    ("backbone", "head"),
    [
        ("efficientnet-lite0", None),
        ("mobilenet_v3_small", 16),
        ("resnet18", 32),
        ("convnext_tiny", 16),  # LayerNorm only: nothing to fold, the same function still
    ],
)
def test_folded_network_gives_the_same_vectors_without_batchnorm(backbone, head):
    config = ModelConfig(backbone=backbone, embedding_dim=head, image_size=64, pretrained=False)
    network = _with_trained_statistics(build_model(config))
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = network(images)
        folded = fold_batchnorm(copy.deepcopy(network))
        got = folded(images)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)
    assert got.shape == (3, config.output_dim)
    assert not [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
    assert isinstance(folded, torch.fx.GraphModule)  # traced, so actually folded


class _DataDependent(nn.Module):
    """Branches on tensor values, which torch.fx cannot trace."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.conv(x))
        return out if out.sum() > 0 else -out


def test_a_network_that_cannot_be_traced_runs_unfolded():
    network = _with_trained_statistics(_DataDependent())
    images = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        expected = network(images)
        folded = fold_batchnorm(network)
        torch.testing.assert_close(folded(images), expected)
    assert folded is network
