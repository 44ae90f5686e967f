"""The SQLite catalogue: one row per image file, the source of truth for every vector.

The vector indexes are caches rebuilt from here; every change is a transaction (WAL mode),
so a killed process leaves either the old state or the new one. Paths are stored as the
file system's bytes, so names that are not valid UTF-8 survive the round trip.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

SCHEMA_VERSION = 1
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
    vector BLOB
);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
CREATE INDEX IF NOT EXISTS files_folder ON files(folder_id);
CREATE INDEX IF NOT EXISTS files_fingerprint ON files(fingerprint);
"""


class LibraryVersionError(RuntimeError):
    """The library was written by a newer Lookalike; it is refused rather than corrupted."""


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


def _encode(path: str) -> bytes:
    return os.fsencode(path)


def _decode(blob: bytes) -> str:
    return os.fsdecode(blob)


class Catalogue:
    """Thread-safe access to the catalogue database (one connection guarded by a lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self.transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)
            version = self.get_meta("schema_version")
            if version is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            elif int(version) > SCHEMA_VERSION:
                raise LibraryVersionError(
                    f"this library was created by a newer Lookalike (schema {version}, "
                    f"this version reads up to {SCHEMA_VERSION}); it was left untouched"
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: committed on success, rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- folders --------------------------------------------------------------------------
    def folders(self) -> dict[int, str]:
        return {fid: _decode(p) for fid, p in self._query("SELECT id, path FROM folders ORDER BY path")}

    def add_folder(self, path: str) -> int:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO folders(path) VALUES (?)", (_encode(path),))
            return db.execute("SELECT id FROM folders WHERE path = ?", (_encode(path),)).fetchone()[0]

    def remove_folder(self, path: str) -> list[int]:
        """Forget a folder and its files; returns the ids of vectors to drop from indexes."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM folders WHERE path = ?", (_encode(path),)).fetchone()
            if row is None:
                return []
            ids = [r[0] for r in db.execute("SELECT id FROM files WHERE folder_id = ?", (row[0],))]
            db.execute("DELETE FROM files WHERE folder_id = ?", (row[0],))
            db.execute("DELETE FROM folders WHERE id = ?", (row[0],))
            return ids

    # -- files ----------------------------------------------------------------------------
    def all_files(self) -> dict[str, FileRow]:
        rows = self._query(
            "SELECT id, path, folder_id, size, mtime_ns, fingerprint, status, reason FROM files"
        )
        return {_decode(r[1]): FileRow(r[0], _decode(r[1]), *r[2:]) for r in rows}

    def file_by_path(self, path: str) -> FileRow | None:
        rows = self._query(
            "SELECT id, path, folder_id, size, mtime_ns, fingerprint, status, reason FROM files WHERE path = ?",
            (_encode(path),),
        )
        return FileRow(rows[0][0], _decode(rows[0][1]), *rows[0][2:]) if rows else None

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

    def store_results(self, vectors: dict[int, np.ndarray], failures: dict[int, str]) -> list[int]:
        """Record one embedded batch atomically: vectors become indexed, failures skipped.

        Only rows still pending change (a file excluded or removed meanwhile stays so); returns
        the ids whose vectors were stored, the ones that belong in the indexes.
        """
        stored: list[int] = []
        with self.transaction() as db:
            for fid, vector in vectors.items():
                cursor = db.execute(
                    "UPDATE files SET status = 'indexed', reason = NULL, vector = ? WHERE id = ? AND status = 'pending'",
                    (np.asarray(vector, dtype=np.float32).tobytes(), fid),
                )
                if cursor.rowcount:
                    stored.append(fid)
            db.executemany(
                "UPDATE files SET status = 'skipped', reason = ?, vector = NULL WHERE id = ? AND status = 'pending'",
                [(reason, fid) for fid, reason in failures.items()],
            )
        return stored

    def set_status(self, ids: Iterable[int], status: str, reason: str | None = None) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE files SET status = ?, reason = ?, vector = NULL WHERE id = ?",
                [(status, reason, int(i)) for i in ids],
            )

    def reset_vectors(self) -> None:
        """Mark every embedded file pending again (the model changed; decode failures stay skipped)."""
        with self.transaction() as db:
            db.execute("UPDATE files SET status = 'pending', vector = NULL WHERE status = 'indexed'")

    def apply_scan(
        self,
        inserts: list[tuple[str, int, int, int, str | None, str, str | None]],
        moves: list[tuple[int, str, int, int, int]],
        deletes: list[int],
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
