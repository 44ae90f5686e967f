"""Rebuild a lost or damaged catalogue: keep every row that can still be read, the folders do the rest.

The damaged file is moved aside, never deleted. Rows are read in id ranges, and a range that
hits a damaged page is read again one id at a time, so one bad page costs only its own rows.
The folder list and the model also live in the recovery file beside the catalogue, so a
catalogue that is gone entirely still knows which folders to rescan. The indexes are deleted:
they are caches whose ids could now name other files, and are rebuilt from the new catalogue.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import catalogue as cat
from .catalogue import Catalogue
from .lock import LibraryLock

CHUNK = 1000
MAX_ROW_ID = 50_000_000  # a larger "largest id" comes from a damaged page
STATUSES = frozenset({cat.PENDING, cat.INDEXED, cat.SKIPPED, cat.EXCLUDED})


@dataclass
class SalvageReport:
    """What a rebuild kept: folders, file rows and vectors, and where the damaged file went."""

    damaged_copy: Path | None = None
    folders: list[str] = field(default_factory=list)
    files: int = 0
    vectors: int = 0


def rebuild_catalogue(root: str | os.PathLike) -> SalvageReport:
    """Replace `root`'s catalogue by a sound one holding what can be read of it; writer only."""
    root = Path(root)
    database = root / "catalogue.sqlite"
    report = SalvageReport()
    with LibraryLock(root):
        meta: dict[str, str] = {}
        folders: list[str] = []
        files: list[tuple] = []
        if database.exists():
            report.damaged_copy = _move_aside(database)
            meta, folders, files = _read_damaged(report.damaged_copy)
        recovery = _read_recovery(cat.recovery_path(database))
        for key, value in recovery.get("meta", {}).items():
            if value is not None:
                meta.setdefault(key, value)
        folders = sorted(set(folders) | set(recovery.get("folders", [])))
        _write_new(database, meta, folders, files, report)
        for stale in (root / "indexes").glob("*"):
            if stale.is_file():
                stale.unlink()
    return report


def _move_aside(database: Path) -> Path:
    """Rename the damaged database (and its WAL and shared-memory files) to a name of its own."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = database.with_name(f"catalogue.damaged-{stamp}.sqlite")
    number = 1
    while aside.exists():
        number += 1
        aside = database.with_name(f"catalogue.damaged-{stamp}-{number}.sqlite")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{database}{suffix}")
        if source.exists():
            os.replace(source, f"{aside}{suffix}")
    return aside


def _read_recovery(path: Path) -> dict:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _read_damaged(path: Path) -> tuple[dict[str, str], list[str], list[tuple]]:
    """Whatever can be read of meta, folders and files; nothing at all from a non-database."""
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error:
        return {}, [], []
    try:
        meta = dict(_readable(db, "SELECT key, value FROM meta"))
        folders = [os.fsdecode(p) for (p,) in _readable(db, "SELECT path FROM folders") if p]
        columns = {row[1] for row in _readable(db, "PRAGMA table_info(files)")}
        if not columns:
            return meta, folders, []
        wanted = "id, path, size, mtime_ns, fingerprint, status, reason, vector"
        if "model" in columns:
            return meta, folders, _rows_by_id(db, f"{wanted}, model")
        return meta, folders, [(*r, None) for r in _rows_by_id(db, wanted)]  # schema 1: no model column
    finally:
        db.close()


def _readable(db: sqlite3.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of `sql` up to the first damaged page."""
    rows: list[tuple] = []
    with contextlib.suppress(sqlite3.DatabaseError):  # damaged page, missing table, not a database
        for row in db.execute(sql, params):
            rows.append(row)
    return rows


def _rows_by_id(db: sqlite3.Connection, columns: str) -> list[tuple]:
    """Every readable row of `files`, by id range; a damaged range is retried id by id."""
    sql = f"SELECT {columns} FROM files WHERE id BETWEEN ? AND ?"
    try:
        top = int(db.execute("SELECT max(id) FROM files").fetchone()[0] or 0)
    except sqlite3.DatabaseError:
        top = MAX_ROW_ID + 1
    if top > MAX_ROW_ID:  # the largest id cannot be read (or believed): read up to the damage
        return _readable(db, f"SELECT {columns} FROM files ORDER BY id")
    rows: list[tuple] = []
    for start in range(1, top + 1, CHUNK):
        try:
            rows += db.execute(sql, (start, start + CHUNK - 1)).fetchall()
        except sqlite3.DatabaseError:
            for one in range(start, start + CHUNK):
                rows += _readable(db, sql, (one, one))
    return rows


def _write_new(
    database: Path, meta: dict[str, str], folders: list[str], files: list[tuple], report: SalvageReport
) -> None:
    """A new catalogue with the kept meta, folders and file rows (ids kept, vectors checked)."""
    dims = Counter(len(r[7]) for r in files if r[5] == cat.INDEXED and isinstance(r[7], bytes) and r[7])
    vector_bytes = dims.most_common(1)[0][0] if dims else 0
    catalogue = Catalogue(str(database))
    try:
        folder_ids = {folder: catalogue.add_folder(folder) for folder in folders}
        for key, value in meta.items():
            if key != "schema_version":
                catalogue.set_meta(key, str(value))
        rows = []
        for fid, path, size, mtime_ns, digest, status, reason, vector, model in files:
            name = os.fsdecode(path) if isinstance(path, bytes) else str(path)
            folder_id = _folder_of(name, folder_ids)
            if folder_id is None or status not in STATUSES:
                continue
            if status == cat.INDEXED and not (isinstance(vector, bytes) and len(vector) == vector_bytes):
                status, reason, vector, model = cat.PENDING, None, None, None
            if status == cat.INDEXED and model is None:
                model = meta.get("model_fingerprint")
            rows.append(
                (fid, os.fsencode(name), folder_id, size, mtime_ns, digest, status, reason, vector, model)
            )
        with catalogue.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO files(id, path, folder_id, size, mtime_ns, fingerprint, status, "
                "reason, vector, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        report.folders = folders
        report.files = len(catalogue.all_files())
        report.vectors = len(catalogue.indexed_ids())
    finally:
        with contextlib.suppress(sqlite3.Error):
            catalogue.close()


def _folder_of(path: str, folder_ids: dict[str, int]) -> int | None:
    """The id of the deepest library folder holding `path`, if any."""
    best: tuple[int, int] | None = None
    for folder, folder_id in folder_ids.items():
        if path.startswith(folder.rstrip(os.sep) + os.sep) and (best is None or len(folder) > best[0]):
            best = (len(folder), folder_id)
    return best[1] if best else None
