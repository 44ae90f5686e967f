"""Catalogue: schema versioning, byte-exact paths, atomic batches."""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest

from retrieval_app.core.catalogue import (
    SCHEMA_VERSION,
    Catalogue,
    CatalogueDamagedError,
    LibraryVersionError,
    ModelChangedError,
    recovery_path,
)


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
    catalogue.reset_vectors("model-a")
    catalogue.store_results({ids[0]: np.ones(2, np.float32)}, {ids[1]: "broken"}, "model-a")
    assert catalogue.indexed_ids().tolist() == [ids[0]]
    assert catalogue.skipped() == [("/photos/1.jpg", "broken")]


def _catalogue_with_files(path, n=3):
    catalogue = Catalogue(str(path))
    folder_id = catalogue.add_folder("/photos")
    catalogue.apply_scan(
        [(f"/photos/{i}.jpg", folder_id, 1, 1, None, "pending", None) for i in range(n)], [], []
    )
    return catalogue, [fid for fid, _ in catalogue.pending()]


def test_vectors_of_a_model_that_is_no_longer_the_librarys_are_refused(tmp_path):
    catalogue, ids = _catalogue_with_files(tmp_path / "c.sqlite")
    catalogue.reset_vectors("model-a")
    catalogue.store_results({ids[0]: np.ones(2, np.float32)}, {}, "model-a")
    other = Catalogue(str(tmp_path / "c.sqlite"))  # another process switches the model
    other.reset_vectors("model-b")
    with pytest.raises(ModelChangedError, match="run `lookalike index` again"):
        catalogue.store_results({ids[1]: np.ones(2, np.float32)}, {ids[2]: "broken"}, "model-a")
    assert catalogue.indexed_ids().tolist() == [] and len(catalogue.pending()) == 3
    catalogue.store_results({ids[1]: np.ones(2, np.float32)}, {}, "model-b")
    assert catalogue.file_by_path("/photos/1.jpg").model == "model-b"
    assert catalogue.foreign_vectors("model-b") == []


def test_a_model_change_retries_what_the_old_model_skipped_but_not_broken_links(tmp_path):
    catalogue, ids = _catalogue_with_files(tmp_path / "c.sqlite")
    folder_id = catalogue.folders().popitem()[0]
    catalogue.apply_scan([("/photos/link.jpg", folder_id, 0, 0, None, "skipped", "broken link")], [], [])
    catalogue.reset_vectors("model-a")
    reason = "could not be prepared for the model (RuntimeError)"
    catalogue.store_results({ids[0]: np.ones(2, np.float32)}, {ids[1]: reason, ids[2]: "corrupt"}, "model-a")
    catalogue.reset_vectors("model-b")
    assert sorted(fid for fid, _ in catalogue.pending()) == ids
    assert catalogue.skipped() == [("/photos/link.jpg", "broken link")]
    assert catalogue.get_meta("model_fingerprint") == "model-b"


def test_a_schema_1_catalogue_is_migrated_and_keeps_its_vectors(tmp_path):
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as db:  # the schema 1 layout, as Lookalike wrote it
        db.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE folders (id INTEGER PRIMARY KEY, path BLOB UNIQUE NOT NULL);
            CREATE TABLE files (id INTEGER PRIMARY KEY AUTOINCREMENT, path BLOB UNIQUE NOT NULL,
                folder_id INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                fingerprint TEXT, status TEXT NOT NULL, reason TEXT, vector BLOB);
            INSERT INTO meta VALUES ('schema_version', '1'), ('model_fingerprint', 'old-model');
            INSERT INTO folders VALUES (1, X'2f70');
            INSERT INTO files VALUES (1, X'2f702f612e6a7067', 1, 1, 1, 'fp', 'indexed', NULL, X'0000803f');
            INSERT INTO files VALUES (2, X'2f702f622e6a7067', 1, 1, 1, 'fp', 'skipped',
                'could not be prepared for the model (RuntimeError)', NULL);
            """
        )
    catalogue = Catalogue(str(path))
    assert catalogue.get_meta("schema_version") == str(SCHEMA_VERSION) == "2"
    assert catalogue.vectors()[1].tolist() == [[1.0]]
    assert catalogue.foreign_vectors("old-model") == [] and catalogue.foreign_vectors("new") == [1]
    catalogue.reset_vectors("new")
    assert len(catalogue.pending()) == 2  # the model-made skip is retried too


def test_a_damaged_catalogue_is_one_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database, it is a shopping list" * 100)
    with pytest.raises(CatalogueDamagedError, match="check --repair"):
        Catalogue(str(path))


def test_folders_and_model_are_kept_beside_the_catalogue(tmp_path):
    folder = os.fsdecode(b"/photos/caf\xe9")
    catalogue = Catalogue(str(tmp_path / "c.sqlite"))
    catalogue.add_folder(folder)
    catalogue.set_meta("model_spec", "efficientnet-lite0")
    state = json.loads(recovery_path(tmp_path / "c.sqlite").read_text())
    assert state["folders"] == [folder] and state["meta"]["model_spec"] == "efficientnet-lite0"
    catalogue.remove_folder(folder)
    assert json.loads(recovery_path(tmp_path / "c.sqlite").read_text())["folders"] == []


def test_a_catalogue_without_a_recovery_file_gets_one_when_opened(tmp_path):
    path = tmp_path / "c.sqlite"
    catalogue = Catalogue(str(path))
    catalogue.add_folder("/photos")
    catalogue.close()
    recovery_path(path).unlink()  # as a library made before recovery files were written
    Catalogue(str(path)).close()
    assert json.loads(recovery_path(path).read_text())["folders"] == ["/photos"]
