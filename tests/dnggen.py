"""Tiny DNG files for tests: a Bayer (RGGB) mosaic, optionally with an embedded JPEG preview.

Written by hand (TIFF is simple) so the tests need no writer package: with a preview, IFD0 is
the preview (NewSubfileType 1) and the raw data sits in a SubIFD, as cameras write them.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 1, 2, 3, 4, 5, 10
WHITE_LEVEL = 4095
# ColorMatrix1 maps XYZ to the camera's RGB: a camera that records linear sRGB, so colours survive.
XYZ_TO_LINEAR_SRGB = (32406, -15372, -4986, -9689, 18758, 415, 557, -2040, 10570)
_FORMATS = {BYTE: "B", SHORT: "H", LONG: "I", RATIONAL: "I", SRATIONAL: "i"}


def write_dng(
    path: Path,
    mosaic: np.ndarray,
    preview: Image.Image | None = None,
    orientation: int = 1,
    jpeg_preview: bool = True,
) -> Path:
    """Write `mosaic` (uint16 RGGB, values up to 4095) as a DNG, with `preview` if given: as a
    JPEG, or with `jpeg_preview=False` as uncompressed 8-bit RGB."""
    height, width = mosaic.shape
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    raw_offset = _append(out, mosaic.astype("<u2").tobytes())
    raw_tags = {
        254: (LONG, [0]),
        256: (LONG, [width]),
        257: (LONG, [height]),
        258: (SHORT, [16]),
        259: (SHORT, [1]),
        262: (SHORT, [32803]),  # CFA
        273: (LONG, [raw_offset]),
        277: (SHORT, [1]),
        278: (LONG, [height]),
        279: (LONG, [mosaic.size * 2]),
        33421: (SHORT, [2, 2]),  # CFARepeatPatternDim
        33422: (BYTE, [0, 1, 1, 2]),  # CFAPattern: R G / G B
        50714: (LONG, [0]),  # BlackLevel
        50717: (LONG, [WHITE_LEVEL]),
    }
    camera_tags = {
        271: (ASCII, b"Lookalike\x00"),
        272: (ASCII, b"Test camera\x00"),
        274: (SHORT, [orientation]),
        50706: (BYTE, [1, 4, 0, 0]),  # DNGVersion
        50707: (BYTE, [1, 1, 0, 0]),
        50708: (ASCII, b"Lookalike Test camera\x00"),
        50721: (SRATIONAL, [v for x in XYZ_TO_LINEAR_SRGB for v in (x, 10000)]),  # ColorMatrix1
        50728: (RATIONAL, [1, 1, 1, 1, 1, 1]),  # AsShotNeutral
        50778: (SHORT, [21]),  # CalibrationIlluminant1: D65
    }
    if preview is None:
        first = _append_ifd(out, {**raw_tags, **camera_tags})
    else:
        buffer = io.BytesIO()
        if jpeg_preview:
            preview.convert("RGB").save(buffer, "JPEG", quality=95)
        else:
            buffer.write(preview.convert("RGB").tobytes())
        jpeg = buffer.getvalue()
        raw_ifd = _append_ifd(out, raw_tags)
        jpeg_offset = _append(out, jpeg)
        first = _append_ifd(
            out,
            {
                254: (LONG, [1]),  # a reduced-resolution copy
                256: (LONG, [preview.width]),
                257: (LONG, [preview.height]),
                258: (SHORT, [8, 8, 8]),
                259: (SHORT, [7 if jpeg_preview else 1]),  # JPEG or none
                262: (SHORT, [6 if jpeg_preview else 2]),  # YCbCr or RGB
                273: (LONG, [jpeg_offset]),
                277: (SHORT, [3]),
                278: (LONG, [preview.height]),
                279: (LONG, [len(jpeg)]),
                330: (LONG, [raw_ifd]),  # SubIFDs
                **camera_tags,
            },
        )
    out[4:8] = struct.pack("<I", first)
    path.write_bytes(bytes(out))
    return path


def bayer_of(rgb: np.ndarray) -> np.ndarray:
    """The RGGB mosaic a sensor would record of an 8-bit RGB image (even height and width)."""
    scaled = rgb.astype(np.uint32) * WHITE_LEVEL // 255
    mosaic = np.empty(rgb.shape[:2], dtype=np.uint16)
    mosaic[0::2, 0::2] = scaled[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = scaled[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = scaled[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = scaled[1::2, 1::2, 2]
    return mosaic


def _append(out: bytearray, data: bytes) -> int:
    if len(out) % 2:
        out.append(0)
    offset = len(out)
    out += data
    return offset


def _append_ifd(out: bytearray, tags: dict[int, tuple[int, object]]) -> int:
    """Append an IFD (values that do not fit in 4 bytes right after it); returns its offset."""
    if len(out) % 2:
        out.append(0)
    start = len(out)
    entries = sorted(tags.items())
    extra_at = start + 2 + 12 * len(entries) + 4
    head = bytearray(struct.pack("<H", len(entries)))
    extra = bytearray()
    for tag, (kind, values) in entries:
        if kind == ASCII:
            data, count = bytes(values), len(values)  # type: ignore[arg-type]
        else:
            items = list(values)  # type: ignore[call-overload]
            count = len(items) // 2 if kind in (RATIONAL, SRATIONAL) else len(items)
            data = struct.pack(f"<{len(items)}{_FORMATS[kind]}", *items)
        if len(data) <= 4:
            field = data.ljust(4, b"\x00")
        else:
            field = struct.pack("<I", extra_at + len(extra))
            extra += data + (b"\x00" if len(data) % 2 else b"")
        head += struct.pack("<HHI", tag, kind, count) + field
    head += struct.pack("<I", 0)
    out += head + extra
    return start
