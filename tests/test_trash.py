"""The freedesktop trash: where files go, that same names do not collide, and restoring them."""

from __future__ import annotations

import os

import pytest

from retrieval_app.core import trash


@pytest.fixture
def home_trash(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "Trash"


@pytest.mark.skipif(not trash.FREEDESKTOP, reason="the freedesktop trash layout")
def test_same_names_from_two_folders_go_and_come_back_each_to_its_place(tmp_path, home_trash):
    files = {}
    for folder in ("a", "b", "c"):
        path = tmp_path / "photos" / folder / "IMG_0001.jpg"
        path.parent.mkdir(parents=True)
        path.write_bytes(f"bytes of {folder}".encode())
        files[str(path)] = path.read_bytes()
    where = {path: trash.move_to_trash(path) for path in files}
    assert len(set(where.values())) == 3 and not any(os.path.exists(p) for p in files)
    assert all(os.path.dirname(w) == str(home_trash / "files") for w in where.values())
    for path in files:
        assert trash.entries_for(trash.trash_for(str(home_trash)), path) == [trash.Path(where[path])]
    for path, trashed in where.items():
        trash.restore(trash.Path(trashed), path)
    assert {p: trash.Path(p).read_bytes() for p in files} == files
    assert list((home_trash / "info").iterdir()) == [] and list((home_trash / "files").iterdir()) == []


@pytest.mark.skipif(not trash.FREEDESKTOP, reason="the freedesktop trash layout")
def test_restore_never_replaces_a_file(tmp_path, home_trash):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"first")
    trashed = trash.move_to_trash(str(path))
    path.write_bytes(b"a new file with the old name")
    with pytest.raises(FileExistsError):
        trash.restore(trash.Path(trashed), str(path))
    assert path.read_bytes() == b"a new file with the old name" and os.path.exists(trashed)


@pytest.mark.skipif(not trash.FREEDESKTOP, reason="the freedesktop trash layout")
def test_an_unusable_trash_is_reported_before_anything_moves(tmp_path, monkeypatch):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"x")
    with pytest.raises(trash.TrashUnavailableError, match="cannot be used"):
        trash.move_to_trash(str(path))
    assert path.read_bytes() == b"x"
