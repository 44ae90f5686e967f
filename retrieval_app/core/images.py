"""Decode any image a person may have into an RGB Pillow image, or fail with a reason they understand.

EXIF orientation is applied, JPEGs are draft-decoded at the smallest scale the model needs,
every mode becomes RGB, animations give their first frame, and decompression bombs are refused.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from trainer.pixels import to_rgb

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
HEIF_SUFFIXES = frozenset({".heic", ".heif"})
MAX_PIXELS = 420_000_000
LARGE_PIXELS = 50_000_000

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

_large_decode = threading.Semaphore(1)


def _register_heif() -> frozenset[str]:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return frozenset()
    register_heif_opener()
    return HEIF_SUFFIXES


SUPPORTED_SUFFIXES = IMAGE_SUFFIXES | _register_heif()


class ImageLoadError(Exception):
    """An image could not be decoded; `str(error)` is a reason for people, not a traceback."""


def is_supported(path: str | os.PathLike) -> bool:
    """True when the file name has an image extension Lookalike decodes."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def load_image(path: str | os.PathLike, min_side: int | None = None) -> Image.Image:
    """Decode `path` to RGB; with `min_side`, the result's shorter side is about `min_side`.

    Raises ImageLoadError with a plain-language reason for every failure.
    """
    try:
        with Image.open(path) as image:
            return _decode(image, min_side)
    except ImageLoadError:
        raise
    except FileNotFoundError:
        raise ImageLoadError("file disappeared before it could be read") from None
    except PermissionError:
        raise ImageLoadError("permission denied") from None
    except IsADirectoryError:
        raise ImageLoadError("is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageLoadError(_unidentified_reason(path)) from None
    except Image.DecompressionBombError:
        raise ImageLoadError(f"image is too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageLoadError(f"image data is corrupt or truncated ({_short(exc)})") from None


def load_thumbnail(path: str | os.PathLike, size: int) -> Image.Image:
    """An RGB image whose longer side is at most `size`, for display."""
    image = load_image(path, min_side=size)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def _decode(image: Image.Image, min_side: int | None) -> Image.Image:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageLoadError(f"image is too large ({width} x {height} pixels)")
    if width == 0 or height == 0:
        raise ImageLoadError("image has no pixels")
    if min_side and image.format == "JPEG":
        image.draft("RGB", (min_side, min_side))
    large = image.size[0] * image.size[1] > LARGE_PIXELS
    if large:
        with _large_decode:
            image.load()
            image = _shrink(image, min_side)
    else:
        image.load()
    image = _apply_orientation(image)
    image = to_rgb(image)
    return _shrink(image, min_side)


def _shrink(image: Image.Image, min_side: int | None) -> Image.Image:
    """Box-reduce by an integer factor while the shorter side stays at least 2 x `min_side`."""
    if not min_side:
        return image
    factor = min(image.size) // (2 * min_side)
    if factor >= 2:
        return image.reduce(factor)
    return image


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except (ValueError, TypeError, KeyError, OSError, SyntaxError):
        return image


def _unidentified_reason(path: str | os.PathLike) -> str:
    try:
        size = os.path.getsize(path)
    except OSError:
        size = -1
    if size == 0:
        return "file is empty (0 bytes)"
    return "not an image, or a format Lookalike cannot read"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."
