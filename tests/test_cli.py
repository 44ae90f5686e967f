"""The `lookalike` command line: JSON shapes, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval_app.cli.main import main
from tests.imagegen import write_collection


@pytest.fixture
def indexed(tmp_path, tiny_checkpoint, capsys):
    sets = write_collection(tmp_path / "photos", originals=5, variants=("resized",))
    (tmp_path / "photos" / "bad.jpg").write_text("not an image")
    library = tmp_path / "lib"
    code = main(
        ["--library", str(library), "index", str(tmp_path / "photos"), "--model", str(tiny_checkpoint), "-q"]
    )
    assert code == 0
    capsys.readouterr()
    return library, sets


def test_search_json_shape(indexed, capsys, tiny_checkpoint):
    library, sets = indexed
    query = sets["scene01"][1]
    assert (
        main(["--library", str(library), "search", str(query), "-k", "3", "--metric", "cosine", "--json"])
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == ["query", "metric", "model", "results"]
    assert payload["query"] == str(query) and payload["metric"] == "cosine"
    assert payload["model"] == str(tiny_checkpoint)
    assert [r["rank"] for r in payload["results"]] == [1, 2, 3]
    assert all(set(r) == {"rank", "path", "distance"} for r in payload["results"])
    distances = [r["distance"] for r in payload["results"]]
    assert distances == sorted(distances)
    assert all(r["path"].startswith("/") for r in payload["results"])


def test_status_json(indexed, capsys):
    library, _ = indexed
    assert main(["--library", str(library), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert set(status) == {"model", "folders", "files", "indexed", "pending", "skipped", "metrics"}
    assert [row["name"] for row in status["metrics"]] == ["euclidean", "cosine", "mahalanobis", "learned"]
    assert (status["files"], status["indexed"], status["pending"]) == (11, 10, 0)
    assert status["skipped"][0]["path"].endswith("bad.jpg")
    assert "not an image" in status["skipped"][0]["reason"]


def test_max_distance_filters(indexed, capsys):
    library, sets = indexed
    main(["--library", str(library), "search", str(sets["scene00"][1]), "--json", "-k", "20"])
    everything = json.loads(capsys.readouterr().out)["results"]
    cutoff = everything[2]["distance"]
    main(
        [
            "--library",
            str(library),
            "search",
            str(sets["scene00"][1]),
            "--json",
            "--max-distance",
            str(cutoff),
        ]
    )
    limited = json.loads(capsys.readouterr().out)["results"]
    assert len(limited) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "/no/such/image.jpg"],
        ["index", "/no/such/folder"],
        ["search", "{query}", "--metric", "learned"],
    ],
)
def test_bad_input_exits_2_with_one_line(indexed, capsys, argv):
    library, sets = indexed
    argv = [a.replace("{query}", str(sets["scene00"][0])) for a in argv]
    assert main(["--library", str(library), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lookalike: error:") and "\n" not in err


def test_check_reports_consistent_library(indexed, capsys):
    library, _ = indexed
    assert main(["--library", str(library), "check"]) == 0
    assert "0 missing, 0 extra" in capsys.readouterr().out


def test_console_script_usage_error_exit_code():
    result = subprocess.run(
        [sys.executable, "-m", "retrieval_app.cli.main", "search"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_library_option_goes_before_or_after_the_command(tmp_path):
    from retrieval_app.cli.main import build_parser

    before = build_parser().parse_args(["--library", str(tmp_path / "a"), "status"])
    after = build_parser().parse_args(["status", "--library", str(tmp_path / "b")])
    neither = build_parser().parse_args(["status"])
    assert (before.library, after.library, neither.library) == (
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        None,
    )


def test_help_and_status_answer_without_loading_torch(indexed):
    """`--help` and `status` need no model, so they must not pay for importing torch."""
    library, _ = indexed
    script = (
        "import contextlib, io, sys\n"
        "from retrieval_app.cli.main import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main(['--library', {str(library)!r}, 'status'])\n"
        "print(code, 'torch' in sys.modules, 'files:   11' in out.getvalue())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False", "True"], done.stderr


def test_library_pointing_at_a_file_is_one_line(tmp_path, capsys):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine")
    assert main(["--library", str(not_a_folder), "status"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lookalike: error:") and "\n" not in err and "is a file" in err
    assert not_a_folder.read_text() == "mine"


def test_status_into_a_closed_pipe_exits_quietly(indexed):
    """`lookalike status | head -0`: the reader has gone before anything is written."""
    library, _ = indexed
    child = subprocess.Popen(
        [sys.executable, "-m", "retrieval_app.cli.main", "--library", str(library), "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # long before the child has imported anything, let alone printed
    _, err = child.communicate(timeout=120)
    assert child.returncode == 141, err.decode()  # 128 + SIGPIPE, like any shell tool
    assert err == b""  # no traceback, no "Exception ignored"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="file names there are Unicode, not bytes")
def test_names_that_are_not_utf8_on_a_strict_terminal(tmp_path, tiny_checkpoint, capsys):
    """Any bytes are a file name on Linux: shown as \\xNN escapes, kept exact in JSON."""
    photos = write_collection(tmp_path / "photos", originals=2, variants=())
    folder = os.fsencode(tmp_path / "photos")
    shutil.copy(photos["scene01"][0], folder + b"/caf\xe9.jpg")
    (Path(os.fsdecode(folder + b"/bad\xff.jpg"))).write_bytes(b"not an image")
    library = str(tmp_path / "lib")
    assert (
        main(["--library", library, "index", str(tmp_path / "photos"), "--model", str(tiny_checkpoint), "-q"])
        == 0
    )
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    lookalike = [sys.executable, "-m", "retrieval_app.cli.main", "--library", library]
    status = subprocess.run([*lookalike, "status"], env=env, capture_output=True, timeout=120)
    assert status.returncode == 0, status.stderr.decode()
    assert "bad\\xff.jpg: " in status.stdout.decode("utf-8")  # strict: valid UTF-8 throughout
    query = str(photos["scene01"][0])
    search = subprocess.run(
        [*lookalike, "search", query, "-k", "3"], env=env, capture_output=True, timeout=120
    )
    assert search.returncode == 0, search.stderr.decode()
    assert "caf\\xe9.jpg" in search.stdout.decode("utf-8")
    found = subprocess.run([*lookalike, "search", query, "--json"], env=env, capture_output=True, timeout=120)
    paths = [os.fsencode(r["path"]) for r in json.loads(found.stdout)["results"]]
    assert folder + b"/caf\xe9.jpg" in paths
