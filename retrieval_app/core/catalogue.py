"""The SQLite catalogue: one row per image file, the source of truth for every vector.

The vector indexes are caches rebuilt from here; every change is a transaction (WAL mode),
so a killed process leaves either the old state or the new one. Paths are stored as the
file system's bytes, so names that are not valid UTF-8 survive the round trip.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.atomicio import atomic_write_bytes
from foundation.errors import UserError

SCHEMA_VERSION = 2  # 2: files.model, the fingerprint of the model that made a vector or a skip
PENDING, INDEXED, SKIPPED, EXCLUDED = "pending", "indexed", "skipped", "excluded"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (id INTEGER PRIMARY KEY, path BLOB UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path BLOB UNIQUE NOT NULL,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    fingerprint TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'skipped', 'excluded')),
    reason TEXT,
    vector BLOB,
    model TEXT
);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
CREATE INDEX IF NOT EXISTS files_folder ON files(folder_id);
CREATE INDEX IF NOT EXISTS files_fingerprint ON files(fingerprint);
"""


READ_BATCH = 4096  # vectors read at a time by those who read them all (reconcile, fits)
# Meta keys copied into the recovery file beside the database, with the folder list, so that a
# catalogue that is lost or damaged can be rebuilt from the photo folders (`check --repair`).
RECOVERY_KEYS = ("model_spec", "image_size", "learned_metric")


class CatalogueError(UserError, RuntimeError):
    """The catalogue cannot be used as it is; the message says why and what to do."""


class LibraryVersionError(CatalogueError):
    """The library was written by a newer Lookalike; it is refused rather than corrupted."""


class CatalogueDamagedError(CatalogueError):
    """The database file is damaged (not a database, or a malformed page)."""


class ModelChangedError(CatalogueError):
    """Vectors were about to be stored for a model that is no longer the library's."""


@dataclass(frozen=True)
class FileRow:
    id: int
    path: str
    folder_id: int
    size: int
    mtime_ns: int
    fingerprint: str | None
    status: str
    reason: str | None
    model: str | None = None  # fingerprint of the model that made the vector or the skip


_ROW = "id, path, folder_id, size, mtime_ns, fingerprint, status, reason, model"


def _encode(path: str) -> bytes:
    return os.fsencode(path)


def _decode(blob: bytes) -> str:
    return os.fsdecode(blob)


def _row(r: tuple) -> FileRow:
    return FileRow(r[0], _decode(r[1]), *r[2:])


def recovery_path(path: str | os.PathLike) -> Path:
    """The recovery file of the catalogue at `path`: its folders and model, in JSON."""
    return Path(path).with_suffix(".recovery.json")


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether an SQLite error means the file itself is damaged (not busy, not full)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(exc)
    return "malformed" in text or "not a database" in text


