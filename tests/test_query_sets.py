"""Similar sets with flips and rotations matched: turned copies join their set (core.turned_copies)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from retrieval_app.core import turned_copies
from retrieval_app.core.groups import find_groups
from retrieval_app.core.library import Library
from tests.imagegen import TURNS
from tests.similar_sets import write_similar_sets


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Four sets of near-duplicates plus, in each set, one turned copy of its original."""
    root = tmp_path_factory.mktemp("turned-sets")
    truth = write_similar_sets(root / "photos")
    for i, kind in enumerate(list(TURNS)[:4]):
        sub = root / "photos" / f"set-{i}"
        Image.open(sub / "original.jpg").transpose(TURNS[kind]).save(sub / f"{kind}.jpg", quality=85)
        truth[i].add(str((sub / f"{kind}.jpg").resolve()))
    with Library.open(root / "lib", model="efficientnet-lite0", image_size=96) as lib:
        lib.index([root / "photos"])
        yield lib, truth


def found_sets(groups) -> list[set[str]]:
    return [{m.path for m in g.members} for g in groups]


@pytest.mark.parametrize(
    ("metric", "limit"), [("euclidean", 0.35), ("cosine", 0.35**2 / 2), ("mahalanobis", 0.35)]
)
def test_turned_copies_join_their_set(library, metric, limit):
    lib, truth = library
    plain = found_sets(find_groups(lib, metric=metric, max_distance=limit, flips=False))
    matched = found_sets(find_groups(lib, metric=metric, max_distance=limit))
    for members in truth:
        turned = next(p for p in members if p.endswith(tuple(f"/{k}.jpg" for k in TURNS)))
        if metric != "mahalanobis":  # whitened by 24 images, the space is too stretched to say
            assert not any(turned in group for group in plain)  # far off without the option
        group = next(group for group in matched if turned in group)
        assert len(group) >= 2 and group <= members  # with it, in a set of its own original's photos


def test_copies_are_found_once_and_remembered(library, monkeypatch):
    lib, truth = library
    found = turned_copies.find_turned_copies(lib)
    assert set(found.checked.tolist()) == set(lib.catalogue.indexed_ids().tolist())
    paths = lib.catalogue.paths_for(found.pairs.ravel())
    for a, b in found.pairs.tolist():
        assert any(paths[a] in s and paths[b] in s for s in truth)  # a match never crosses sets
    turned = {p for s in truth for p in s if p.endswith(tuple(f"/{k}.jpg" for k in TURNS))}
    assert turned <= {paths[i] for i in found.pairs.ravel()}  # every turned copy matched
    assert set(found.view_ids.tolist()) == set(found.pairs[:, 0].tolist())

    calls = []
    monkeypatch.setattr(lib.embedder, "embed_tensors", lambda batch: calls.append(batch))
    again = turned_copies.find_turned_copies(lib)
    assert calls == []  # nothing embedded twice
    assert np.array_equal(again.pairs, found.pairs) and np.allclose(again.views, found.views)


def test_a_copy_added_later_is_checked_alone(library, tmp_path, monkeypatch):
    lib, truth = library
    turned_copies.find_turned_copies(lib)
    folder = tmp_path / "later"
    folder.mkdir()
    source = next(p for p in truth[1] if p.endswith("original.jpg"))
    Image.open(source).transpose(Image.Transpose.TRANSVERSE).save(folder / "transverse.jpg", quality=85)
    lib.index([folder])
    embedded = []
    real = lib.embedder.embed_tensors
    monkeypatch.setattr(
        lib.embedder, "embed_tensors", lambda batch: embedded.append(len(batch)) or real(batch)
    )
    turned_copies.find_turned_copies(lib)
    assert embedded == [7]  # one new image, its seven other orientations
    copy = str((folder / "transverse.jpg").resolve())
    group = next(g for g in found_sets(find_groups(lib)) if copy in g)
    assert len(group) >= 2 and group - {copy} <= truth[1]  # with its original's photos
    lib.remove_folder(folder)


def test_groups_command_matches_turned_copies_unless_no_flips(library, capsys):
    import json

    from retrieval_app.cli.main import main

    lib, truth = library
    turned = {p for s in truth for p in s if p.endswith(tuple(f"/{k}.jpg" for k in TURNS))}

    def grouped(*flags: str) -> set[str]:
        assert main(["--library", str(lib.root), "groups", "--json", "-q", *flags]) == 0
        payload = json.loads(capsys.readouterr().out)
        return {m["path"] for g in payload["groups"] for m in g["members"]}

    assert turned <= grouped()
    assert not turned & grouped("--no-flips")
