"""The scan diff on its own: every case of files found versus files catalogued, without a disk."""

from __future__ import annotations

import pytest

from retrieval_app.core import catalogue as cat
from retrieval_app.core.scan_diff import below_any, diff_scan
from retrieval_app.core.scanner import FileEntry


def row(
    id_: int,
    path: str,
    folder: int = 1,
    size: int = 10,
    mtime: int = 5,
    digest: str | None = None,
    status: str = cat.INDEXED,
    reason: str | None = None,
) -> cat.FileRow:
    return cat.FileRow(id_, path, folder, size, mtime, digest or f"d{id_}", status, reason)


def found(path: str, folder: int = 1, size: int = 10, mtime: int = 5, error: str | None = None):
    return path, (folder, FileEntry(path, size, mtime, error))


def digests(table: dict[str, str]):
    def digest(path: str, size: int) -> str:
        value = table[path]
        if value == "unreadable":
            raise PermissionError(13, "Permission denied")
        return value

    return digest


def never(row: cat.FileRow, path: str) -> bool:
    return False


def test_unchanged_files_are_left_alone_and_new_ones_inserted_with_their_fingerprint():
    known = {"/p/a.jpg": row(1, "/p/a.jpg")}
    present = dict([found("/p/a.jpg"), found("/p/b.jpg", size=20, mtime=7)])
    diff = diff_scan(present, known, set(), [], digests({"/p/b.jpg": "db"}), never)
    assert (diff.unchanged, diff.added, diff.changed, diff.removed, diff.moved) == (1, 1, 0, 0, 0)
    assert diff.inserts == [("/p/b.jpg", 1, 20, 7, "db", cat.PENDING, None)]
    assert diff.moves == [] and diff.deletes == []


def test_a_changed_file_is_replaced_and_a_vanished_one_removed():
    known = {"/p/a.jpg": row(1, "/p/a.jpg"), "/p/gone.jpg": row(2, "/p/gone.jpg")}
    present = dict([found("/p/a.jpg", mtime=99)])
    diff = diff_scan(present, known, set(), [], digests({"/p/a.jpg": "new"}), never)
    assert (diff.changed, diff.removed) == (1, 1)
    assert sorted(diff.deletes) == [1, 2]
    assert diff.inserts == [("/p/a.jpg", 1, 10, 99, "new", cat.PENDING, None)]


def test_a_renamed_file_is_moved_with_its_vector_not_re_embedded():
    known = {"/p/old.jpg": row(1, "/p/old.jpg", digest="same")}
    present = dict([found("/p/sub/new.jpg", folder=1)])
    diff = diff_scan(present, known, set(), [], digests({"/p/sub/new.jpg": "same"}), never)
    assert diff.moves == [(1, "/p/sub/new.jpg", 1, 10, 5)]
    assert (diff.moved, diff.added, diff.removed) == (1, 0, 0)
    assert diff.inserts == [] and diff.deletes == []


def test_a_file_found_under_another_library_folder_changes_folder_only():
    known = {"/p/a.jpg": row(1, "/p/a.jpg", folder=1)}
    diff = diff_scan(dict([found("/p/a.jpg", folder=2)]), known, set(), [], digests({}), never)
    assert diff.moves == [(1, "/p/a.jpg", 2, 10, 5)] and diff.unchanged == 1


def test_files_of_offline_folders_and_unlisted_subfolders_are_kept():
    known = {
        "/drive/a.jpg": row(1, "/drive/a.jpg", folder=2),
        "/p/locked/b.jpg": row(2, "/p/locked/b.jpg"),
        "/p/c.jpg": row(3, "/p/c.jpg"),
    }
    diff = diff_scan({}, known, {2}, ["/p/locked"], digests({}), never)
    assert diff.deletes == [3] and diff.removed == 1


def test_unreadable_files_are_inserted_as_skipped_with_their_reason():
    present = dict([found("/p/x.jpg"), found("/p/y.jpg", error="not an image (text)")])
    diff = diff_scan(present, {}, set(), [], digests({"/p/x.jpg": "unreadable"}), never)
    by_path = {insert[0]: insert for insert in diff.inserts}
    assert by_path["/p/x.jpg"][4:] == (None, cat.SKIPPED, "cannot read file (Permission denied)")
    assert by_path["/p/y.jpg"][4:] == (None, cat.SKIPPED, "not an image (text)")
    assert (diff.added, diff.skipped) == (2, 2)


@pytest.mark.parametrize("readable", [True, False])
def test_a_skipped_file_is_tried_again_only_when_it_can_be_read_now(readable):
    skipped = row(1, "/p/a.jpg", status=cat.SKIPPED, reason="cannot read file (Permission denied)")
    diff = diff_scan(
        dict([found("/p/a.jpg")]),
        {"/p/a.jpg": skipped},
        set(),
        [],
        digests({"/p/a.jpg": "d"}),
        lambda r, p: readable,
    )
    assert (diff.changed, diff.unchanged) == ((1, 0) if readable else (0, 1))
    assert diff.deletes == ([1] if readable else [])


def test_below_any_matches_folders_and_their_contents_only():
    assert below_any("/p/locked", ["/p/locked"]) and below_any("/p/locked/a.jpg", ["/p/locked/"])
    assert not below_any("/p/lockedness/a.jpg", ["/p/locked"])
