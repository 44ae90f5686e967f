"""Keeper rules: each decides only by its margin, in the person's order, and says why it won."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from PIL import Image

from retrieval_app.core.keeper import FileFacts, KeepPolicy, choose_keeper, parse_rules, read_facts

BASE = FileFacts("/photos/a.jpg", 2_000_000, 3024, 4032, "JPEG", 1_700_000_000.0, None, False, None)


def facts(name: str, **changes) -> FileFacts:
    return replace(BASE, path=f"/photos/{name}", **changes)


def keeper_of(members: list[FileFacts], **policy) -> tuple[str, str | None, str]:
    choice = choose_keeper(members, KeepPolicy(**policy))
    return members[choice.index].path.rsplit("/", 1)[1], choice.rule, choice.reason


def test_more_pixels_wins_and_says_by_how_much():
    small = facts("small.jpg", width=1512, height=2016, size=3_000_000)
    assert keeper_of([small, facts("big.jpg")]) == ("big.jpg", "pixels", "3024×4032 vs 1512×2016")


def test_pixels_within_five_percent_do_not_decide_then_richer_format_wins():
    jpeg = facts("photo.jpg", width=3024, height=4032)
    heic = facts("photo.heic", width=2990, height=4000, format="HEIF", size=1_000_000)  # 2 % fewer pixels
    assert keeper_of([jpeg, heic])[:2] == ("photo.heic", "format")
    png = facts("photo.png", format="PNG")
    assert keeper_of([jpeg, png]) == ("photo.png", "format", "PNG vs JPEG of the same pixels")


def test_larger_file_at_equal_pixels_then_metadata_then_oldest():
    small = facts("q60.jpg", size=1_000_000)
    assert keeper_of([small, facts("q95.jpg")])[:2] == ("q95.jpg", "size")
    near = facts("near.jpg", size=1_950_000)  # 2.5 % smaller: not enough
    rich = facts("rich.jpg", size=1_950_000, taken=datetime(2020, 5, 1), has_gps=True, camera="Pixel 7")
    assert keeper_of([near, facts("plain.jpg"), rich]) == (
        "rich.jpg",
        "metadata",
        "has date, GPS, camera vs none",
    )
    old = facts("old.jpg", taken=datetime(2019, 1, 1))
    new = facts("new.jpg", taken=datetime(2021, 1, 1))
    assert keeper_of([new, old])[:2] == ("old.jpg", "oldest")
    same_minute = facts("b.jpg", taken=datetime(2019, 1, 1, 0, 0, 30))
    assert keeper_of([same_minute, old])[1] is None  # 30 s apart: a tie, the set's first is kept


def test_rules_can_be_reordered_or_switched_off():
    big_jpeg = facts("big.jpg")
    small_png = facts("small.png", width=1512, height=2016, format="PNG")
    assert keeper_of([small_png, big_jpeg])[0] == "big.jpg"
    assert keeper_of([small_png, big_jpeg], rules=("format", "pixels"))[0] == "small.png"
    assert keeper_of([big_jpeg, small_png], rules=())[0] == "big.jpg"  # no rules: the first


def test_preferred_folder_rule_and_reference_folders_win_ties():
    a, b = facts("a.jpg"), replace(BASE, path="/archive/a.jpg")
    assert keeper_of([a, b], preferred_folders=("/archive",))[:2] == ("a.jpg", "folders")
    choice = choose_keeper([a, b], KeepPolicy(reference_folders=("/archive",)))
    assert choice.index == 1 and "reference folder" in choice.reason
    bigger = facts("bigger.jpg", width=4000, height=6000)
    assert choose_keeper([b, bigger], KeepPolicy(reference_folders=("/archive",))).index == 1  # rules first


def test_unreadable_files_never_win():
    assert choose_keeper([None, facts("ok.jpg")], KeepPolicy()).index == 1


def test_parse_rules():
    assert parse_rules("size, pixels") == ("size", "pixels")
    with pytest.raises(ValueError, match="unknown keeper rule 'biggest'"):
        parse_rules("pixels,biggest")
    with pytest.raises(ValueError, match="twice"):
        parse_rules("pixels,pixels")


def test_read_facts_from_exif(tmp_path):
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "EOS 5D"
    exif.get_ifd(0x8769)[36867] = "2018:07:14 10:20:30"
    exif.get_ifd(0x8825)[1] = "N"
    path = tmp_path / "tagged.jpg"
    Image.new("RGB", (64, 48), "red").save(path, exif=exif)
    found = read_facts(str(path))
    assert (found.width, found.height, found.format) == (64, 48, "JPEG")
    assert found.taken == datetime(2018, 7, 14, 10, 20, 30) and found.camera == "Canon EOS 5D"
    assert found.has_gps and found.metadata == ("date", "GPS", "camera")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert read_facts(str(plain)).metadata == ()
    assert read_facts(str(tmp_path / "missing.jpg")) is None


def test_dimensions_are_as_shown_after_the_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[274] = 6  # stored on its side, shown turned a quarter
    path = tmp_path / "turned.jpg"
    Image.new("RGB", (64, 48)).save(path, exif=exif)
    found = read_facts(str(path))
    assert (found.width, found.height) == (48, 64)
