"""Copy or link chosen images into a destination folder, with a manifest; originals are only read.

Safety rules, each enforced here rather than left to callers:
- nothing is ever replaced: every name is taken by link/symlink, which refuse an existing name,
  and a taken name becomes `name (2).jpg`, `name (3).jpg`, ...;
- nothing half-written appears under a final name: copies and manifests are written to a hidden
  temporary file (`.lookalike-export-*.partial`) in the same folder, synced, then hard-linked
  under their name; a killed export leaves at most such a temporary file behind;
- nothing is written outside the destination: names inside it must be relative without `..`,
  and every folder written into must resolve (real path) inside the destination, so a symlink
  there that leads outside is refused (ExportError) before anything goes through it;
- originals are opened for reading only, never moved, renamed or deleted.

Manifest columns: `path` (the original file), `exported` (the new file, relative to the
destination), `group`, `query`, `rank`, `distance`, `mode` (copy, symlink or hardlink). Names that
are not UTF-8 (any bytes are a file name on Linux) are kept losslessly: as their raw bytes in the
CSV (surrogate escapes), as `\\udcXX` escapes in the JSON.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, BinaryIO

from foundation.errors import UserError
from foundation.files import open_regular

from .progress import CancelToken, ProgressCallback, ProgressMeter

if TYPE_CHECKING:
    from .groups import Group
    from .library import SearchResult

EXPORT_MODES = ("copy", "symlink", "link")
MANIFEST_FORMATS = ("csv", "json")
MANIFEST_FIELDS = ("path", "exported", "group", "query", "rank", "distance", "mode")
MAX_NAME_ATTEMPTS = 10_000
COPY_CHUNK = 1 << 20
PARTIAL_PREFIX, PARTIAL_SUFFIX = ".lookalike-export-", ".partial"
MANIFEST_MODE = 0o644


class ExportError(UserError, ValueError):
    """The export cannot be done as asked (bad destination or a name leading outside it)."""


@dataclass(frozen=True)
class ExportItem:
    """One file to export and what it was found as (a search result or a group member)."""

    source: str
    rank: int
    distance: float
    folder: str = ""
    """Sub-folder of the destination, relative (for example `group-001`)."""
    group: int | None = None
    query: str | None = None


@dataclass(frozen=True)
class ExportedFile:
    item: ExportItem
    path: str
    """Where the file went, relative to the destination."""
    mode: str
    """How: copy, symlink or hardlink."""


@dataclass
class ExportReport:
    destination: str
    exported: list[ExportedFile] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(original, reason) for files that could not be exported; the others still were."""
    manifests: list[str] = field(default_factory=list)
    cancelled: bool = False


def items_for_results(results: Sequence[SearchResult], query: str | None = None) -> list[ExportItem]:
    """Export items for a search result list (rank and distance to the query kept)."""
    return [ExportItem(r.path, r.rank, r.distance, query=query) for r in results]


def items_for_groups(groups: Sequence[Group]) -> list[ExportItem]:
    """One sub-folder per group (`group-001`, ...), the representative as rank 1."""
    return [
        ExportItem(member.path, rank, member.distance, folder=f"group-{group.id:03d}", group=group.id)
        for group in groups
        for rank, member in enumerate(group.members, 1)
    ]


def export_files(
    items: Sequence[ExportItem],
    destination: str | os.PathLike,
    mode: str = "copy",
    *,
    structure_roots: Sequence[str] | None = None,
    numbered: bool = False,
    manifests: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportReport:
    """Export `items` into `destination` (created if needed) and write the requested manifests.

    `mode`: copy, symlink, or link (a hard link where the file system allows it, else a symlink).
    `structure_roots`: re-create each file's folders below the deepest of these that holds it.
    `numbered`: prefix names with the rank (`01-name.jpg`) so a file browser lists them in order.
    Files that cannot be read are listed in `failed`; a cancelled export keeps what it wrote and
    still writes its manifests.
    """
    if mode not in EXPORT_MODES:
        raise ExportError(f"unknown export mode {mode!r}; choose one of: {', '.join(EXPORT_MODES)}")
    for kind in manifests:
        if kind not in MANIFEST_FORMATS:
            raise ExportError(f"unknown manifest format {kind!r}; choose csv or json")
    width = max(2, len(str(max((item.rank for item in items), default=1))))
    plans = [(item, _relative_target(item, structure_roots, numbered, width)) for item in items]
    root = _prepare_destination(destination)
    for folder in sorted({relative.parent for _, relative in plans}):
        _existing_parts_inside(root, folder)
    report = ExportReport(str(root))
    meter = ProgressMeter("exporting", len(plans), progress)
    meter.report()
    for item, relative in plans:
        if cancel is not None and cancel.cancelled:
            report.cancelled = True
            break
        directory = _make_folders(root, relative.parent)
        try:
            target, used = _place(item.source, directory, relative.name, mode)
        except OSError as exc:
            report.failed.append((item.source, exc.strerror or str(exc)))
        else:
            report.exported.append(ExportedFile(item, target.relative_to(root).as_posix(), used))
        meter.advance()
    for kind in dict.fromkeys(manifests):
        try:
            report.manifests.append(str(_write_manifest(root, kind, report.exported)))
        except OSError as exc:
            raise ExportError(
                f"exported {len(report.exported)} files to {root} but could not write "
                f"manifest.{kind}: {exc.strerror or exc}"
            ) from None
    return report


def _prepare_destination(destination: str | os.PathLike) -> Path:
    folder = Path(destination).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"the destination is not a folder: {folder}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the destination {folder}: {exc.strerror or exc}") from None
    root = Path(os.path.realpath(folder))
    try:  # a read-only or full destination is said once, before anything is tried
        with _staged(root, lambda handle: None):
            pass
    except OSError as exc:
        raise ExportError(f"cannot write into the destination {root}: {exc.strerror or exc}") from None
    return root


