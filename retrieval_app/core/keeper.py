"""Which copy in a set to keep: ordered rules, each deciding only by a clear margin, and why it won.

Rules, in the default order (a person can reorder or drop them):
- `pixels`: more pixels;
- `format`: a richer format (RAW over HEIC/TIFF/PNG/BMP over JPEG/WebP over GIF);
- `size`: a larger file (at the pixels the earlier rules left equal: less compression);
- `metadata`: more of EXIF capture date, GPS position and camera;
- `oldest`: the earliest capture date (EXIF, else the file's modification time);
- `folders`: a file in one of the person's preferred folders.

Rules work by elimination: each keeps only the candidates within the margin of the best
(MIN_DIFFERENCE, 5 %, for pixel counts and sizes; DATE_MARGIN for dates), so noise never decides;
the rule that leaves one candidate is the reason ("3024×4032 vs 1512×2016"). Ties after every rule
go to a file in a reference folder, then to the first in the set (its representative).
Files in reference folders are never proposed for removal (see `set_review`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError

from foundation.errors import InputError
from foundation.files import open_regular

RULES = ("pixels", "format", "size", "metadata", "oldest", "folders")
DEFAULT_RULES = RULES
MIN_DIFFERENCE = 0.05
DATE_MARGIN = 60.0
FORMAT_RANK = {"RAW": 5, "HEIF": 4, "TIFF": 4, "PNG": 4, "BMP": 4, "WEBP": 2, "JPEG": 2, "MPO": 2, "GIF": 1}
"""Camera originals and lossless files over lossy re-encodes (a WebP is usually a re-encode)."""
RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"})
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATE_ORIGINAL, _DATE, _MAKE, _MODEL, _ORIENTATION = 36867, 306, 271, 272, 274


@dataclass(frozen=True)
class FileFacts:
    """What the rules look at, read from the file's header (no decoding); width and height as
    shown (after the EXIF orientation)."""

    path: str
    size: int
    width: int
    height: int
    format: str
    mtime: float
    taken: datetime | None
    """EXIF capture date, when the file has one."""
    has_gps: bool
    camera: str | None

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def captured(self) -> float:
        """Capture time as a timestamp: the EXIF date, else the modification time."""
        return self.taken.timestamp() if self.taken else self.mtime

    @property
    def metadata(self) -> tuple[str, ...]:
        fields = (
            ("date", self.taken is not None),
            ("GPS", self.has_gps),
            ("camera", self.camera is not None),
        )
        return tuple(name for name, present in fields if present)


@dataclass(frozen=True)
class KeepPolicy:
    """The ordered rules and the folders that change the choice."""

    rules: tuple[str, ...] = DEFAULT_RULES
    reference_folders: tuple[str, ...] = ()
    """Never proposed for removal; win ties."""
    preferred_folders: tuple[str, ...] = ()
    """Win the `folders` rule."""


@dataclass(frozen=True)
class KeeperChoice:
    index: int
    """Position of the keeper among the members given."""
    rule: str | None
    """The rule that decided, or None for a tie."""
    reason: str


def parse_rules(text: str) -> tuple[str, ...]:
    """`"pixels,format,size"` → the rules in that order; raises InputError naming an unknown one."""
    rules = tuple(part.strip() for part in text.split(",") if part.strip())
    for rule in rules:
        if rule not in RULES:
            raise InputError(f"unknown keeper rule {rule!r}: choose from {', '.join(RULES)}")
    if len(set(rules)) != len(rules):
        raise InputError(f"a keeper rule is named twice in {text!r}")
    return rules


def read_facts(path: str) -> FileFacts | None:
    """The file's size, dimensions, format and EXIF facts; None when it cannot be read now."""
    try:
        info = os.stat(path)
        with open_regular(path) as handle, Image.open(handle) as image:
            width, height = image.size
            exif = image.getexif()
            if exif.get(_ORIENTATION) in (5, 6, 7, 8):  # stored on its side: shown turned
                width, height = height, width
            fmt = "RAW" if os.path.splitext(path)[1].lower() in RAW_SUFFIXES else (image.format or "?")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    try:
        details = exif.get_ifd(_EXIF_IFD)
        has_gps = bool(exif.get_ifd(_GPS_IFD))
    except (KeyError, ValueError, TypeError, OSError):
        details, has_gps = {}, False
    taken = _exif_date(details.get(_DATE_ORIGINAL) or exif.get(_DATE))
    camera = " ".join(str(exif.get(tag, "")).strip("\x00 ") for tag in (_MAKE, _MODEL)).strip() or None
    return FileFacts(path, info.st_size, width, height, fmt, info.st_mtime, taken, has_gps, camera)