@contextmanager
def _damage_reported(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        raise CatalogueDamagedError(
            f"the catalogue {path} is damaged ({exc}); `lookalike check --repair` rebuilds it "
            "from your photo folders and keeps what can still be read"
        ) from None


class Catalogue:
    """Thread-safe access to the catalogue database (one connection guarded by a lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            with _damage_reported(path):
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
            with self.transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                version = self.get_meta("schema_version")
                if version is not None and int(version) > SCHEMA_VERSION:
                    raise LibraryVersionError(
                        f"this library was created by a newer Lookalike (schema {version}, "
                        f"this version reads up to {SCHEMA_VERSION}); it was left untouched"
                    )
                if version is not None and int(version) < 2:
                    self._add_model_column()
                if version != str(SCHEMA_VERSION):
                    self.set_meta("schema_version", str(SCHEMA_VERSION))
        except BaseException:
            self._db.close()
            raise
        if not recovery_path(path).exists():  # a library made before recovery files: one now
            self._write_recovery()

    def _add_model_column(self) -> None:
        """Schema 1 to 2: vectors and model-made skips are taken to be the library's model's."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(files)")}
        if "model" not in columns:
            self._db.execute("ALTER TABLE files ADD COLUMN model TEXT")
        self._db.execute(
            "UPDATE files SET model = (SELECT value FROM meta WHERE key = 'model_fingerprint') "
            "WHERE status = 'indexed' OR (status = 'skipped' AND reason LIKE 'could not be prepared%')"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: committed on success, rolled back on any error."""
        with self._lock, _damage_reported(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse even this
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock, _damage_reported(self.path):
            return self._db.execute(sql, params).fetchall()

    # -- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, _damage_reported(self.path):
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
        if key in RECOVERY_KEYS:
            self._write_recovery()

    def _write_recovery(self) -> None:
        """Copy the folders and the model beside the database: all `check --repair` needs to
        rebuild a lost catalogue from the photo folders. Best effort: the catalogue stays the truth."""
        meta = {key: self.get_meta(key) for key in RECOVERY_KEYS}
        state = {"folders": list(self.folders().values()), "meta": meta}
        with contextlib.suppress(OSError):  # non-UTF-8 names survive as \udcXX escapes
            atomic_write_bytes(recovery_path(self.path), json.dumps(state).encode())

    # -- folders --------------------------------------------------------------------------
    def folders(self) -> dict[int, str]:
        return {fid: _decode(p) for fid, p in self._query("SELECT id, path FROM folders ORDER BY path")}

    def add_folder(self, path: str) -> int:
        with self.transaction() as db:
            added = db.execute("INSERT OR IGNORE INTO folders(path) VALUES (?)", (_encode(path),)).rowcount
            folder_id = db.execute("SELECT id FROM folders WHERE path = ?", (_encode(path),)).fetchone()[0]
        if added:
            self._write_recovery()
        return folder_id

    def remove_folder(self, path: str) -> list[int]:
        """Forget a folder and its files; returns the ids of vectors to drop from indexes."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM folders WHERE path = ?", (_encode(path),)).fetchone()
            if row is None:
                return []
            ids = [r[0] for r in db.execute("SELECT id FROM files WHERE folder_id = ?", (row[0],))]
            db.execute("DELETE FROM files WHERE folder_id = ?", (row[0],))
            db.execute("DELETE FROM folders WHERE id = ?", (row[0],))
        self._write_recovery()
        return ids

    # -- files ----------------------------------------------------------------------------
    def all_files(self) -> dict[str, FileRow]:
        return {row.path: row for row in map(_row, self._query(f"SELECT {_ROW} FROM files"))}

    def file_by_path(self, path: str) -> FileRow | None:
        rows = self._query(f"SELECT {_ROW} FROM files WHERE path = ?", (_encode(path),))
        return _row(rows[0]) if rows else None

    def paths_for(self, ids: Iterable[int]) -> dict[int, str]:
        ids = [int(i) for i in ids]
        result: dict[int, str] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for fid, path in self._query(f"SELECT id, path FROM files WHERE id IN ({marks})", chunk):
                result[fid] = _decode(path)
        return result

    def pending(self, limit: int | None = None) -> list[tuple[int, str]]:
        sql = "SELECT id, path FROM files WHERE status = 'pending' ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [(fid, _decode(p)) for fid, p in self._query(sql)]

    def indexed_ids(self) -> np.ndarray:
        rows = self._query("SELECT id FROM files WHERE status = 'indexed' ORDER BY id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 matrix) of indexed vectors, all of them or those in `ids`."""
        if ids is None:
            rows = self._query("SELECT id, vector FROM files WHERE status = 'indexed' ORDER BY id")
        else:
            rows = []
            ids = [int(i) for i in ids]
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows += self._query(
                    f"SELECT id, vector FROM files WHERE status = 'indexed' AND id IN ({marks})", chunk
                )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        out_ids = np.array([r[0] for r in rows], dtype=np.int64)
        matrix = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        return out_ids, matrix

    def vectors_in_batches(self, ids: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`vectors(ids)` READ_BATCH ids at a time, so reading them all never holds every row at once."""
        for start in range(0, len(ids), READ_BATCH):
            yield self.vectors(ids[start : start + READ_BATCH])

    def skipped(self) -> list[tuple[str, str]]:
        rows = self._query("SELECT path, reason FROM files WHERE status = 'skipped' ORDER BY path")
        return [(_decode(p), r or "") for p, r in rows]

    def counts_by_folder(self) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}
        for folder_id, status, n in self._query(
            "SELECT folder_id, status, COUNT(*) FROM files GROUP BY folder_id, status"
        ):
            counts.setdefault(folder_id, {})[status] = n
        return counts

    def store_results(
        self, vectors: dict[int, np.ndarray], failures: dict[int, str], model: str
    ) -> list[int]:
        """Record one batch made by the model with fingerprint `model` atomically: vectors become
        indexed, failures skipped, each row tagged with `model`.

        Only rows still pending change (a file excluded or removed meanwhile stays so); returns
        the ids whose vectors were stored, the ones that belong in the indexes. Refuses the whole
        batch (ModelChangedError) when `model` is no longer the library's model, checked inside
        the same transaction, so no process can ever mix two models' vectors.
        """
        stored: list[int] = []
        with self.transaction() as db:
            current = db.execute("SELECT value FROM meta WHERE key = 'model_fingerprint'").fetchone()
            if current is None or current[0] != model:
                raise ModelChangedError(
                    "the library's model was changed while these images were embedded; their "
                    "vectors were not kept: run `lookalike index` again"
                )
            for fid, vector in vectors.items():
                cursor = db.execute(
                    "UPDATE files SET status = 'indexed', reason = NULL, vector = ?, model = ? "
                    "WHERE id = ? AND status = 'pending'",
                    (np.asarray(vector, dtype=np.float32).tobytes(), model, fid),
                )
                if cursor.rowcount:
                    stored.append(fid)
            db.executemany(
                "UPDATE files SET status = 'skipped', reason = ?, vector = NULL, model = ? "
                "WHERE id = ? AND status = 'pending'",
                [(reason, model, fid) for fid, reason in failures.items()],
            )
        return stored

    def set_status(self, ids: Iterable[int], status: str, reason: str | None = None) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE files SET status = ?, reason = ?, vector = NULL, model = NULL WHERE id = ?",
                [(status, reason, int(i)) for i in ids],
            )

    def reset_vectors(self, model: str) -> None:
        """Make `model` the library's model: in one transaction, every embedded file and every
        file the old model skipped is pending again (files skipped before any model, such as
        broken links, stay skipped)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE files SET status = 'pending', reason = NULL, vector = NULL, model = NULL "
                "WHERE status = 'indexed' OR (status = 'skipped' AND model IS NOT NULL)"
            )
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('model_fingerprint', ?)", (model,))

    def foreign_vectors(self, model: str, dim: int | None = None) -> list[int]:
        """Ids of indexed files whose vector was not made by `model` (or by no known model), or,
        given `dim`, is not `dim` numbers long."""
        rows = self._query(
            "SELECT id FROM files WHERE status = 'indexed' "
            "AND (model IS NULL OR model != ? OR (? IS NOT NULL AND length(vector) != ?)) ORDER BY id",
            (model, dim, None if dim is None else 4 * dim),
        )
        return [r[0] for r in rows]

    def vector_dims(self) -> dict[int, int]:
        """How many stored vectors have each length: one length in a sound library."""
        rows = self._query(
            "SELECT length(vector), COUNT(*) FROM files WHERE status = 'indexed' GROUP BY length(vector)"
        )
        return {int(length or 0) // 4: int(count) for length, count in rows}

    def apply_scan(
        self,
        inserts: Sequence[tuple[str, int, int, int, str | None, str, str | None]],
        moves: Sequence[tuple[int, str, int, int, int]],
        deletes: Sequence[int],
    ) -> None:
        """Apply a scan's differences in a single transaction.

        inserts: (path, folder_id, size, mtime_ns, fingerprint, status, reason);
        moves: (id, new path, folder_id, size, mtime_ns).
        """
        with self.transaction() as db:
            db.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in deletes])
            db.executemany(
                "UPDATE files SET path = ?, folder_id = ?, size = ?, mtime_ns = ? WHERE id = ?",
                [(_encode(p), f, s, m, i) for i, p, f, s, m in moves],
            )
            db.executemany(
                "INSERT INTO files(path, folder_id, size, mtime_ns, fingerprint, status, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(_encode(p), f, s, m, fp, st, r) for p, f, s, m, fp, st, r in inserts],
            )