def _relative_target(item: ExportItem, roots: Sequence[str] | None, numbered: bool, width: int) -> PurePath:
    """The file's path inside the destination: folder, kept structure, (numbered) name."""
    folder = _safe_relative(item.folder)
    source = os.path.abspath(item.source)
    if roots is not None:
        folder = folder / _structure(source, roots)
    name = os.path.basename(source)
    if not name or name in (".", ".."):
        raise ExportError(f"not a file name: {item.source}")
    if numbered:
        name = f"{item.rank:0{width}d}-{name}"
    return folder / name


def _safe_relative(text: str) -> PurePath:
    path = PurePath(text)
    if path.anchor or ".." in path.parts or "\0" in text:
        raise ExportError(f"refusing the folder name {text!r}: it must stay inside the destination")
    return path


def _structure(source: str, roots: Sequence[str]) -> PurePath:
    """The folders between the deepest root holding `source` and the file (none when no root holds it)."""
    holders = [os.path.abspath(r) for r in roots if _is_within(source, os.path.abspath(r))]
    if not holders:
        return PurePath()
    relative = os.path.relpath(os.path.dirname(source), max(holders, key=len))
    return PurePath() if relative == os.curdir else _safe_relative(relative)


def _is_within(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives on Windows
        return False


def _check_inside(root: Path, path: Path) -> None:
    if not _is_within(os.path.realpath(path), str(root)):
        raise ExportError(f"refusing to write through {path}: it leads outside {root}")


def _existing_parts_inside(root: Path, folder: PurePath) -> None:
    """Before anything is written: every existing step of `folder` must stay inside `root`."""
    current = root
    for part in folder.parts:
        current = current / part
        if not os.path.lexists(current):
            return
        _check_inside(root, current)


def _make_folders(root: Path, folder: PurePath) -> Path:
    """Create `folder` below `root` one step at a time, checking each step resolves inside it."""
    current = root
    for part in folder.parts:
        current = current / part
        try:
            current.mkdir()
        except FileExistsError:
            _check_inside(root, current)
            if not current.is_dir():
                raise ExportError(f"cannot export into {current}: a file of that name exists") from None
        except OSError as exc:
            raise ExportError(f"cannot create the folder {current}: {exc.strerror or exc}") from None
    _check_inside(root, current)
    return current


def _candidate_names(name: str) -> Iterator[str]:
    stem, suffix = os.path.splitext(name)
    yield name
    for n in range(2, MAX_NAME_ATTEMPTS):
        yield f"{stem} ({n}){suffix}"


def _place(source: str, directory: Path, name: str, mode: str) -> tuple[Path, str]:
    """Create the export of `source` under the first free variant of `name`; returns (path, mode used)."""
    if not os.path.isfile(source):
        raise FileNotFoundError(2, "the original is gone or not a file", source)
    if mode == "link":
        try:
            return _first_free(directory, name, lambda target: os.link(source, target)), "hardlink"
        except ExportError:
            raise
        except (OSError, AttributeError, NotImplementedError):  # another drive, or no hard links here
            mode = "symlink"
    if mode == "symlink":
        real = os.path.realpath(source)
        return _first_free(directory, name, lambda target: os.symlink(real, target)), "symlink"
    with (
        open_regular(source) as original,  # never waits on a pipe put in the photo's place
        _staged(directory, lambda handle: shutil.copyfileobj(original, handle, COPY_CHUNK)) as staged,
    ):
        shutil.copystat(source, staged)
        return _first_free(directory, name, lambda target: _publish(staged, target)), "copy"


def _first_free(directory: Path, name: str, create: Callable[[Path], None]) -> Path:
    """Call `create` on `name`, then `name (2)`, ... until one is free (FileExistsError means taken)."""
    for candidate in _candidate_names(name):
        target = directory / candidate
        try:
            create(target)
        except FileExistsError:
            continue
        return target
    raise ExportError(f"no free name for {name} in {directory}")


@contextmanager
def _staged(directory: Path, write: Callable[[BinaryIO], object]) -> Iterator[Path]:
    """A hidden temporary file in `directory` holding what `write` wrote, synced; removed on exit
    (its content lives on under the names `_publish` gave it)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        yield staged
    finally:
        staged.unlink(missing_ok=True)


def _publish(staged: Path, target: Path) -> None:
    """Give the finished file `staged` the name `target`, never replacing a file there
    (FileExistsError when the name is taken)."""
    try:
        os.link(staged, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system (FAT, some shares): take the name, then fill it
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
        try:
            os.replace(staged, target)
        except OSError:
            target.unlink(missing_ok=True)  # the empty file is ours: no name is left holding nothing
            raise


def _manifest_rows(exported: Sequence[ExportedFile]) -> list[dict]:
    return [
        {
            "path": os.path.abspath(f.item.source),
            "exported": f.path,
            "group": f.item.group,
            "query": f.item.query,
            "rank": f.item.rank,
            "distance": f.item.distance,
            "mode": f.mode,
        }
        for f in exported
    ]


def _write_manifest(root: Path, kind: str, exported: Sequence[ExportedFile]) -> Path:
    rows = _manifest_rows(exported)
    if kind == "json":
        data = json.dumps({"destination": str(root), "files": rows}, indent=1).encode()
    else:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        data = text.getvalue().encode("utf-8", "surrogateescape")  # a name's own bytes, whatever they are
    with _staged(root, lambda handle: handle.write(data)) as staged:
        os.chmod(staged, MANIFEST_MODE)
        return _first_free(root, f"manifest.{kind}", lambda target: _publish(staged, target))
