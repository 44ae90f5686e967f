"""Camera RAW files through LibRaw (`rawpy`, the optional `raw` extra): the embedded preview or a full decode.

Kept apart from the Pillow decoder so that `rawpy` is imported only for RAW files; sizes and
limits are decided by `foundation.images`, which calls these.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from .files import open_regular
from .imagetypes import RAW_MISSING, rawpy_module

# LibRaw's `flip` (bit 0 mirror left-right, bit 1 mirror top-bottom, bit 2 swap axes) as the
# EXIF orientation it was read from.
FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


class RawError(Exception):
    """A RAW file could not be read; `str(error)` is the reason for people."""


@contextlib.contextmanager
def open_raw(path: str | os.PathLike) -> Iterator[Any]:
    """The opened `rawpy.RawPy` (metadata only: pixels are unpacked on demand)."""
    rawpy = rawpy_module()
    if rawpy is None:
        raise RawError(RAW_MISSING)
    _check_regular(path)
    try:
        raw = rawpy.imread(os.fspath(path))
    except (rawpy.LibRawFileUnsupportedError, rawpy.LibRawIOError):
        raise RawError("not a RAW photo LibRaw can read, or a damaged one") from None
    except rawpy.LibRawError as exc:
        raise RawError(f"RAW data is corrupt or truncated ({type(exc).__name__})") from None
    with raw:
        try:
            yield raw
        except rawpy.LibRawError as exc:
            raise RawError(f"RAW data is corrupt or truncated ({type(exc).__name__})") from None


def _check_regular(path: str | os.PathLike) -> None:
    """Raise the usual OSError for a missing, unreadable or non-regular file (a named pipe would
    block LibRaw forever); opened without blocking, and closed again at once."""
    open_regular(path).close()


def raw_size(raw: Any) -> tuple[int, int]:
    """(width, height) of the developed image, before orientation."""
    return raw.sizes.width, raw.sizes.height


def orientation(raw: Any) -> int:
    """The EXIF orientation (1-8) the RAW file declares."""
    return FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)


def embedded_preview(raw: Any) -> Image.Image | None:
    """The camera's own preview, opened lazily (a JPEG is not decoded yet), or None without one
    LibRaw accepts (the caller then decodes the RAW data itself)."""
    rawpy = rawpy_module()
    assert rawpy is not None  # open_raw succeeded
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return Image.open(io.BytesIO(thumb.data))
    array = np.asarray(thumb.data)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        return None
    return Image.fromarray(array, "RGB")


def develop(raw: Any, half_size: bool) -> Image.Image:
    """Full demosaic with the camera's white balance to 8-bit sRGB, upright (LibRaw applies the
    orientation); `half_size` skips demosaicing for a quarter of the pixels, four times faster."""
    rgb = raw.postprocess(use_camera_wb=True, half_size=half_size, output_bps=8)
    return Image.fromarray(np.ascontiguousarray(rgb), "RGB")
