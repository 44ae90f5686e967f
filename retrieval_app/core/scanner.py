"""Walk photo folders and stat image files: no decoding, no hashing, so re-scans take seconds."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace

from foundation.files import file_kind, open_regular
from foundation.imagetypes import is_supported, raw_twins, skip_reason

FINGERPRINT_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileEntry:
    """One image file found on disk (`error` set when it could not even be stat'ed)."""

    path: str
    size: int
    mtime_ns: int
    error: str | None = None


def scan_folder(folder: str, unlisted: list[str] | None = None) -> Iterator[FileEntry]:
    """Yield every image file below `folder`; hidden entries are skipped, symlinked folders not followed.

    Files that are images we do not decode here (see `foundation.imagetypes.skip_reason`) come
    with their reason in `error`, so that they are listed as skipped rather than passed over.

    Folders that cannot be listed now (permissions, a dying disk) are appended to `unlisted`, so
    that the caller keeps what it knew of them instead of taking their files for deleted.
    """
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                children = sorted(entries, key=lambda e: e.name)
        except OSError:
            if unlisted is not None:
                unlisted.append(current)
            continue
        children = [entry for entry in children if not entry.name.startswith(".")]
        twins = raw_twins(entry.name for entry in children)  # a RAW+JPEG pair: the JPEG stands for both
        for entry in children:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
            except OSError:
                if unlisted is not None:
                    unlisted.append(entry.path)
                continue
            if entry.name in twins:
                continue
            if is_supported(entry.name):
                yield _stat(entry)
                continue
            reason = skip_reason(entry.path)  # a HEIC or RAW photo without its extra, a misnamed image
            if reason is not None:
                found = _stat(entry)
                yield found if found.error else replace(found, error=reason)


def _stat(entry: os.DirEntry) -> FileEntry:
    try:
        info = entry.stat(follow_symlinks=True)
    except OSError as exc:
        reason = (
            "broken or looping symbolic link" if entry.is_symlink() else f"cannot read file ({exc.strerror})"
        )
        return FileEntry(entry.path, 0, 0, reason)
    if not stat.S_ISREG(info.st_mode):  # reading a named pipe would wait forever for a writer
        return FileEntry(entry.path, 0, 0, f"not an image file but {file_kind(info.st_mode)}")
    return FileEntry(entry.path, info.st_size, info.st_mtime_ns)


def fingerprint(path: str, size: int) -> str:
    """Fast content fingerprint: size plus BLAKE2b of the first and last 64 KiB.

    Enough to recognise a moved or renamed photo without reading it whole.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(size.to_bytes(8, "little"))
    with open_regular(path) as handle:
        digest.update(handle.read(FINGERPRINT_CHUNK))
        if size > 2 * FINGERPRINT_CHUNK:
            handle.seek(-FINGERPRINT_CHUNK, os.SEEK_END)
            digest.update(handle.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()
