"""Which files are images: the one list of file types the app and the trainer read, and why others are not.

A file is decoded when its suffix is one of ours and the decoder for it is installed. HEIC and
RAW photos whose optional extra is missing, and images hiding under a suffix we do not read
(a JPEG saved as `.svg`), are not silently passed over: `skip_reason` says what to do. The RAW
file of a RAW+JPEG pair is left to its JPEG (`raw_twins`), so the photo counts once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from .files import open_regular

PILLOW_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".gif",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
    }
)
HEIF_SUFFIXES = frozenset({".heic", ".heif"})
RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"})
# A camera shooting RAW+JPEG (or RAW+HEIF) writes both with one name; the JPEG stands for the pair.
TWIN_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".heic", ".heif"})
# Suffixes of formats we do not read, under which a renamed photo turns up; files without a
# suffix too. Only these are looked into, so a re-scan still reads nothing of other files.
SNIFFED_SUFFIXES = frozenset({"", ".svg", ".svgz", ".avif", ".jxl", ".jp2", ".ico", ".psd", ".xcf"})
HEIF_MISSING = "HEIC/HEIF photo, but HEIC support is not installed: install lookalike[heif]"
RAW_MISSING = "RAW photo, but RAW support is not installed: install lookalike[raw]"
SNIFF_BYTES = 32
BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)
# Signatures of the formats we decode: (offset, bytes, format name, the suffix to rename to).
SIGNATURES = (
    (0, b"\xff\xd8\xff", "JPEG", ".jpg"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG", ".png"),
    (0, b"GIF87a", "GIF", ".gif"),
    (0, b"GIF89a", "GIF", ".gif"),
    (8, b"WEBP", "WebP", ".webp"),
    (0, b"II*\x00", "TIFF", ".tif"),
    (0, b"MM\x00*", "TIFF", ".tif"),
    (4, b"ftypheic", "HEIC", ".heic"),
    (4, b"ftypheix", "HEIC", ".heic"),
)


@functools.cache
def heif_ready() -> bool:
    """True when pillow-heif is installed; its opener is then registered with Pillow (once)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


@functools.cache
def rawpy_module() -> ModuleType | None:
    """The `rawpy` module (LibRaw) when the `raw` extra is installed, else None."""
    try:
        import rawpy
    except ImportError:
        return None
    return rawpy


def supported_suffixes() -> frozenset[str]:
    """Every suffix (lower case, with the dot) whose files are decoded here, extras included."""
    suffixes = PILLOW_SUFFIXES
    if heif_ready():
        suffixes |= HEIF_SUFFIXES
    if rawpy_module() is not None:
        suffixes |= RAW_SUFFIXES
    return suffixes


def is_supported(path: str | os.PathLike) -> bool:
    """True when the file name has a suffix Lookalike decodes on this installation."""
    return Path(path).suffix.lower() in supported_suffixes()


def is_raw(path: str | os.PathLike) -> bool:
    """True for a camera RAW file name (decoded with rawpy, not Pillow)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def raw_twins(names: Iterable[str]) -> set[str]:
    """The RAW files among one folder's file `names` that have a JPEG or HEIF twin of the same name
    decoded here: the twin alone is read, so the pair is one photo in results and sets."""
    names = list(names)
    twins = {
        Path(name).stem.casefold()
        for name in names
        if Path(name).suffix.lower() in TWIN_SUFFIXES and is_supported(name)
    }
    return {name for name in names if is_raw(name) and Path(name).stem.casefold() in twins}


def missing_extra(path: str | os.PathLike) -> str | None:
    """The reason a HEIC or RAW photo is not decoded here (its extra is missing), else None."""
    suffix = Path(path).suffix.lower()
    if suffix in HEIF_SUFFIXES and not heif_ready():
        return HEIF_MISSING
    if suffix in RAW_SUFFIXES and rawpy_module() is None:
        return RAW_MISSING
    return None


def skip_reason(path: str | os.PathLike) -> str | None:
    """Why a file that is not decoded is still worth listing (a missing extra, an image under a
    foreign suffix); None for supported files and for files that are no image of ours."""
    reason = missing_extra(path)
    if reason is not None or Path(path).suffix.lower() not in SNIFFED_SUFFIXES:
        return reason
    found = sniff(path)
    if found is None:
        return None
    name, suffix = found
    shown = Path(path).suffix.lower() or "without a suffix"
    named = f"named {shown}" if shown.startswith(".") else shown
    return f"a {name} image {named}: rename it to {suffix} to have it indexed"


def sniff(path: str | os.PathLike) -> tuple[str, str] | None:
    """(format name, usual suffix) when the file's first bytes are an image we decode, else None.

    Only regular files are read, and without blocking, so a named pipe never hangs a scan.
    """
    try:
        with open_regular(path) as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return None
    for offset, signature, name, suffix in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name, suffix
    if head[:2] == b"BM" and len(head) >= 18 and head[14] in BMP_HEADER_SIZES and not any(head[15:18]):
        return "BMP", ".bmp"
    if len(head) > 2 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PNM", ".ppm"
    return None


def extra_now_installed(reason: str | None) -> bool:
    """True when a file was skipped for a missing extra that is installed now (worth a new try)."""
    if reason == HEIF_MISSING:
        return heif_ready()
    if reason == RAW_MISSING:
        return rawpy_module() is not None
    return False
