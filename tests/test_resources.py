"""The shipped resources: icon, desktop entry, AppStream metadata and the sample collection."""

from __future__ import annotations

import configparser
import importlib.util
import json
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from retrieval_app import resources

REPO = Path(__file__).resolve().parent.parent
EXIF_ORIENTATION = 0x0112
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def desktop() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read_string(resources.desktop_entry())
    return parser["Desktop Entry"]


@pytest.fixture(scope="module")
def appstream() -> ET.Element:
    return ET.fromstring(resources.appstream_metadata())


@pytest.fixture(scope="module")
def sets() -> dict:
    return json.loads(resources.sample_sets().read_text(encoding="utf-8"))


def test_svg_icon_is_a_square_svg_that_qt_renders(qapp) -> None:
    from PySide6.QtSvg import QSvgRenderer

    path = resources.icon_path()
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width == height
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid()
    assert renderer.defaultSize().width() == renderer.defaultSize().height()


@pytest.mark.parametrize("size", resources.ICON_SIZES)
def test_png_icon_has_its_size_and_a_transparent_background(size: int) -> None:
    with Image.open(resources.icon_path(size)) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
    assert alpha[0, -1] == 0 and alpha[-1, 0] == 0  # corners the design leaves empty
    assert alpha[size // 2, size // 2] == 255
    assert 0.3 < (alpha > 0).mean() < 0.9


def test_png_icons_are_renders_of_the_current_svg(qapp, tmp_path: Path) -> None:
    """Editing the SVG without running packaging/render_icons.py fails here."""
    from PySide6.QtSvg import QSvgRenderer

    spec = importlib.util.spec_from_file_location("render_icons", REPO / "packaging" / "render_icons.py")
    render_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_icons)
    renderer = QSvgRenderer(str(resources.icon_path()))
    for size in (16, 64, 256):
        fresh = tmp_path / f"{size}.png"
        render_icons.render_png(renderer, size, fresh)
        new = np.asarray(Image.open(fresh).convert("RGBA"), np.float32)
        committed = np.asarray(Image.open(resources.icon_path(size)).convert("RGBA"), np.float32)
        assert np.abs(new - committed).mean() < 1.0


def test_unknown_icon_size_is_refused() -> None:
    with pytest.raises(ValueError, match="sizes are 16, 32"):
        resources.icon_path(100)


def test_desktop_entry_launches_the_gui_script(desktop: configparser.SectionProxy, project: dict) -> None:
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == "Lookalike"
    assert desktop["GenericName"] and desktop["Comment"]
    command = desktop["Exec"].split()
    assert command[0] in project["gui-scripts"]
    assert command[1:] == ["%F"]
    assert desktop["Icon"] == resources.APP_ID
    assert desktop["Terminal"] == "false"
    assert {"Graphics", "Photography", "Viewer"} <= set(desktop["Categories"].rstrip(";").split(";"))
    mime_types = desktop["MimeType"].split(";")
    assert mime_types[-1] == ""  # lists end with a separator
    assert {"image/jpeg", "image/png", "image/webp"} <= set(mime_types)


def test_appstream_metadata_names_the_app_its_launcher_and_binaries(
    appstream: ET.Element, project: dict
) -> None:
    assert appstream.tag == "component" and appstream.get("type") == "desktop-application"
    assert appstream.findtext("id") == resources.APP_ID
    assert appstream.findtext("name") == "Lookalike"
    assert appstream.findtext("summary")
    assert len(appstream.findall("description/p")) >= 1
    assert appstream.findtext("metadata_license") == "CC0-1.0"
    assert appstream.findtext("project_license") == project["license"]
    launchable = appstream.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == f"{resources.APP_ID}.desktop"
    binaries = {element.text for element in appstream.findall("provides/binary")}
    assert binaries == set(project["gui-scripts"]) | set(project["scripts"])
    releases = [release.get("version") for release in appstream.findall("releases/release")]
    assert project["version"] in releases


@pytest.mark.parametrize(
    ("tool", "file_name"),
    [
        (["desktop-file-validate"], f"{resources.APP_ID}.desktop"),
        (["appstreamcli", "validate", "--no-net"], f"{resources.APP_ID}.metainfo.xml"),
    ],
)
def test_freedesktop_validators_accept_the_files(tool: list[str], file_name: str) -> None:
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed (apt-get install desktop-file-utils appstream)")
    result = subprocess.run([*tool, str(REPO / "resources" / file_name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sample_sets_list_exactly_the_images_in_the_collection(sets: dict) -> None:
    folder = resources.sample_collection()
    assert folder.is_dir()
    grouped = [name for names in sets["groups"].values() for name in names]
    listed = grouped + sets["singles"]
    assert len(listed) == len(set(listed)), "a file is in two groups"
    on_disk = {p.name for p in folder.iterdir() if p.suffix in {".jpg", ".png", ".webp"}}
    assert set(listed) == on_disk
    assert set(sets["edits"]) == on_disk
    assert len(sets["groups"]) >= 10
    assert all(3 <= len(names) <= 5 for names in sets["groups"].values())
    assert all(name.startswith(group) for group, names in sets["groups"].items() for name in names)
    assert {Path(name).suffix for name in listed} == {".jpg", ".png", ".webp"}
    assert sum((folder / name).stat().st_size for name in listed) < 6_000_000


def test_every_sample_opens_with_pillow_at_a_photo_like_size(sets: dict) -> None:
    folder = resources.sample_collection()
    names = [name for names in sets["groups"].values() for name in names] + sets["singles"]
    for name in names:
        with Image.open(folder / name) as image:
            image.load()
            assert min(image.size) >= 280 and max(image.size) <= 1200, (name, image.size)
            assert image.mode in {"RGB", "L"}, (name, image.mode)


def test_exif_rotated_samples_show_the_same_way_up_as_their_original(sets: dict) -> None:
    folder = resources.sample_collection()
    rotated = 0
    for names in sets["groups"].values():
        with Image.open(folder / names[0]) as original:
            landscape = original.width > original.height
        for name in names[1:]:
            with Image.open(folder / name) as image:
                if image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                    rotated += 1
                    assert (image.width > image.height) != landscape  # pixels are stored turned
                    upright = ImageOps.exif_transpose(image)
                    assert (upright.width > upright.height) == landscape
    assert rotated >= 1


def test_sample_licences_cover_every_file(sets: dict) -> None:
    licence = (resources.sample_collection() / "LICENSE.md").read_text(encoding="utf-8")
    names = [name for names in sets["groups"].values() for name in names] + sets["singles"]
    assert all(f"`{name}`" in licence for name in names)
