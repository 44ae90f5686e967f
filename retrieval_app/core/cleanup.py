"""Clean-up of similar sets: move the copies a person does not keep to the system trash, with undo.

Safety, in order:
1. a plan names every file to move, its set and its keeper (`plan_cleanup`);
2. before anything moves, every file is checked to lie inside a library folder, to be unchanged
   since indexing (size and modification time as catalogued), its keeper too, and every file's
   trash to be usable: a missing trash stops the whole clean-up with nothing moved;
3. the journal (`<library>/cleanups/*.jsonl`) is written before the first move: the plan with
   each file's content hash, catalogue row and vector, then one line before ("moving") and one
   after ("moved", with where it went) each move, flushed at once, so a clean-up killed at any
   point leaves a journal that says what may have moved;
4. moved files leave the catalogue and the indexes at once, without re-embedding anything.

`undo_cleanup` reads a journal and puts every file back where it was, checking the bytes by
their hash (a file never moved, or already back, counts as restored), and the catalogue takes
the files back with the vectors they had. Nothing is ever deleted permanently.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from foundation.errors import UserError
from foundation.files import is_inside

from .progress import CancelToken, ProgressCallback, ProgressMeter
from .set_review import ReviewedSet
from .tiers import TIERS, content_hash
from .trash import FREEDESKTOP, TrashUnavailableError, entries_for, move_to_trash, restore, trash_for

if TYPE_CHECKING:
    from .library import Library

JOURNALS = "cleanups"
FORGET_BATCH = 200


class CleanupError(UserError, RuntimeError):
    """A clean-up or its undo cannot go ahead as asked; the message says why."""


@dataclass(frozen=True)
class PlannedMove:
    file_id: int
    path: str
    set_id: int
    keeper: str
    tier: str


@dataclass
class CleanupReport:
    journal: Path
    moved: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0


@dataclass
class UndoReport:
    journal: Path
    restored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class JournalSummary:
    path: Path
    created: float
    files: int
    moved: int
    undone: bool


def plan_cleanup(sets: Sequence[ReviewedSet], tiers: Collection[str] = TIERS) -> list[PlannedMove]:
    """Every removable member of `sets` whose tier is one of `tiers`, with its set and keeper."""
    return [PlannedMove(m.id, m.path, s.id, s.keeper.path, m.tier) for s in sets for m in s.to_remove(tiers)]


def clean_up(
    library: Library,
    plan: Sequence[PlannedMove],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CleanupReport:
    """Move the planned files to the trash, journalled; raises TrashUnavailableError (nothing moved)
    when a file's trash cannot be used."""
    start = time.perf_counter()
    entries, skipped = _checked_entries(library, plan)
    journal = _journal_path(library)
    report = CleanupReport(journal, skipped=skipped)
    if not entries:
        report.seconds = time.perf_counter() - start
        return report
    meter = ProgressMeter("moving to the trash", len(entries), progress, unit="file")
    meter.report()
    with open(journal, "x", encoding="utf-8") as log:
        _write(log, {"event": "plan", "created": time.time(), "entries": entries}, sync=True)
        forget: list[int] = []
        ended = "stopped by an error"
        try:
            for entry in entries:
                if cancel is not None and cancel.cancelled:
                    report.cancelled = True
                    break
                reason = _changed(entry["path"], entry) or _changed(entry["keeper"], entry["keeper_row"])
                if reason:
                    report.skipped.append((entry["path"], reason))
                    continue
                _write(log, {"event": "moving", "path": entry["path"]})
                try:
                    trashed = move_to_trash(entry["path"])
                except (OSError, TrashUnavailableError) as exc:
                    _write(log, {"event": "failed", "path": entry["path"], "reason": str(exc)})
                    report.skipped.append((entry["path"], f"could not be moved ({exc})"))
                    continue
                _write(log, {"event": "moved", "path": entry["path"], "trash": trashed})
                report.moved.append(entry["path"])
                forget.append(entry["file_id"])
                if len(forget) >= FORGET_BATCH:
                    library.forget_files(forget)
                    forget = []
                meter.advance()
            ended = "cancelled" if report.cancelled else "finished"
        finally:  # whatever stopped the loop, the catalogue and the journal say what moved
            library.forget_files(forget)
            _write(log, {"event": ended}, sync=True)
    report.seconds = time.perf_counter() - start
    return report


