"""A generated photo folder whose sets of near-duplicates are known, for the groups and export tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance

from retrieval_app.core.library import Library
from tests.imagegen import original


def near_duplicates(image: Image.Image) -> dict[str, tuple[Image.Image, int]]:
    """Copies of `image` as {name: (picture, JPEG quality)}: re-encoded, resized, cropped, brightened."""
    w, h = image.size
    return {
        "original": (image, 92),
        "reencoded": (image, 60),
        "resized": (image.resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.LANCZOS), 85),
        "cropped": (image.crop((int(w * 0.03), int(h * 0.03), int(w * 0.97), int(h * 0.97))), 85),
        "brighter": (ImageEnhance.Brightness(image).enhance(1.12), 85),
    }


def write_similar_sets(folder: Path, sets: int = 4, unrelated: int = 4) -> list[set[str]]:
    """Sets of near-duplicates in sub-folders `set-N/`, unrelated photos at the top.

    Returns the true sets as absolute paths.
    """
    truth: list[set[str]] = []
    for i in range(sets):
        sub = folder / f"set-{i}"
        sub.mkdir(parents=True, exist_ok=True)
        for name, (picture, quality) in near_duplicates(original(100 + i)).items():
            picture.save(sub / f"{name}.jpg", quality=quality)
        truth.append({str(p.resolve()) for p in sub.iterdir()})
    for i in range(unrelated):
        original(500 + i).save(folder / f"unrelated-{i}.jpg", quality=90)
    return truth


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `folder` with its bytes and modification time, to prove nothing changed."""
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def index_similar_sets(root: Path) -> list[set[str]]:
    """Write the sets under `root/photos` and index them into the library `root/lib` with the
    default model (ImageNet EfficientNet-Lite0) at 128 px; returns the true sets."""
    truth = write_similar_sets(root / "photos")
    with Library.open(root / "lib", model="efficientnet-lite0", image_size=128) as library:
        library.index([root / "photos"])
    return truth
