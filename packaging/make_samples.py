"""Build the sample collection in `resources/samples/`: originals, edited copies and strangers.

Originals are public-domain / CC0 photographs bundled with scikit-image plus scenes painted by
`sample_scenes.py`; each gets a few edited copies (crops, resizes, re-encodes, rotations, colour
shifts, flips) so that a similarity search has true answers to find. Writes the images,
`sets.json` (which files belong together) and `LICENSE.md` (where every original comes from).
Deterministic: the same inputs and library versions give byte-identical files.

    .venv/bin/pip install --no-deps scikit-image==0.26.0   # only its data files are read
    .venv/bin/python packaging/make_samples.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from sample_scenes import SCENES

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "resources" / "samples"
IMAGE_SUFFIXES = (".jpg", ".png", ".webp")
EXIF_ORIENTATION = 0x0112

Edit = Callable[[Image.Image], Image.Image]


def unchanged(image: Image.Image) -> Image.Image:
    return image


@dataclass(frozen=True)
class Source:
    """Where an original comes from, for LICENSE.md."""

    title: str
    origin: str
    licence: str


@dataclass(frozen=True)
class Copy:
    """One file of a group: the original (suffix "") or an edited copy of it."""

    suffix: str
    ext: str
    edit: str
    apply: Edit = unchanged
    quality: int = 90
    exif_orientation: int | None = None


@dataclass(frozen=True)
class Group:
    """An original image, how to obtain it, and the files written from it."""

    name: str
    load: Callable[[], Image.Image]
    source: Source
    copies: tuple[Copy, ...]


def crop(left: float, top: float, right: float, bottom: float) -> Edit:
    """Keep the box given as fractions of width and height."""

    def apply(image: Image.Image) -> Image.Image:
        w, h = image.size
        return image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))

    return apply


def longest_side(pixels: int) -> Edit:
    """Resize so that the longer side is `pixels`, keeping the aspect ratio."""

    def apply(image: Image.Image) -> Image.Image:
        factor = pixels / max(image.size)
        size = (round(image.width * factor), round(image.height * factor))
        return image.resize(size, Image.Resampling.LANCZOS)

    return apply


def tilt(degrees: float) -> Edit:
    """Rotate by a small angle and crop to the largest same-shaped rectangle with no empty corners."""

    def apply(image: Image.Image) -> Image.Image:
        w, h = image.size
        angle = math.radians(abs(degrees))
        cos, sin = math.cos(angle), math.sin(angle)
        keep = min(w / (w * cos + h * sin), h / (w * sin + h * cos))
        rotated = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
        margin_w, margin_h = w * (1 - keep) / 2, h * (1 - keep) / 2
        return rotated.crop((round(margin_w), round(margin_h), round(w - margin_w), round(h - margin_h)))

    return apply


def adjust(brightness: float = 1.0, contrast: float = 1.0, colour: float = 1.0) -> Edit:
    """Brightness, contrast and saturation factors (1 = unchanged), as a photo editor applies them."""

    def apply(image: Image.Image) -> Image.Image:
        image = ImageEnhance.Brightness(image).enhance(brightness)
        image = ImageEnhance.Contrast(image).enhance(contrast)
        return ImageEnhance.Color(image).enhance(colour)

    return apply


def tint(red: float, green: float, blue: float) -> Edit:
    """Scale the colour channels: a white-balance shift."""

    def apply(image: Image.Image) -> Image.Image:
        pixels = np.asarray(image.convert("RGB"), np.float32) * np.array([red, green, blue], np.float32)
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    return apply


def duotone(dark: tuple[int, int, int], light: tuple[int, int, int]) -> Edit:
    """Map grey levels onto a two-colour ramp (a grey texture photo becomes brick or grass)."""

    def apply(image: Image.Image) -> Image.Image:
        return ImageOps.colorize(image.convert("L"), black=dark, white=light)

    return apply


def then(*edits: Edit) -> Edit:
    """Apply edits left to right."""

    def apply(image: Image.Image) -> Image.Image:
        for edit in edits:
            image = edit(image)
        return image

    return apply


def mirror(image: Image.Image) -> Image.Image:
    return ImageOps.mirror(image)


def quarter_turn(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_270)


def greyscale(image: Image.Image) -> Image.Image:
    return image.convert("L")


def sepia(image: Image.Image) -> Image.Image:
    return ImageOps.colorize(image.convert("L"), black=(38, 24, 12), white=(250, 236, 206))


def stored_sideways(image: Image.Image) -> Image.Image:
    """Pixels turned a quarter anticlockwise, as a camera held upright writes them (EXIF 6 fixes it)."""
    return image.transpose(Image.Transpose.ROTATE_90)


def build_groups(skimage_data: Path) -> tuple[list[Group], list[Group]]:
    """The plan: groups of original + edited copies, and unrelated single images."""

    def photo(filename: str, *edits: Edit) -> Callable[[], Image.Image]:
        return lambda: then(*edits)(Image.open(skimage_data / filename).convert("RGB"))

    def scene(name: str, size: tuple[int, int], seed: int) -> Callable[[], Image.Image]:
        return lambda: SCENES[name](size, seed)

    def skimage_source(title: str, credit: str, licence: str) -> Source:
        return Source(title, f"scikit-image 0.26 `skimage/data`; {credit}", licence)

    def made(title: str) -> Source:
        return Source(
            title,
            "painted by `packaging/sample_scenes.py` (size and seed in `make_samples.py`)",
            "CC0-1.0, dedicated to the public domain by the Lookalike authors",
        )

    original = Copy("", ".jpg", "original", quality=92)

    groups = [
        Group(
            "astronaut",
            photo("astronaut.png"),
            skimage_source(
                "Astronaut Eileen Collins", "NASA, via the NASA Great Images database", "Public domain (NASA)"
            ),
            (
                original,
                Copy(
                    "-crop",
                    ".jpg",
                    "crop to the face, enlarged to 512 px",
                    then(crop(0.1, 0.0, 0.8, 0.7), longest_side(512)),
                ),
                Copy("-bw", ".jpg", "black and white", greyscale, quality=85),
                Copy("-small", ".webp", "resized to 400 px, WebP", longest_side(400), quality=80),
            ),
        ),
        Group(
            "cat",
            photo("chelsea.png"),
            skimage_source("Chelsea the cat", "photograph by Stéfan van der Walt", "CC0-1.0"),
            (
                original,
                Copy("-mirror", ".jpg", "mirrored left to right", mirror),
                Copy(
                    "-warm",
                    ".webp",
                    "warmer white balance, brighter",
                    then(tint(1.12, 1.0, 0.82), adjust(1.1)),
                ),
                Copy("-lowq", ".jpg", "re-encoded at JPEG quality 20", quality=20),
                Copy(
                    "-exif",
                    ".jpg",
                    "pixels stored sideways with EXIF orientation 6 (shows upright)",
                    stored_sideways,
                    exif_orientation=6,
                ),
            ),
        ),
        Group(
            "coffee",
            photo("coffee.png"),
            skimage_source(
                "Coffee cup", "photograph by Rachel Michetti, courtesy of Pikolo Espresso Bar", "CC0-1.0"
            ),
            (
                original,
                Copy("-crop", ".jpg", "tight crop (70 %)", crop(0.15, 0.1, 0.85, 0.9)),
                Copy("-tilted", ".jpg", "rotated 5 degrees and cropped", tilt(5)),
                Copy("-dark", ".webp", "under-exposed, WebP", adjust(0.62, 1.05), quality=82),
            ),
        ),
        Group(
            "rocket",
            photo("rocket.jpg"),
            skimage_source(
                "Falcon 9 launch with DSCOVR", "SpaceX Photos", "Public domain (released by SpaceX)"
            ),
            (
                original,
                Copy("-portrait", ".jpg", "portrait crop of the centre", crop(0.28, 0.0, 0.72, 1.0)),
                Copy("-vivid", ".jpg", "more contrast and saturation", adjust(1.0, 1.35, 1.4)),
            ),
        ),
        Group(
            "hubble",
            photo("hubble_deep_field.jpg"),
            skimage_source("Hubble eXtreme Deep Field", "NASA / HubbleSite", "Public domain (NASA)"),
            (
                original,
                Copy("-small", ".jpg", "resized to 500 px, JPEG quality 70", longest_side(500), quality=70),
                Copy("-turned", ".webp", "rotated a quarter turn clockwise, WebP", quarter_turn, quality=80),
            ),
        ),
        Group(
            "camera",
            lambda: Image.open(skimage_data / "camera.png").convert("L"),
            skimage_source("Photographer with a camera", "photograph by Lav Varshney", "CC0-1.0"),
            (
                Copy("", ".png", "original (greyscale PNG)"),
                Copy("-sepia", ".jpg", "sepia toned", sepia),
                Copy("-crop", ".jpg", "crop to the photographer", crop(0.15, 0.0, 0.85, 0.85)),
            ),
        ),
        Group(
            "brick",
            photo("brick.png", duotone((58, 22, 16), (214, 132, 100))),
            skimage_source("Brick wall (CC0 Textures, Bricks25), tinted here", "CC0 Textures", "CC0-1.0"),
            (
                original,
                Copy("-grey", ".jpg", "black and white", greyscale, quality=85),
                Copy(
                    "-crop",
                    ".webp",
                    "crop of the lower right, enlarged to 512 px",
                    then(crop(0.4, 0.4, 1.0, 1.0), longest_side(512)),
                    quality=85,
                ),
            ),
        ),
        Group(
            "alps",
            scene("alpine_sunset", (1200, 800), 7),
            made("Alpine sunset"),
            (
                original,
                Copy("-crop", ".jpg", "crop of the right side", crop(0.32, 0.08, 1.0, 0.92)),
                Copy("-small", ".jpg", "resized to 600 px, JPEG quality 55", longest_side(600), quality=55),
                Copy(
                    "-dusk",
                    ".webp",
                    "darker and cooler, WebP",
                    then(adjust(0.7, 1.0, 0.8), tint(0.9, 0.95, 1.1)),
                ),
            ),
        ),
        Group(
            "lake",
            scene("mountain_lake", (1024, 683), 11),
            made("Mountain lake"),
            (
                original,
                Copy("-mirror", ".jpg", "mirrored left to right", mirror),
                Copy("-tilted", ".jpg", "rotated -3 degrees and cropped", tilt(-3)),
            ),
        ),
        Group(
            "dunes",
            scene("desert_dunes", (1100, 733), 11),
            made("Desert dunes"),
            (
                original,
                Copy("-crop", ".webp", "crop of the left half", crop(0.0, 0.2, 0.55, 1.0), quality=82),
                Copy("-lowq", ".jpg", "re-encoded at JPEG quality 25", quality=25),
            ),
        ),
        Group(
            "skyline",
            scene("night_skyline", (1200, 675), 7),
            made("City skyline at night"),
            (
                original,
                Copy("-bright", ".jpg", "brightened", adjust(1.4, 0.95)),
                Copy("-crop", ".jpg", "crop of the left 60 %", crop(0.0, 0.0, 0.6, 1.0)),
            ),
        ),
        Group(
            "bauhaus",
            scene("bauhaus_print", (800, 800), 7),
            made("Geometric print"),
            (
                Copy("", ".png", "original (PNG)"),
                Copy("-turned", ".jpg", "rotated a quarter turn clockwise", quarter_turn),
                Copy("-faded", ".jpg", "faded colours", adjust(1.06, 0.8, 0.45)),
                Copy("-small", ".webp", "resized to 450 px, WebP", longest_side(450), quality=80),
            ),
        ),
        Group(
            "aurora",
            scene("aurora", (1000, 667), 11),
            made("Northern lights"),
            (
                original,
                Copy("-crop", ".jpg", "crop of the upper middle", crop(0.2, 0.0, 0.85, 0.7)),
                Copy("-small", ".webp", "resized to 480 px, WebP", longest_side(480), quality=80),
            ),
        ),
    ]
    singles = [
        Group(
            "grass",
            photo("grass.png", duotone((18, 40, 10), (170, 214, 96))),
            skimage_source("Grass, tinted here", '"Grass 01" by linolafett on DeviantArt', "CC0-1.0"),
            (original,),
        ),
        Group(
            "gravel",
            lambda: Image.open(skimage_data / "gravel.png").convert("L"),
            skimage_source("Gravel (CC0 Textures, Gravel04)", "CC0 Textures", "CC0-1.0"),
            (Copy("", ".png", "original (greyscale PNG)"),),
        ),
        Group("meadow", scene("green_meadow", (960, 640), 11), made("Green meadow"), (original,)),
    ]
    return groups, singles


def write_copy(image: Image.Image, copy: Copy, target: Path) -> None:
    """Encode one file; no metadata except an EXIF orientation where the copy asks for one."""
    options: dict[str, object] = {}
    if copy.ext == ".jpg":
        options = {"quality": copy.quality, "optimize": True}
    elif copy.ext == ".webp":
        options = {"quality": copy.quality, "method": 6}
    elif copy.ext == ".png":
        options = {"optimize": True}
    if copy.exif_orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = copy.exif_orientation
        options["exif"] = exif.tobytes()
    image.save(target, **options)


def licence_text(groups: list[Group], singles: list[Group], files: dict[str, list[str]]) -> str:
    """LICENSE.md: every original, its files, where it comes from and under which licence."""
    lines = [
        "# Sample collection: sources and licences",
        "",
        "Made by `packaging/make_samples.py`; do not edit by hand. Every original below is in the",
        "public domain or under CC0-1.0, and so are the edited copies made from it.",
        "",
        "| files | original | source | licence |",
        "| --- | --- | --- | --- |",
    ]
    for group in [*groups, *singles]:
        names = ", ".join(f"`{name}`" for name in files[group.name])
        src = group.source
        lines.append(f"| {names} | {src.title} | {src.origin} | {src.licence} |")
    lines += [
        "",
        "scikit-image's data files and their licences are described in `skimage/data/_fetchers.py`",
        "of scikit-image 0.26.0 (one docstring per image).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the sample images, sets.json and LICENSE.md, replacing any earlier images."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skimage-data", type=Path, help="scikit-image's `data` folder (found if installed)")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    args = parser.parse_args(argv)
    skimage_data = args.skimage_data
    if skimage_data is None:
        spec = importlib.util.find_spec("skimage")
        if spec is None or not spec.submodule_search_locations:
            print("error: scikit-image is not installed; pass --skimage-data DIR", file=sys.stderr)
            return 2
        skimage_data = Path(next(iter(spec.submodule_search_locations))) / "data"

    groups, singles = build_groups(skimage_data)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.iterdir():
        if stale.suffix in IMAGE_SUFFIXES:
            stale.unlink()

    files: dict[str, list[str]] = {}
    edits: dict[str, str] = {}
    for group in [*groups, *singles]:
        base = group.load()
        names = []
        for copy in group.copies:
            name = f"{group.name}{copy.suffix}{copy.ext}"
            write_copy(copy.apply(base), copy, args.out / name)
            names.append(name)
            edits[name] = copy.edit
        files[group.name] = names
        print(f"{group.name}: {', '.join(names)}")

    sets = {
        "about": "True groups of the sample collection: each group lists its original first, then edited "
        "copies of it. Singles are unrelated to everything else. Made by packaging/make_samples.py.",
        "groups": {group.name: files[group.name] for group in groups},
        "singles": [name for group in singles for name in files[group.name]],
        "edits": edits,
    }
    (args.out / "sets.json").write_text(
        json.dumps(sets, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (args.out / "LICENSE.md").write_text(licence_text(groups, singles, files), encoding="utf-8")
    total = sum(path.stat().st_size for path in args.out.iterdir())
    print(f"{len(edits)} images, {total / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
