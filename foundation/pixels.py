"""Pixels as the network sees them: any Pillow mode to 8-bit RGB, one rule for the trainer and the app.

Transparency is composited onto white (as viewers show it) and high bit depths are rescaled to
their own range, so a 16-bit scan or a transparent PNG looks the same when training, indexing
and querying. EXIF orientations and box reduction live here too, since both depend on the mode.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
ORIENTATION_TAG = 0x0112
TRANSPOSES = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency onto white, high bit depths rescaled."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in HIGH_DEPTH_MODES:
        array = np.asarray(image, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def reduce_by(image: Image.Image, factor: int) -> Image.Image:
    """Box-average `factor` x `factor` blocks, first turning modes `Image.reduce` refuses (1, P,
    16-bit) into ones it takes without losing what `to_rgb` would make of them."""
    if factor < 2:
        return image
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):
        transparent = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    return image.reduce(factor)


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) an opened image declares; 1 when it has none or a broken one."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except (ValueError, TypeError, KeyError, OSError, SyntaxError):
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def orient(image: Image.Image, orientation: int) -> Image.Image:
    """The image upright, as a viewer shows a file with this EXIF orientation."""
    for operation in TRANSPOSES.get(orientation, ()):
        image = image.transpose(operation)
    return image
