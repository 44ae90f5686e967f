"""How alike two members of a similar set are: an exact copy, the same picture, or a similar shot.

Three measured signals, cheapest verdict first:
- **exact copy**: the same bytes (size and full BLAKE2b content hash);
- **same picture**: the decoded pixels agree after a re-encode, a resize or a small edit. The
  check is a 32×32 grey thumbnail of each image, normalised to zero mean and unit variance (so a
  brightness or contrast change does not count); the difference is the worst mean absolute
  difference over its 8×8 tiles (a local change, an object added, stands out), the best over
  centred crops of up to 4 % of either image (a trimmed copy still lines up), and the aspect
  ratios must agree within ASPECT_TOLERANCE (another framing changes it);
- **similar shot**: anything else the set holds (same scene or subject, a different photo); the
  set's embedding distance already said they look alike.

SAME_PICTURE_MAX was chosen on generated data (`python -m benchmarks.tiers --scenes 8`, figures in
docs/tiers.md): 272 same pictures (JPEG quality 30-95, resizes to 25-90 %, PNG/WebP, brightness and
contrast ±15 %, a 1 px blur, crops of 2-4 %) against 128 other shots of the same scenes (camera
panned 8-20 %, tilted, zoomed 15 %, an object added or moved, mirrored). At 0.15, 7 same pictures
(2.6 %, clipped highlights and a starry night resized) read as similar shots, the safe side: a
clean-up limited to exact copies and same pictures leaves them alone; 1 other shot (0.8 %, an
object added in a matching colour) reads as the same picture.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from foundation.errors import InputError
from foundation.images import load_image

EXACT, SAME, SIMILAR = "exact", "same", "similar"
TIERS = (EXACT, SAME, SIMILAR)
"""Strongest first; the names the CLI and JSON use."""
TIER_LABELS = {EXACT: "exact copy", SAME: "same picture", SIMILAR: "similar shot"}
PRINT_SIDE = 32
PRINT_SOURCE = 96
BLOCK = 8
ALIGN_CROPS = tuple(i / 200 for i in range(9))  # 0 to 4 % per side, in steps of 0.5 %
SAME_PICTURE_MAX = 0.15
ASPECT_TOLERANCE = 0.02
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class PixelPrint:
    """A small grey copy of the image (about PRINT_SOURCE pixels on the short side) and its aspect ratio."""

    aspect: float
    grey: Image.Image


@dataclass(frozen=True)
class Likeness:
    """The tier between two files and the signals that gave it."""

    tier: str
    pixel_difference: float | None
    """Mean absolute difference of the pixel prints (None when the bytes are identical)."""


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b of the whole file: two files with the same hash and size hold the same bytes."""
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pixel_print(path: str | os.PathLike) -> PixelPrint:
    """Decode `path` small (JPEG draft) and reduce it to its pixel print; raises ImageLoadError."""
    image = load_image(path, min_side=PRINT_SOURCE)
    return print_of_image(image)


def print_of_image(image: Image.Image) -> PixelPrint:
    """The pixel print of a decoded image (EXIF orientation already applied)."""
    width, height = image.size
    grey = image.convert("L")
    grey.thumbnail((PRINT_SOURCE * width // min(width, height),) * 2, Image.Resampling.BOX)
    return PixelPrint(width / height, grey)


def _normalised(grey: Image.Image, crop: float) -> np.ndarray:
    """The centre of `grey` without `crop` of each side, PRINT_SIDE square, zero mean and unit variance."""
    w, h = grey.size
    box = (w * crop, h * crop, w * (1 - crop), h * (1 - crop))
    values = np.asarray(grey.resize((PRINT_SIDE, PRINT_SIDE), Image.Resampling.BOX, box=box), np.float32)
    return (values - values.mean()) / max(float(values.std()), 1.0)


def pixel_difference(a: PixelPrint, b: PixelPrint) -> float:
    """Mean absolute difference of two prints, the best over small centred crops of either one
    (a copy trimmed by up to ALIGN_CROPS[-1] per side still lines up); infinite when the aspect
    ratios disagree."""
    if abs(math.log(a.aspect / b.aspect)) > ASPECT_TOLERANCE:
        return math.inf
    whole_a, whole_b = _normalised(a.grey, 0.0), _normalised(b.grey, 0.0)
    best = _worst_block(whole_a, whole_b)
    for crop in ALIGN_CROPS[1:]:
        best = min(
            best,
            _worst_block(_normalised(a.grey, crop), whole_b),
            _worst_block(whole_a, _normalised(b.grey, crop)),
        )
    return best


def _worst_block(a: np.ndarray, b: np.ndarray) -> float:
    """The largest mean absolute difference over BLOCK×BLOCK tiles: a local change (an object
    added or moved) stands out instead of being averaged away, while re-encoding noise stays low."""
    tiles = np.abs(a - b).reshape(PRINT_SIDE // BLOCK, BLOCK, PRINT_SIDE // BLOCK, BLOCK)
    return float(tiles.mean(axis=(1, 3)).max())


def likeness(
    hash_a: str | None, hash_b: str | None, print_a: PixelPrint | None, print_b: PixelPrint | None
) -> Likeness:
    """The tier of a pair from their content hashes and pixel prints (None: could not be read)."""
    if hash_a is not None and hash_a == hash_b:
        return Likeness(EXACT, None)
    if print_a is None or print_b is None:
        return Likeness(SIMILAR, None)
    difference = pixel_difference(print_a, print_b)
    return Likeness(SAME if difference <= SAME_PICTURE_MAX else SIMILAR, difference)


def check_tiers(names: list[str]) -> tuple[str, ...]:
    """Validate tier names from the command line or settings; raises InputError naming the bad one."""
    for name in names:
        if name not in TIERS:
            raise InputError(f"unknown tier {name!r}: choose from {', '.join(TIERS)}")
    return tuple(names)
