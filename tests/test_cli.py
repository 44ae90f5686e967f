"""The `lookalike` command line: JSON shapes, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

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
    assert set(status) == {"model", "folders", "files", "indexed", "pending", "skipped"}
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
