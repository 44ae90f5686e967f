"""Tiers on generated files with known truth: exact copies, re-encodes, resizes, edits, other shots."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from retrieval_app.core import tiers
from retrieval_app.core.groups import Group, GroupMember
from retrieval_app.core.keeper import KeepPolicy
from retrieval_app.core.set_review import review_groups, with_tiers
from tests.duplicate_sets import SIZE, pan


def naive_difference(a: tiers.PixelPrint, b: tiers.PixelPrint) -> float:
    """The definition spelled out: every crop of either print, every tile, loops."""
    if abs(math.log(a.aspect / b.aspect)) > tiers.ASPECT_TOLERANCE:
        return math.inf
    side, block = tiers.PRINT_SIDE, tiers.BLOCK
    best = math.inf
    pairs = [(c, 0.0) for c in tiers.ALIGN_CROPS] + [(0.0, c) for c in tiers.ALIGN_CROPS]
    for crop_a, crop_b in pairs:
        x, y = tiers._normalised(a.grey, crop_a), tiers._normalised(b.grey, crop_b)
        worst = 0.0
        for ty in range(0, side, block):
            for tx in range(0, side, block):
                total = sum(
                    abs(float(x[j, i]) - float(y[j, i]))
                    for j in range(ty, ty + block)
                    for i in range(tx, tx + block)
                )
                worst = max(worst, total / block**2)
        best = min(best, worst)
    return best


@pytest.mark.parametrize("seed", range(3))
def test_pixel_difference_matches_the_naive_definition(seed):
    rng = np.random.default_rng(seed)
    grey = [Image.fromarray(rng.integers(0, 256, (72, 96), dtype=np.uint8), "L") for _ in range(2)]
    a, b = (tiers.PixelPrint(96 / 72, g) for g in grey)
    assert tiers.pixel_difference(a, b) == pytest.approx(naive_difference(a, b), rel=1e-5)
    assert tiers.pixel_difference(a, a) == 0.0
    assert tiers.pixel_difference(a, tiers.PixelPrint(1.0, grey[1])) == math.inf


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """A shot and its relatives, each as a file: {name: path}."""
    folder = tmp_path_factory.mktemp("tiers")
    shot = pan(21, 0.0)
    files = {"shot": folder / "shot.png"}
    shot.save(files["shot"])
    shutil.copyfile(files["shot"], folder / "copy.png")
    files["copy"] = folder / "copy.png"
    variants = {
        "reencoded": (shot, "jpg", 60),
        "resized": (shot.resize((SIZE[0] // 3, SIZE[1] // 3), Image.Resampling.LANCZOS), "jpg", 85),
        "webp": (shot, "webp", 80),
        "brighter": (ImageEnhance.Brightness(shot).enhance(1.1), "jpg", 90),
        "cropped": (shot.crop((10, 7, SIZE[0] - 10, SIZE[1] - 7)), "jpg", 90),
        "panned": (pan(21, 0.15), "jpg", 90),
        "mirrored": (shot.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "jpg", 90),
        "taller": (shot.crop((60, 0, SIZE[0] - 60, SIZE[1])), "jpg", 90),
    }
    for name, (image, suffix, quality) in variants.items():
        files[name] = folder / f"{name}.{suffix}"
        image.save(files[name], quality=quality)
    return {name: str(path) for name, path in files.items()}


TRUTH = {
    "copy": tiers.EXACT,
    "reencoded": tiers.SAME,
    "resized": tiers.SAME,
    "webp": tiers.SAME,
    "brighter": tiers.SAME,
    "cropped": tiers.SAME,
    "panned": tiers.SIMILAR,
    "mirrored": tiers.SIMILAR,
    "taller": tiers.SIMILAR,
}


def test_each_relative_gets_its_true_tier(cases):
    group = Group(1, tuple(GroupMember(i, 0.1 * i, cases[name]) for i, name in enumerate(["shot", *TRUTH])))
    (reviewed,) = review_groups([group], KeepPolicy())
    assert reviewed.keeper.path == cases["shot"]  # largest PNG: the keeper every tier is measured from
    found = {name: m.tier for name, m in zip(["shot", *TRUTH], reviewed.members, strict=True)}
    assert {n: found[n] for n in TRUTH} == TRUTH
    assert found["shot"] == tiers.EXACT  # the keeper carries its closest relation
    assert reviewed.tiers == set(TRUTH.values())


def test_filter_and_removal_by_tier(cases):
    exact = Group(1, (GroupMember(1, 0.0, cases["shot"]), GroupMember(2, 0.0, cases["copy"])))
    other = Group(2, (GroupMember(3, 0.0, cases["shot"]), GroupMember(4, 0.3, cases["panned"])))
    sets = review_groups([exact, other], KeepPolicy())
    assert [s.id for s in with_tiers(sets, [tiers.EXACT])] == [1]
    assert [s.id for s in with_tiers(sets, [tiers.SIMILAR])] == [2]
    assert [m.path for m in sets[1].to_remove([tiers.EXACT, tiers.SAME])] == []
    assert [m.path for m in sets[1].to_remove()] == [cases["panned"]]


def test_unreadable_member_is_similar_and_never_removable(cases, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    group = Group(1, (GroupMember(1, 0.0, cases["shot"]), GroupMember(2, 0.1, str(broken))))
    (reviewed,) = review_groups([group], KeepPolicy())
    assert reviewed.members[1].tier == tiers.SIMILAR and not reviewed.members[1].removable


def test_bad_tier_name_is_one_line():
    with pytest.raises(ValueError, match="unknown tier 'twin'"):
        tiers.check_tiers(["exact", "twin"])
