"""Decisions about similar sets that stick: "not similar" and "keep all", stored in the catalogue.

A decision names files by their content fingerprint (the one the scan uses to follow a file that
was moved or renamed), so it survives rescans, renames and moves; it lives in its own table of
the catalogue database, created when first needed (older libraries simply gain it, and a
library without it reads as having no decisions).

- `not similar`: the first file is not similar to any of the others; sets are split so that no
  set holds such a pair (a pair, or one member split out of a set).
- `keep all`: every file of a set is wanted; a set made only of these files is not proposed
  for clean-up (a new member joining it brings the set back).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from foundation.errors import InputError

from .catalogue import Catalogue

NOT_SIMILAR, KEEP_ALL = "not_similar", "keep_all"
KINDS = (NOT_SIMILAR, KEEP_ALL)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS set_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('not_similar', 'keep_all')),
    fingerprints TEXT NOT NULL,
    paths TEXT NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Decision:
    id: int
    kind: str
    fingerprints: tuple[str, ...]
    paths: tuple[str, ...]
    """The files' paths when the decision was made (for people; fingerprints are what count)."""
    created: float


class Decisions:
    """The decisions table of one catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        with catalogue.transaction() as db:
            db.execute(_SCHEMA)

    def _fingerprints(self, ids: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        with self.catalogue.transaction() as db:
            for start in range(0, len(ids), 900):
                chunk = [int(i) for i in ids[start : start + 900]]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, fingerprint FROM files WHERE fingerprint IS NOT NULL AND id IN ({marks})"
                found.update(dict(db.execute(sql, chunk).fetchall()))
        return found

    def add(self, kind: str, ids: Sequence[int], paths: Sequence[str]) -> Decision:
        """Record a decision about files (catalogue ids; for `not_similar` the first is split from the rest)."""
        if kind not in KINDS:
            raise ValueError(f"unknown decision {kind!r}")
        if len(ids) < 2:
            raise InputError("a decision needs at least two files")
        fingerprints = self._fingerprints(ids)
        missing = [p for i, p in zip(ids, paths, strict=True) if int(i) not in fingerprints]
        if missing:
            raise InputError(f"not in the catalogue (index it first): {missing[0]}")
        prints = [fingerprints[int(i)] for i in ids]
        created = time.time()
        with self.catalogue.transaction() as db:
            cursor = db.execute(
                "INSERT INTO set_decisions(kind, fingerprints, paths, created) VALUES (?, ?, ?, ?)",
                (kind, json.dumps(prints), json.dumps(list(paths)), created),
            )
            decision_id = int(cursor.lastrowid or 0)
        return Decision(decision_id, kind, tuple(prints), tuple(paths), created)

    def all(self) -> list[Decision]:
        with self.catalogue.transaction() as db:
            rows = db.execute(
                "SELECT id, kind, fingerprints, paths, created FROM set_decisions ORDER BY id"
            ).fetchall()
        return [Decision(r[0], r[1], tuple(json.loads(r[2])), tuple(json.loads(r[3])), r[4]) for r in rows]

    def reset(self, ids: Iterable[int] | None = None) -> int:
        """Forget the decisions with `ids` (all of them when None); returns how many went."""
        with self.catalogue.transaction() as db:
            if ids is None:
                return db.execute("DELETE FROM set_decisions").rowcount
            return db.executemany("DELETE FROM set_decisions WHERE id = ?", [(int(i),) for i in ids]).rowcount

    def ids_by_fingerprint(self) -> dict[str, list[int]]:
        """Current catalogue ids of every fingerprint some decision names."""
        named = {fp for d in self.all() for fp in d.fingerprints}
        found: dict[str, list[int]] = {}
        with self.catalogue.transaction() as db:
            for fid, fp in db.execute("SELECT id, fingerprint FROM files WHERE fingerprint IS NOT NULL"):
                if fp in named:
                    found.setdefault(fp, []).append(fid)
        return found

    def apart(self) -> set[tuple[int, int]]:
        """Pairs of catalogue ids (smaller first) that must not share a set."""
        where = self.ids_by_fingerprint()
        pairs: set[tuple[int, int]] = set()
        for decision in self.all():
            if decision.kind != NOT_SIMILAR:
                continue
            first, *others = decision.fingerprints
            for a in where.get(first, []):
                for other in others:
                    for b in where.get(other, []):
                        if a != b:
                            pairs.add((min(a, b), max(a, b)))
        return pairs

    def kept_all(self) -> list[frozenset[int]]:
        """For each "keep all" decision, the catalogue ids of its files now."""
        where = self.ids_by_fingerprint()
        return [
            frozenset(i for fp in d.fingerprints for i in where.get(fp, []))
            for d in self.all()
            if d.kind == KEEP_ALL
        ]
