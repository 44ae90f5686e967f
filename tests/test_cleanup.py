"""Clean-up to the trash and undo, on a library of generated sets with known keepers.

The freedesktop trash is pointed at a temporary folder (HOME and XDG_DATA_HOME), so nothing
here touches a real trash.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval_app.cli.main import main
from retrieval_app.core.library import Library
from tests.duplicate_sets import write_duplicates
from tests.similar_sets import snapshot

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = "0.68"  # the generated copies sit within 0.16 of each other, unrelated photos beyond 0.74


@pytest.fixture
def trash_home(tmp_path, monkeypatch) -> Path:
    """A private home and XDG data folder; returns the trash folder send2trash will use."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    return home / "data" / "Trash"


@pytest.fixture
def library(tmp_path, trash_home, capsys) -> tuple[Path, dict[str, str]]:
    roles = write_duplicates(tmp_path / "photos")
    with Library.open(tmp_path / "lib", model="efficientnet-lite0", image_size=96) as lib:
        lib.index([tmp_path / "photos"])
    capsys.readouterr()
    return tmp_path / "lib", roles


def lookalike(library: Path, *args: str) -> int:
    return main(["--library", str(library), *args])


def clean_args(roles: dict[str, str], *extra: str) -> list[str]:
    reference = os.path.dirname(roles["ref_small"])
    return ["clean", "--groups", "--max-distance", THRESHOLD, "--reference", reference, "-q", *extra]


def catalogued(library: Path) -> dict[str, str]:
    with Library.open(library) as lib:
        return {path: row.status for path, row in lib.catalogue.all_files().items()}


REMOVED = ("png_copy", "png_reencoded", "big_small")


