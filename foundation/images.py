"""The one image decoder of the app and the trainer: any file a person may have to an upright RGB image.

EXIF orientation is applied, JPEGs are draft-decoded at the smallest scale the model needs,
every mode becomes RGB, animations give their first frame, RAW photos give their embedded
preview when it is large enough (else a full LibRaw decode), decompression bombs are refused,
and very long strips are cut to their centre so resizing them for the model stays small.
Every failure is an `ImageLoadError` whose text is a reason for people.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings

from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import UserError
from .files import NotRegularFileError, open_regular
from .imagetypes import heif_ready, is_raw, missing_extra
from .pixels import exif_orientation, orient, reduce_by, to_rgb
from .raw import RawError, develop, embedded_preview, open_raw, raw_size
from .raw import orientation as raw_orientation

MAX_PIXELS = 420_000_000
LARGE_PIXELS = 50_000_000
# With `min_side`, the longer side is cut (centred) to at most this many times the shorter, so
# a 100000 x 1 strip scaled up to the model's size stays a few MB; the model sees the centre
# square anyway, and photos, panoramas included, stay below this ratio.
MAX_ASPECT = 16

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False
warnings.simplefilter("ignore", Image.DecompressionBombWarning)
heif_ready()  # HEIC content opens whatever its suffix, as with every other format

_large_decode = threading.Semaphore(1)  # one very large image in memory at a time


class ImageLoadError(UserError):
    """An image could not be decoded; `str(error)` is a reason for people, not a traceback."""


def load_image(path: str | os.PathLike, min_side: int | None = None) -> Image.Image:
    """Decode `path` upright to RGB; with `min_side`, the shorter side is about `min_side` (at
    least that, at most about four times it, unless the image is smaller) and the longer side at
    most `MAX_ASPECT` times the shorter. Raises ImageLoadError with a plain-language reason."""
    return _load(path, min_side, fit=True)


def load_thumbnail(path: str | os.PathLike, size: int) -> Image.Image:
    """An RGB image of the whole picture whose longer side is at most `size`, for display."""
    image = _load(path, size, fit=False)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def _load(path: str | os.PathLike, min_side: int | None, fit: bool) -> Image.Image:
    reason = missing_extra(path)
    if reason is not None:
        raise ImageLoadError(reason)
    try:
        if is_raw(path):
            image = _load_raw(path, min_side)
        else:
            with open_regular(path) as handle, Image.open(handle) as opened:
                image = _decode(opened, min_side)
        return _fit(image, min_side) if fit else image
    except ImageLoadError:
        raise
    except RawError as exc:
        raise ImageLoadError(str(exc)) from None
    except NotRegularFileError as exc:  # a named pipe named .jpg: reading it would wait forever
        raise ImageLoadError(exc.strerror) from None
    except FileNotFoundError:
        raise ImageLoadError("file disappeared before it could be read") from None
    except PermissionError:
        raise ImageLoadError("permission denied") from None
    except IsADirectoryError:
        raise ImageLoadError("is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageLoadError(_unidentified_reason(path)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # the warning: under -W error
        raise ImageLoadError(f"image is too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageLoadError(f"image data is corrupt or truncated ({_short(exc)})") from None


def _decode(image: Image.Image, min_side: int | None, orientation: int = 1) -> Image.Image:
    """An opened (not yet loaded) Pillow image to the upright RGB result; `orientation` applies
    when the image declares none of its own (a RAW file's preview)."""
    _check_size(*image.size)
    if min_side and image.format == "JPEG":
        image.draft("RGB", (min_side, min_side))
    with _one_at_a_time(*image.size):
        image.load()  # before reading EXIF: for a PNG that reads the whole file, errors included
        declared = exif_orientation(image)
        orientation = declared if declared != 1 else orientation
        image = _shrink(image, min_side)
    return to_rgb(orient(image, orientation))


def _load_raw(path: str | os.PathLike, min_side: int | None) -> Image.Image:
    """The embedded preview when its shorter side covers what is needed, else a full decode."""
    with open_raw(path) as raw:
        width, height = raw_size(raw)
        _check_size(width, height)
        needed = min_side or min(width, height)
        preview = embedded_preview(raw)
        if preview is not None and min(preview.size) >= needed:
            with preview:
                return _decode(preview, min_side, raw_orientation(raw))
        half = min_side is not None and 0 < 2 * min_side <= min(width, height)
        with _one_at_a_time(width, height):
            return _shrink(develop(raw, half_size=half), min_side)


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageLoadError(f"image is too large ({width} x {height} pixels)")
    if width == 0 or height == 0:
        raise ImageLoadError("image has no pixels")


def _one_at_a_time(width: int, height: int) -> contextlib.AbstractContextManager[object]:
    """Very large images decode one at a time, so a few of them cannot exhaust memory together."""
    return _large_decode if width * height > LARGE_PIXELS else contextlib.nullcontext()


def _shrink(image: Image.Image, min_side: int | None) -> Image.Image:
    """Box-reduce by an integer factor while the shorter side stays at least 2 x `min_side`."""
    if not min_side:
        return image
    return reduce_by(image, min(image.size) // (2 * min_side))


def _fit(image: Image.Image, min_side: int | None) -> Image.Image:
    """Cut the longer side, centred, to `MAX_ASPECT` times the shorter (only with `min_side`)."""
    width, height = image.size
    if not min_side or max(width, height) <= MAX_ASPECT * min(width, height):
        return image
    if width > height:
        keep = MAX_ASPECT * height
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    keep = MAX_ASPECT * width
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))


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
