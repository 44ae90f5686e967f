"""Catalogue: schema versioning, byte-exact paths, atomic batches."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from retrieval_app.core.catalogue import SCHEMA_VERSION, Catalogue, LibraryVersionError


def test_newer_library_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "catalogue.sqlite"
    Catalogue(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    before = path.read_bytes()
    with pytest.raises(LibraryVersionError, match="newer Lookalike"):
        Catalogue(str(path))
    assert path.read_bytes() == before


def test_non_utf8_path_round_trips(tmp_path):
    catalogue = Catalogue(str(tmp_path / "c.sqlite"))
    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9")
    folder_id = catalogue.add_folder(folder)
    name = os.fsdecode(os.fsencode(folder) + b"/\xff\xfe.jpg")
    catalogue.apply_scan([(name, folder_id, 10, 1, "fp", "pending", None)], [], [])
    assert catalogue.folders() == {folder_id: folder}
    assert list(catalogue.all_files()) == [name]
    assert catalogue.file_by_path(name).size == 10


def test_failed_batch_changes_nothing(tmp_path):
    catalogue = Catalogue(str(tmp_path / "c.sqlite"))
    folder_id = catalogue.add_folder("/photos")
    catalogue.apply_scan(
        [(f"/photos/{i}.jpg", folder_id, 1, 1, None, "pending", None) for i in range(3)], [], []
    )
    ids = [fid for fid, _ in catalogue.pending()]
    with pytest.raises(sqlite3.Error), catalogue.transaction() as db:
        db.execute("UPDATE files SET status = 'indexed', vector = ? WHERE id = ?", (b"\0" * 8, ids[0]))
        db.execute("UPDATE files SET status = 'bogus' WHERE id = ?", (ids[1],))
    assert len(catalogue.pending()) == 3
    catalogue.store_results({ids[0]: np.ones(2, np.float32)}, {ids[1]: "broken"})
    assert catalogue.indexed_ids().tolist() == [ids[0]]
    assert catalogue.skipped() == [("/photos/1.jpg", "broken")]