def _exif_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def in_folders(path: str, folders: Sequence[str]) -> bool:
    """Whether `path` lies inside one of `folders` (compared as absolute, normalised paths)."""
    path = os.path.abspath(path)
    for folder in folders:
        folder = os.path.abspath(folder)
        if os.path.commonpath([path, folder]) == folder:
            return True
    return False


def choose_keeper(facts: Sequence[FileFacts | None], policy: KeepPolicy) -> KeeperChoice:
    """The member to keep (facts in set order; None for an unreadable file, which never wins a rule)."""
    candidates = [i for i, f in enumerate(facts) if f is not None]
    if not candidates:
        return KeeperChoice(0, None, "no member could be read")
    first_cut: tuple[str | None, str] | None = None  # the first rule that set copies aside, and why
    for rule in policy.rules:
        kept = _apply(rule, candidates, facts, policy)
        if len(kept) < len(candidates):
            loser = _best_of(rule, [i for i in candidates if i not in kept], facts, policy)
            why = _explain(rule, facts[kept[0]], facts[loser], policy)
            if len(kept) == 1:
                return KeeperChoice(kept[0], rule, why)
            first_cut = first_cut or (rule, why)
        candidates = kept
    decided, why = first_cut or (None, "")
    reference = [i for i in candidates if in_folders(facts[i].path, policy.reference_folders)]  # type: ignore[union-attr]
    if reference and len(reference) < len(candidates):
        tie = f"{len(candidates)} copies tie; the one in a reference folder is kept"
        return KeeperChoice(reference[0], decided, f"{why}; {tie}" if why else tie)
    tie = f"{len(candidates)} copies tie on every rule; the set's first is kept"
    return KeeperChoice(candidates[0], decided, f"{why}; {tie}" if why else tie)


def _score(rule: str, f: FileFacts, policy: KeepPolicy) -> float:
    """Higher is better for every rule."""
    if rule == "pixels":
        return float(f.pixels)
    if rule == "format":
        return float(FORMAT_RANK.get(f.format.upper(), 0))
    if rule == "size":
        return float(f.size)
    if rule == "metadata":
        return float(len(f.metadata))
    if rule == "oldest":
        return -f.captured
    return 1.0 if in_folders(f.path, policy.preferred_folders) else 0.0


def _apply(
    rule: str, candidates: list[int], facts: Sequence[FileFacts | None], policy: KeepPolicy
) -> list[int]:
    """The candidates within the rule's margin of the best one."""
    scores = {i: _score(rule, facts[i], policy) for i in candidates}  # type: ignore[arg-type]
    best = max(scores.values())
    if rule in ("pixels", "size"):
        floor = best * (1 - MIN_DIFFERENCE)
    elif rule == "oldest":
        floor = best - DATE_MARGIN
    else:
        floor = best
    return [i for i in candidates if scores[i] >= floor]


def _best_of(rule: str, indices: list[int], facts: Sequence[FileFacts | None], policy: KeepPolicy) -> int:
    return max(indices, key=lambda i: _score(rule, facts[i], policy))  # type: ignore[arg-type]


def _explain(rule: str, winner: FileFacts | None, loser: FileFacts | None, policy: KeepPolicy) -> str:
    """Why `winner` beat the best of the others, in the rule's own terms."""
    assert winner is not None and loser is not None
    if rule == "pixels":
        return f"{winner.width}×{winner.height} vs {loser.width}×{loser.height}"
    if rule == "format":
        return f"{winner.format} vs {loser.format} of the same pixels"
    if rule == "size":
        return f"{_megabytes(winner.size)} vs {_megabytes(loser.size)} at equal pixels (less compressed)"
    if rule == "metadata":
        return f"has {', '.join(winner.metadata)} vs {', '.join(loser.metadata) or 'none'}"
    if rule == "oldest":
        return f"taken {_when(winner.captured)} vs {_when(loser.captured)}"
    return "in a preferred folder"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
