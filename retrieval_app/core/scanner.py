"""Walk photo folders and stat image files: no decoding, no hashing, so re-scans take seconds."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from .images import is_supported

FINGERPRINT_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileEntry:
    """One image file found on disk (`error` set when it could not even be stat'ed)."""

    path: str
    size: int
    mtime_ns: int
    error: str | None = None


def scan_folder(folder: str) -> Iterator[FileEntry]:
    """Yield every image file below `folder`; hidden entries are skipped, symlinked folders not followed."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                children = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue
        for entry in children:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
            except OSError:
                continue
            if not is_supported(entry.name):
                continue
            yield _stat(entry)


def _stat(entry: os.DirEntry) -> FileEntry:
    try:
        info = entry.stat(follow_symlinks=True)
    except OSError as exc:
        reason = (
            "broken or looping symbolic link" if entry.is_symlink() else f"cannot read file ({exc.strerror})"
        )
        return FileEntry(entry.path, 0, 0, reason)
    return FileEntry(entry.path, info.st_size, info.st_mtime_ns)


def fingerprint(path: str, size: int) -> str:
    """Fast content fingerprint: size plus BLAKE2b of the first and last 64 KiB.

    Enough to recognise a moved or renamed photo without reading it whole.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(size.to_bytes(8, "little"))
    with open(path, "rb") as handle:
        digest.update(handle.read(FINGERPRINT_CHUNK))
        if size > 2 * FINGERPRINT_CHUNK:
            handle.seek(-FINGERPRINT_CHUNK, os.SEEK_END)
            digest.update(handle.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()
