"""`lookalike search` with several examples, `--not`, `--crop` and `--flips`."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from retrieval_app.cli.main import main
from tests.imagegen import write_collection


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("query-cli")
    sets = write_collection(root / "photos", originals=5, variants=("resized",))
    library = root / "lib"
    argv = ["--library", str(library), "index", str(root / "photos"), "--model", "efficientnet-lite0"]
    assert main([*argv, "--image-size", "96", "-q"]) == 0
    return library, sets, root


def search(capsys, library, *argv: str) -> tuple[int, dict | str]:
    code = main(["--library", str(library), "search", *argv])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 and "--json" in argv else captured.err.strip())


def test_several_examples_and_a_counter_example_keep_the_json_shape(indexed, capsys):
    library, sets, _ = indexed
    a, b, c = sets["scene00"][0], sets["scene00"][1], sets["scene03"][0]
    code, payload = search(capsys, library, str(a), str(b), "--not", str(c), "--json", "-k", "4")
    assert code == 0
    assert list(payload) == ["query", "metric", "model", "results"]
    assert payload["query"] == [str(a), str(b)]
    paths = [r["path"] for r in payload["results"]]
    assert len(paths) == 4 and not {str(a), str(b), str(c)} & set(paths)
    assert [r["rank"] for r in payload["results"]] == [1, 2, 3, 4]
    assert str(sets["scene03"][1]) not in paths  # the counter-example's copy is pushed out of the top 4
    code, single = search(capsys, library, str(a), "--json", "-k", "2")
    assert single["query"] == str(a)  # one example: a string, as before


def test_flips_finds_a_rotated_copy(indexed, capsys):
    library, sets, root = indexed
    turned = root / "turned.jpg"
    Image.open(sets["scene02"][0]).transpose(Image.Transpose.ROTATE_270).save(turned, quality=85)
    code, payload = search(capsys, library, str(turned), "--flips", "--json", "-k", "1")
    assert code == 0 and payload["results"][0]["path"] in {str(p) for p in sets["scene02"]}


def test_crop_searches_with_a_region(indexed, capsys):
    library, sets, root = indexed
    scene = Image.new("RGB", (600, 400), (20, 120, 40))
    scene.paste(Image.open(sets["scene04"][0]).resize((256, 192)), (300, 180))
    composed = root / "composed.png"
    scene.save(composed)
    code, payload = search(capsys, library, str(composed), "--crop", "300,180,256,192", "--json", "-k", "1")
    assert code == 0 and payload["results"][0]["path"] in {str(p) for p in sets["scene04"]}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--crop", "1,2,3"], "x,y,w,h"),
        (["--crop", "200,100,100,100"], "reaches outside the image"),
        (["--not", "/no/such/file.jpg"], "query image not found"),
    ],
)
def test_bad_query_options_are_one_line_and_exit_2(indexed, capsys, argv, message):
    library, sets, _ = indexed
    code, err = search(capsys, library, str(sets["scene00"][0]), *argv)
    assert code == 2 and err.startswith("lookalike: error:") and "\n" not in err and message in err