def _checked_entries(
    library: Library, plan: Sequence[PlannedMove]
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Journal entries for the planned files that may move, and (path, reason) for the others.

    Raises TrashUnavailableError before anything moves when a file's trash is unusable."""
    folders = library.folders()
    rows = library.catalogue.all_files()
    ids, matrix = library.catalogue.vectors(sorted({p.file_id for p in plan}))
    vectors = {int(i): v for i, v in zip(ids, matrix, strict=True)}
    model = library.catalogue.get_meta("model_fingerprint") or ""
    entries, skipped = [], []
    checked_trash: set[str] = set()
    for move in plan:
        row, keeper = rows.get(move.path), rows.get(move.keeper)
        if not any(is_inside(move.path, folder) for folder in folders):
            skipped.append((move.path, "not inside a library folder"))
            continue
        if row is None or keeper is None or move.path == move.keeper:
            skipped.append((move.path, "no longer in the catalogue (run `lookalike index`)"))
            continue
        keeper_row = {"size": keeper.size, "mtime_ns": keeper.mtime_ns}
        entry: dict = {
            "file_id": row.id,
            "path": move.path,
            "set": move.set_id,
            "keeper": move.keeper,
            "tier": move.tier,
            "size": row.size,
            "mtime_ns": row.mtime_ns,
            "fingerprint": row.fingerprint,
            "model": model,
            "keeper_row": keeper_row,
        }
        reason = _changed(move.path, entry) or _changed(move.keeper, keeper_row)
        if reason:
            skipped.append((move.path, reason))
            continue
        if FREEDESKTOP:
            folder = os.path.dirname(move.path)
            if folder not in checked_trash:
                trash_for(move.path)  # raises TrashUnavailableError: nothing has moved yet
                checked_trash.add(folder)
        try:
            entry["hash"] = content_hash(move.path)
        except OSError as exc:
            skipped.append((move.path, f"cannot be read ({exc.strerror})"))
            continue
        vector = vectors.get(row.id)
        entry["vector"] = (
            base64.b64encode(vector.astype("<f4").tobytes()).decode() if vector is not None else None
        )
        entries.append(entry)
    return entries, skipped


def _changed(path: str, row: dict) -> str | None:
    """Why `path` may not be trusted now (vanished, or changed since it was indexed), else None."""
    try:
        info = os.stat(path)
    except OSError:
        return f"{os.path.basename(path)} vanished since indexing"
    if info.st_size != row["size"] or info.st_mtime_ns != row["mtime_ns"]:
        return f"{os.path.basename(path)} changed since indexing (run `lookalike index`)"
    return None


def _journal_path(library: Library) -> Path:
    folder = Path(library.root) / JOURNALS
    folder.mkdir(exist_ok=True)
    return folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl"


def _write(log, record: dict, sync: bool = False) -> None:  # noqa: ANN001 - a text file
    log.write(json.dumps(record) + "\n")
    log.flush()
    if sync:
        os.fsync(log.fileno())


def _read(journal: Path) -> list[dict]:
    """The journal's records; a last line cut short by a kill is ignored."""
    records = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    return records


def journals(library: Library) -> list[JournalSummary]:
    """Every clean-up of the library, newest first."""
    folder = Path(library.root) / JOURNALS
    found = []
    for path in sorted(folder.glob("*.jsonl"), reverse=True) if folder.is_dir() else []:
        records = _read(path)
        if not records or records[0].get("event") != "plan":
            continue
        moved = sum(1 for r in records if r.get("event") == "moved")
        undone = any(r.get("event") == "undone" for r in records)
        found.append(JournalSummary(path, records[0]["created"], len(records[0]["entries"]), moved, undone))
    return found


def undo_cleanup(library: Library, journal: Path | None = None) -> UndoReport:
    """Put back every file a clean-up moved (the latest not yet undone, or `journal`)."""
    if journal is None:
        pending = [j for j in journals(library) if not j.undone]
        if not pending:
            raise CleanupError("no clean-up to undo")
        journal = pending[0].path
    records = _read(Path(journal))
    if not records or records[0].get("event") != "plan":
        raise CleanupError(f"not a clean-up journal: {journal}")
    report = UndoReport(Path(journal))
    trashed = {r["path"]: r.get("trash") for r in records if r.get("event") == "moved"}
    attempted = {r["path"] for r in records if r.get("event") == "moving"}
    restored = {r["path"] for r in records if r.get("event") == "restored"}
    back: list[dict] = []
    with open(journal, "a", encoding="utf-8") as log:
        for entry in records[0]["entries"]:
            path = entry["path"]
            if path not in attempted or path in restored:
                continue
            failure = _put_back(entry, trashed.get(path))
            if failure:
                report.failed.append((path, failure))
                continue
            _write(log, {"event": "restored", "path": path})
            report.restored.append(path)
            back.append(entry)
        library.restore_files([_catalogue_row(entry) for entry in back])
        if not report.failed:
            _write(log, {"event": "undone", "at": time.time()}, sync=True)
    return report


def _put_back(entry: dict, trashed: str | None) -> str | None:
    """Restore one file; None on success (or when it is already in place), else why not."""
    path = entry["path"]
    if os.path.exists(path):
        return None if _hash_or_none(path) == entry["hash"] else f"another file now sits at {path}"
    candidates = [Path(trashed)] if trashed and os.path.exists(trashed) else []
    if not candidates and FREEDESKTOP:
        try:
            candidates = list(reversed(entries_for(trash_for(_existing_ancestor(path)), path)))
        except (TrashUnavailableError, OSError):
            candidates = []
    for candidate in candidates:
        if _hash_or_none(str(candidate)) == entry["hash"]:
            try:
                restore(candidate, path)
            except OSError as exc:
                return f"could not be put back ({exc})"
            return None
    return "not found in the trash (emptied, or restored elsewhere)"


def _existing_ancestor(path: str) -> str:
    """The nearest folder above `path` that exists (on the drive whose trash holds the file)."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    return folder


def _hash_or_none(path: str) -> str | None:
    try:
        return content_hash(path)
    except OSError:
        return None


def _catalogue_row(entry: dict) -> tuple[str, int, int, str | None, np.ndarray | None, str]:
    """What `Library.restore_files` needs, the file's size and time as they are now (restored)."""
    info = os.stat(entry["path"])
    vector = np.frombuffer(base64.b64decode(entry["vector"]), dtype="<f4") if entry.get("vector") else None
    return (
        entry["path"],
        info.st_size,
        info.st_mtime_ns,
        entry["fingerprint"],
        vector,
        entry.get("model", ""),
    )
