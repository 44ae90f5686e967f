"""What a scan changes in the catalogue: the files on disk compared with the catalogued ones.

A pure comparison (reading a file's fingerprint and whether a skipped file is readable now are
passed in), so every case, from a moved photo to an offline drive, is tested without a disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from foundation.files import open_regular
from foundation.imagetypes import extra_now_installed

from . import catalogue as cat
from .reports import ScanCounts
from .scanner import FileEntry, fingerprint

Insert = tuple[
    str, int, int, int, str | None, str, str | None
]  # path, folder, size, mtime, digest, status, reason
Move = tuple[int, str, int, int, int]  # id, new path, folder, size, mtime


@dataclass
class ScanDiff(ScanCounts):
    """The catalogue rows a scan writes (in one transaction) and what they amount to."""

    inserts: list[Insert] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)


def diff_scan(
    present: dict[str, tuple[int, FileEntry]],
    known: dict[str, cat.FileRow],
    offline_folders: set[int],
    unlisted: list[str],
    digest: Callable[[str, int], str] = fingerprint,
    readable_now: Callable[[cat.FileRow, str], bool] | None = None,
) -> ScanDiff:
    """Compare the files found (`present`: path -> (folder id, entry)) with the catalogue's rows.

    Unchanged files (same size and mtime) are left alone unless a skipped one can be read now;
    new and changed files get a fingerprint, and a new file whose fingerprint matches a vanished
    indexed one is that file moved (its vector is kept). Files of offline folders and below
    subfolders that could not be listed (`unlisted`) are kept, not removed.
    """
    readable_now = readable_now or worth_retrying
    diff = ScanDiff()
    vanished = {
        path: row
        for path, row in known.items()
        if path not in present and row.folder_id not in offline_folders and not below_any(path, unlisted)
    }
    by_fingerprint = {row.fingerprint: row for row in vanished.values() if row.status == cat.INDEXED}
    for path, (folder_id, entry) in present.items():
        row = known.get(path)
        unchanged = row is not None and row.size == entry.size and row.mtime_ns == entry.mtime_ns
        if unchanged and row is not None and not readable_now(row, path):
            if row.folder_id != folder_id:
                diff.moves.append((row.id, path, folder_id, entry.size, entry.mtime_ns))
            diff.unchanged += 1
            continue
        status, reason, file_digest = _classify(path, entry, digest)
        if row is not None:
            diff.deletes.append(row.id)
            diff.changed += 1
        elif file_digest is not None and file_digest in by_fingerprint:
            moved = by_fingerprint.pop(file_digest)
            diff.moves.append((moved.id, path, folder_id, entry.size, entry.mtime_ns))
            vanished.pop(moved.path, None)
            diff.moved += 1
            continue
        else:
            diff.added += 1
        diff.inserts.append((path, folder_id, entry.size, entry.mtime_ns, file_digest, status, reason))
        diff.skipped += status == cat.SKIPPED  # known unreadable already: counted with the rest
    diff.deletes += [row.id for row in vanished.values()]
    diff.removed = len(vanished)
    return diff


def _classify(
    path: str, entry: FileEntry, digest: Callable[[str, int], str]
) -> tuple[str, str | None, str | None]:
    """(status, skip reason, fingerprint) of a new or changed file."""
    if entry.error:
        return cat.SKIPPED, entry.error, None
    try:
        return cat.PENDING, None, digest(path, entry.size)
    except OSError as exc:
        return cat.SKIPPED, f"cannot read file ({exc.strerror})", None


def below_any(path: str, folders: list[str]) -> bool:
    """Whether `path` is one of `folders` or inside one of them."""
    return any(path == folder or path.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def worth_retrying(row: cat.FileRow, path: str) -> bool:
    """A skipped file that can be read now (permissions fixed, or its HEIC or RAW extra installed)."""
    if row.status == cat.SKIPPED and extra_now_installed(row.reason):
        return True
    reason = (row.reason or "").lower()
    if row.status != cat.SKIPPED or not ("permission denied" in reason or "cannot read file" in reason):
        return False
    try:
        with open_regular(path):
            return True
    except OSError:
        return False
