"""Export: files and manifests as asked, no overwrite, no escape from the destination, originals untouched."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval_app.cli.main import main
from retrieval_app.core import export as export_module
from retrieval_app.core.export import (
    ExportError,
    ExportItem,
    export_files,
    items_for_groups,
    items_for_results,
)
from retrieval_app.core.groups import Group, GroupMember
from retrieval_app.core.library import SearchResult
from retrieval_app.core.progress import CancelToken
from tests.similar_sets import index_similar_sets, snapshot
from tests.small_fs import mounted_tmpfs

THRESHOLD = 0.68  # between the generated sets' widest pair and the closest unrelated pair (see test_groups)


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    (folder / "2021" / "beach").mkdir(parents=True)
    (folder / "other").mkdir()
    for relative, content in {
        "a.jpg": b"first picture",
        "2021/beach/b.jpg": b"second picture",
        "2021/beach/a.jpg": b"another a",
        "other/c.png": b"third picture",
    }.items():
        (folder / relative).write_bytes(content)
    return folder


def results(photos: Path, *names: str) -> list[SearchResult]:
    return [SearchResult(rank, str(photos / n), 0.1 * rank, rank) for rank, n in enumerate(names, 1)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_copy_with_both_manifests_leaves_originals_untouched(tmp_path, photos):
    before = snapshot(photos)
    items = items_for_results(results(photos, "a.jpg", "2021/beach/b.jpg"), query="/q/query.jpg")
    out = tmp_path / "out" / "beach"
    report = export_files(items, out, "copy", manifests=["csv", "json"])
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg", "manifest.csv", "manifest.json"]
    assert (out / "a.jpg").read_bytes() == b"first picture" and not (out / "a.jpg").is_symlink()
    assert (out / "b.jpg").stat().st_mtime_ns == (photos / "2021/beach/b.jpg").stat().st_mtime_ns
    assert [f.mode for f in report.exported] == ["copy", "copy"] and not report.failed
    rows = read_csv(out / "manifest.csv")
    assert rows == [
        {
            "path": str(photos / "a.jpg"),
            "exported": "a.jpg",
            "group": "",
            "query": "/q/query.jpg",
            "rank": "1",
            "distance": "0.1",
            "mode": "copy",
        },
        {
            "path": str(photos / "2021/beach/b.jpg"),
            "exported": "b.jpg",
            "group": "",
            "query": "/q/query.jpg",
            "rank": "2",
            "distance": "0.2",
            "mode": "copy",
        },
    ]
    document = json.loads((out / "manifest.json").read_text())
    assert document["destination"] == str(out.resolve())
    assert [(f["exported"], f["rank"], f["group"], f["query"]) for f in document["files"]] == [
        ("a.jpg", 1, None, "/q/query.jpg"),
        ("b.jpg", 2, None, "/q/query.jpg"),
    ]
    assert snapshot(photos) == before


def test_symlink_and_hardlink_modes(tmp_path, photos, monkeypatch):
    before = snapshot(photos)
    items = items_for_results(results(photos, "a.jpg"))
    export_files(items, tmp_path / "sym", "symlink")
    assert os.readlink(tmp_path / "sym" / "a.jpg") == str((photos / "a.jpg").resolve())
    report = export_files(items, tmp_path / "hard", "link")
    assert report.exported[0].mode == "hardlink"
    assert (tmp_path / "hard" / "a.jpg").stat().st_ino == (photos / "a.jpg").stat().st_ino
    assert not (tmp_path / "hard" / "a.jpg").is_symlink()

    def no_hard_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(export_module.os, "link", no_hard_links)
    report = export_files(items, tmp_path / "fallback", "link")
    assert report.exported[0].mode == "symlink"
    assert (tmp_path / "fallback" / "a.jpg").resolve() == (photos / "a.jpg").resolve()
    assert snapshot(photos) == before


def sample_groups(photos: Path) -> list[Group]:
    return [
        Group(
            1,
            (
                GroupMember(1, 0.0, str(photos / "2021/beach/b.jpg")),
                GroupMember(2, 0.05, str(photos / "a.jpg")),
                GroupMember(3, 0.07, str(photos / "other/c.png")),
            ),
        ),
        Group(
            2,
            (
                GroupMember(4, 0.0, str(photos / "2021/beach/a.jpg")),
                GroupMember(5, 0.1, str(photos / "a.jpg")),
            ),
        ),
    ]


def test_groups_go_to_numbered_folders_representative_first(tmp_path, photos):
    out = tmp_path / "dupes"
    report = export_files(
        items_for_groups(sample_groups(photos)), out, "copy", numbered=True, manifests=["csv"]
    )
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "group-001/01-b.jpg",
        "group-001/02-a.jpg",
        "group-001/03-c.png",
        "group-002/01-a.jpg",
        "group-002/02-a.jpg",
        "manifest.csv",
    ]
    assert (out / "group-001/01-b.jpg").read_bytes() == b"second picture"
    assert (out / "group-002/01-a.jpg").read_bytes() == b"another a"
    rows = read_csv(out / "manifest.csv")
    assert [(r["group"], r["rank"], r["distance"], r["exported"]) for r in rows] == [
        ("1", "1", "0.0", "group-001/01-b.jpg"),
        ("1", "2", "0.05", "group-001/02-a.jpg"),
        ("1", "3", "0.07", "group-001/03-c.png"),
        ("2", "1", "0.0", "group-002/01-a.jpg"),
        ("2", "2", "0.1", "group-002/02-a.jpg"),
    ]
    assert len(report.exported) == 5


def test_keep_structure_below_the_library_folder(tmp_path, photos):
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"not in the library")
    items = items_for_results(results(photos, "2021/beach/b.jpg", "a.jpg"))
    items += items_for_results([SearchResult(3, str(outside), 0.3, 9)])
    out = tmp_path / "out"
    export_files(items, out, "copy", structure_roots=[str(photos), str(photos / "2021")])
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a.jpg",
        "beach/b.jpg",  # the deepest library folder holding the file wins
        "elsewhere.jpg",
    ]
    grouped = export_files(
        items_for_groups(sample_groups(photos)), tmp_path / "g", structure_roots=[str(photos)]
    )
    assert [f.path for f in grouped.exported][:3] == [
        "group-001/2021/beach/b.jpg",
        "group-001/a.jpg",
        "group-001/other/c.png",
    ]


def test_name_clashes_get_suffixes_and_nothing_is_overwritten(tmp_path, photos):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"already here")
    victim = tmp_path / "victim.jpg"
    (out / "a (2).jpg").symlink_to(victim)  # dangling: writing through it would create the victim
    items = items_for_results(results(photos, "a.jpg", "2021/beach/a.jpg"))
    report = export_files(items, out, "copy")
    assert [f.path for f in report.exported] == ["a (3).jpg", "a (4).jpg"]
    assert (out / "a.jpg").read_bytes() == b"already here" and not victim.exists()
    assert (out / "a (3).jpg").read_bytes() == b"first picture"
    assert (out / "a (4).jpg").read_bytes() == b"another a"
    again = export_files(items[:1], out, "symlink", manifests=["json", "json"])
    assert [f.path for f in again.exported] == ["a (5).jpg"]
    assert [Path(m).name for m in again.manifests] == ["manifest.json"]
    third = export_files(items[:1], out, "link", manifests=["json"])
    assert [f.path for f in third.exported] == ["a (6).jpg"]
    assert [Path(m).name for m in third.manifests] == ["manifest (2).json"]


@pytest.mark.parametrize("folder", ["../escaped", "/tmp/absolute", "group/../../escaped"])
def test_folder_names_leading_outside_are_refused(tmp_path, photos, folder):
    before = snapshot(tmp_path)
    items = [export_module.ExportItem(str(photos / "a.jpg"), 1, 0.0, folder=folder)]
    with pytest.raises(ExportError, match="inside the destination"):
        export_files(items, tmp_path / "out", "copy")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out").exists()
    assert snapshot(tmp_path) == before


def test_symlinked_folder_leading_outside_is_refused_before_writing(tmp_path, photos):
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "group-002").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ExportError, match="leads outside"):
        export_files(items_for_groups(sample_groups(photos)), out, "copy")
    assert list(outside.iterdir()) == []
    assert not (out / "group-001").exists()


def test_symlinked_folder_staying_inside_is_fine(tmp_path, photos):
    out = tmp_path / "out"
    (out / "real").mkdir(parents=True)
    (out / "group-001").symlink_to(out / "real", target_is_directory=True)
    export_files(items_for_groups(sample_groups(photos))[:1], out, "copy")
    assert (out / "real" / "b.jpg").read_bytes() == b"second picture"


def test_cancel_keeps_what_was_written_and_its_manifest(tmp_path, photos):
    token = CancelToken()
    reports = []

    def progress(report):
        reports.append(report)
        if report.done >= 1:
            token.cancel()

    items = items_for_results(results(photos, "a.jpg", "2021/beach/b.jpg", "other/c.png"))
    report = export_files(items, tmp_path / "out", manifests=["csv"], progress=progress, cancel=token)
    assert report.cancelled and [f.path for f in report.exported] == ["a.jpg"]
    assert [r["exported"] for r in read_csv(tmp_path / "out" / "manifest.csv")] == ["a.jpg"]
    assert reports[0].total == 3 and reports[0].stage == "exporting"


def test_vanished_original_is_reported_and_the_rest_exported(tmp_path, photos):
    items = items_for_results(results(photos, "gone.jpg", "a.jpg"))
    report = export_files(items, tmp_path / "out", "copy")
    assert [f.path for f in report.exported] == ["a.jpg"]
    assert [(Path(p).name, "gone" in reason) for p, reason in report.failed] == [("gone.jpg", True)]


def test_bad_mode_and_destination(tmp_path, photos):
    items = items_for_results(results(photos, "a.jpg"))
    with pytest.raises(ExportError, match="mode"):
        export_files(items, tmp_path / "out", "move")
    with pytest.raises(ExportError, match="manifest"):
        export_files(items, tmp_path / "out", manifests=["xml"])
    with pytest.raises(ExportError, match="not a folder"):
        export_files(items, photos / "a.jpg")


@pytest.fixture(scope="module")
def sets_library(tmp_path_factory):
    """The default model (ImageNet EfficientNet-Lite0 at 96 px) over generated near-duplicate sets."""
    root = tmp_path_factory.mktemp("sets")
    return root, index_similar_sets(root)


def test_cli_exports_a_query_and_the_groups(sets_library, tmp_path):
    root, truth = sets_library
    before = snapshot(root / "photos")
    query = root / "photos" / "set-0" / "original.jpg"
    library = ["--library", str(root / "lib")]
    out = tmp_path / "beach"
    argv = ["export", str(out), "--query", str(query), "-k", "40", "--max-distance", str(THRESHOLD), "-q"]
    assert main([*library, *argv, "--mode", "copy", "--manifest", "csv"]) == 0
    expected = sorted(Path(p).name for p in truth[0] if Path(p) != query)
    assert sorted(p.name for p in out.iterdir() if p.name != "manifest.csv") == expected
    rows = read_csv(out / "manifest.csv")
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"] and {r["query"] for r in rows} == {str(query)}

    dupes = tmp_path / "dupes"
    argv = ["export", str(dupes), "--groups", "--max-distance", str(THRESHOLD), "--keep-structure", "-q"]
    assert main([*library, *argv, "--mode", "link", "--manifest", "json", "--manifest", "csv"]) == 0
    files = json.loads((dupes / "manifest.json").read_text())["files"]
    by_group: dict[int, set[str]] = {}
    for f in files:
        by_group.setdefault(f["group"], set()).add(f["path"])
        exported = dupes / f["exported"]
        assert exported.stat().st_ino == Path(f["path"]).stat().st_ino and f["mode"] == "hardlink"
        assert f["exported"].startswith(
            f"group-{f['group']:03d}/{Path(f['path']).parent.name}/{f['rank']:02d}-"
        )
    assert sorted(map(sorted, by_group.values())) == sorted(map(sorted, truth))
    assert len(read_csv(dupes / "manifest.csv")) == len(files)
    assert snapshot(root / "photos") == before


def test_cli_bad_input_exits_2_with_one_line(sets_library, tmp_path, capsys):
    root, _ = sets_library
    library = ["--library", str(root / "lib")]
    a_file = root / "photos" / "unrelated-0.jpg"
    cases = [
        (["export", str(a_file), "--groups"], "not a folder"),
        (["export", str(tmp_path / "out"), "--query", str(tmp_path / "missing.jpg")], "not found"),
        (["export", str(tmp_path / "out"), "--query", str(a_file), "-k", "0"], "-k"),
        (["export", str(tmp_path / "out"), "--groups", "--max-distance", "-0.5"], "--max-distance"),
    ]
    for argv, message in cases:
        assert main([*library, *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")
def test_killed_copy_leaves_no_truncated_file_under_its_name(tmp_path, photos):
    """SIGKILL halfway through a copy: the name stays free, and the next export takes it."""
    original = photos / "big.jpg"
    original.write_bytes(os.urandom(3 << 20))
    out = tmp_path / "out"
    script = (
        "import os, shutil, signal\n"
        "def half_then_die(source, target, length=0):\n"
        "    target.write(source.read(1 << 20)); target.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "shutil.copyfileobj = half_then_die\n"
        "from retrieval_app.core.export import ExportItem, export_files\n"
        f"export_files([ExportItem({str(original)!r}, 1, 0.0)], {str(out)!r}, manifests=['csv'])\n"
    )
    root = Path(__file__).resolve().parent.parent
    killed = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []
    report = export_files([ExportItem(str(original), 1, 0.0)], out)
    assert [f.path for f in report.exported] == ["big.jpg"]
    assert (out / "big.jpg").read_bytes() == original.read_bytes()


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="file names there are Unicode, not bytes")
def test_names_that_are_not_utf8_are_kept_exactly_in_both_manifests(tmp_path, photos):
    raw = os.fsencode(photos) + b"/caf\xe9 \xff.jpg"
    with open(raw, "wb") as handle:
        handle.write(b"bytes of a name that is not UTF-8")
    name = os.fsdecode(raw)  # surrogate escapes, as os.scandir gives it
    out = tmp_path / "out"
    report = export_files(items_for_results(results(photos, name)), out, manifests=["csv", "json"])
    assert not report.failed
    assert os.path.exists(os.fsencode(out) + b"/caf\xe9 \xff.jpg")
    csv_bytes = (out / "manifest.csv").read_bytes()
    assert raw in csv_bytes and b"\ncaf" not in csv_bytes  # the name's own bytes, in the path column
    with open(out / "manifest.csv", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        (row,) = csv.DictReader(handle)
    assert os.fsencode(row["path"]) == raw and os.fsencode(row["exported"]) == b"caf\xe9 \xff.jpg"
    (entry,) = json.loads((out / "manifest.json").read_text("ascii"))["files"]  # JSON stays ASCII
    assert os.fsencode(entry["path"]) == raw and os.fsencode(entry["exported"]) == b"caf\xe9 \xff.jpg"


@pytest.fixture
def read_only_destination(tmp_path) -> Path:
    """A folder nothing can be written into, even by root: a read-only mount (skips where mounting
    is not allowed; test_read_only_destination_injected covers the same path everywhere)."""
    with mounted_tmpfs(tmp_path / "read-only", size="64k", read_only=True) as folder:
        yield folder


def test_read_only_destination_is_one_error_before_anything(tmp_path, photos, read_only_destination):
    items = items_for_results(results(photos, "a.jpg", "other/c.png"))
    with pytest.raises(ExportError, match="cannot write into the destination .*: Read-only file system"):
        export_files(items, read_only_destination, manifests=["csv"])
    assert list(read_only_destination.iterdir()) == []


def test_read_only_destination_injected(tmp_path, photos, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(export_module.tempfile, "mkstemp", read_only)
    items = items_for_results(results(photos, "a.jpg"))
    with pytest.raises(ExportError, match="Read-only file system"):
        export_files(items, tmp_path / "out", manifests=["json"])


def test_manifest_that_cannot_be_written_is_one_line_naming_what_was_exported(tmp_path, photos, monkeypatch):
    def full_disk(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export_module, "_write_manifest", full_disk)
    items = items_for_results(results(photos, "a.jpg", "other/c.png"))
    with pytest.raises(
        ExportError, match="exported 2 files to .* but could not write manifest.csv: No space"
    ):
        export_files(items, tmp_path / "out", manifests=["csv"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "c.png"]


def test_cli_read_only_destination_with_manifest_is_one_line(sets_library, read_only_destination, capsys):
    root, _ = sets_library
    query = root / "photos" / "set-0" / "original.jpg"
    argv = ["export", str(read_only_destination), "--query", str(query), "--manifest", "csv", "-q"]
    assert main(["--library", str(root / "lib"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err, err


def test_copies_where_hard_links_are_not_allowed_still_never_replace(tmp_path, photos, monkeypatch):
    def no_links(*args: object) -> None:
        raise PermissionError(errno.EPERM, "hard links not supported here")

    monkeypatch.setattr(export_module.os, "link", no_links)  # a FAT drive or some network shares
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"already here")
    report = export_files(items_for_results(results(photos, "a.jpg")), out)
    assert [(f.path, f.mode) for f in report.exported] == [("a (2).jpg", "copy")]
    assert (out / "a.jpg").read_bytes() == b"already here"
    assert (out / "a (2).jpg").read_bytes() == (photos / "a.jpg").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["a (2).jpg", "a.jpg"]  # no temporary file left