def test_dry_run_then_clean_then_undo_puts_back_identical_bytes(library, trash_home, capsys, tmp_path):
    lib, roles = library
    before, statuses = snapshot(tmp_path / "photos"), catalogued(lib)
    assert set(statuses.values()) == {"indexed"}

    assert lookalike(lib, *clean_args(roles)) == 0
    planned = [line.split(": ", 1)[1].split("  (set")[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(planned) == sorted(roles[r] for r in REMOVED)
    assert snapshot(tmp_path / "photos") == before and not trash_home.exists()

    assert lookalike(lib, *clean_args(roles, "--yes")) == 0
    moved = [line.removeprefix("moved to the trash: ") for line in capsys.readouterr().out.splitlines()]
    assert sorted(moved) == sorted(roles[r] for r in REMOVED)
    assert not any(os.path.exists(roles[r]) for r in REMOVED)
    assert all(os.path.exists(roles[r]) for r in roles if r not in REMOVED)  # keepers, reference, others
    infos = [p.read_text() for p in (trash_home / "info").iterdir()]
    assert sorted(
        line.split("=", 1)[1] for text in infos for line in text.splitlines() if line.startswith("Path=")
    ) == sorted(roles[r] for r in REMOVED)
    after_clean = catalogued(lib)
    assert set(after_clean) == set(statuses) - {roles[r] for r in REMOVED}
    assert set(after_clean.values()) == {"indexed"}  # nothing waits to be re-embedded

    assert lookalike(lib, "undo") == 0
    assert snapshot(tmp_path / "photos") == before  # the same bytes and times, at the same paths
    assert list((trash_home / "files").iterdir()) == [] and list((trash_home / "info").iterdir()) == []
    assert catalogued(lib) == statuses
    assert lookalike(lib, "undo") == 2  # nothing left to undo: one line
    assert "no clean-up to undo" in capsys.readouterr().err


def test_catalogue_follows_without_re_embedding(library, capsys, monkeypatch):
    lib, roles = library
    from retrieval_app.core.embedder import Embedder

    def refuse(*args, **kwargs):
        raise AssertionError("nothing may be embedded by a clean-up or its undo")

    monkeypatch.setattr(Embedder, "embed_files", refuse)
    assert lookalike(lib, *clean_args(roles, "--yes")) == 0
    assert lookalike(lib, "groups", "--max-distance", THRESHOLD, "--json", "-q") == 0
    assert lookalike(lib, "undo") == 0
    capsys.readouterr()
    assert lookalike(lib, "groups", "--max-distance", THRESHOLD, "--json", "-q") == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert sorted(len(g["members"]) for g in groups) == [2, 2, 3]


def test_only_the_tiers_asked_for_move(library, capsys):
    lib, roles = library
    assert lookalike(lib, *clean_args(roles, "--tier", "exact", "--yes")) == 0
    assert capsys.readouterr().out.splitlines() == [f"moved to the trash: {roles['png_copy']}"]


def test_a_missing_trash_is_reported_and_nothing_moves(library, monkeypatch, capsys, tmp_path):
    lib, roles = library
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    before = snapshot(tmp_path / "photos")
    assert lookalike(lib, *clean_args(roles, "--yes")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trash" in err
    assert snapshot(tmp_path / "photos") == before
    assert catalogued(lib).keys() == {roles[r] for r in roles}


def test_files_changed_or_vanished_since_indexing_are_not_moved(library, capsys):
    lib, roles = library
    Path(roles["big_small"]).write_bytes(Path(roles["big_small"]).read_bytes() + b"edited")
    os.remove(roles["png_copy"])
    assert lookalike(lib, *clean_args(roles, "--yes")) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"moved to the trash: {roles['png_reencoded']}"]
    assert "small.jpg changed since indexing" in captured.err and "scene.png vanished" in captured.err
    assert os.path.exists(roles["big_small"])


def test_a_clean_up_killed_half_way_is_undone_from_its_journal(library, trash_home, tmp_path, capsys):
    lib, roles = library
    before = snapshot(tmp_path / "photos")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.kill_at",
            "trash",
            "2",
            "--",
            "--library",
            str(lib),
            *clean_args(roles, "--yes"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert (
        len(list((trash_home / "files").iterdir())) == 2
    )  # the second file went; the journal does not say so
    (journal,) = (lib / "cleanups").iterdir()
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert events == ["plan", "moving", "moved", "moving"]
    assert lookalike(lib, "undo") == 0
    assert snapshot(tmp_path / "photos") == before
    assert list((trash_home / "files").iterdir()) == []
    assert set(catalogued(lib)) == set(roles.values())


def groups_json(lib: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert lookalike(lib, "groups", "--max-distance", THRESHOLD, "--json", "-q") == 0
    return json.loads(capsys.readouterr().out)["groups"]


def member_sets(groups: list[dict]) -> list[set[str]]:
    return sorted(({m["path"] for m in g["members"]} for g in groups), key=sorted)


def test_decisions_survive_a_rescan_and_a_rename_and_can_be_reset(library, capsys, tmp_path):
    lib, roles = library
    original = member_sets(groups_json(lib, capsys))
    assert (
        lookalike(
            lib, "decisions", "not_similar", roles["png_reencoded"], roles["png_keeper"], roles["png_copy"]
        )
        == 0
    )
    assert lookalike(lib, "decisions", "keep_all", roles["big_keeper"], roles["big_small"]) == 0
    split = {roles["png_keeper"], roles["png_copy"]}
    assert split in member_sets(groups_json(lib, capsys))
    assert not any(roles["png_reencoded"] in s for s in member_sets(groups_json(lib, capsys)))

    renamed = str(Path(roles["png_reencoded"]).with_name("renamed.jpg"))
    os.rename(roles["png_reencoded"], renamed)
    assert lookalike(lib, "index", "-q") == 0
    groups = groups_json(lib, capsys)
    assert split in member_sets(groups) and not any(renamed in s for s in member_sets(groups))
    big = next(g for g in groups if roles["big_keeper"] in {m["path"] for m in g["members"]})
    assert big["kept_all"] and not any(m["removable"] for m in big["members"])
    assert lookalike(lib, *clean_args(roles)) == 0
    assert roles["big_small"] not in capsys.readouterr().out

    assert lookalike(lib, "decisions", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["kind"] for d in listed] == ["not_similar", "keep_all"]
    assert lookalike(lib, "decisions", "reset") == 0
    restored = member_sets(groups_json(lib, capsys))
    assert restored == sorted(
        ({renamed if p == roles["png_reencoded"] else p for p in s} for s in original), key=sorted
    )


def test_bad_keep_rules_and_tiers_exit_2(library, capsys):
    lib, roles = library
    assert lookalike(lib, *clean_args(roles, "--keep", "pixels,largest")) == 2
    assert "unknown keeper rule 'largest'" in capsys.readouterr().err
    assert lookalike(lib, "decisions", "keep_all", roles["big_keeper"]) == 2
    assert "at least two files" in capsys.readouterr().err
