"""Generated photo folders with known tiers and keepers, for the tier, keeper and clean-up tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from tests.imagegen import original

SIZE = (480, 360)


def pan(seed: int, shift: float) -> Image.Image:
    """Another shot of scene `seed`: the camera moved by `shift` of the width."""
    scene = original(seed, (int(SIZE[0] * 1.5), int(SIZE[1] * 1.25)))
    left = int(SIZE[0] * shift)
    return scene.crop((left, 0, left + SIZE[0], SIZE[1]))


def write_duplicates(folder: Path) -> dict[str, str]:
    """Three sets and two unrelated photos; returns {role: absolute path}.

    - set "png": `png/scene.png` (the keeper: lossless), `copies/scene.png` (exact copy),
      `png/scene-reencoded.jpg` (same picture, JPEG of the same pixels);
    - set "big": `big/large.jpg` (keeper: 4 × the pixels), `big/small.jpg` (same picture, resized);
    - set "ref": `reference/small.jpg` in a reference folder (never moved), `other/large.jpg`
      (keeper by pixels);
    - `unrelated-*.jpg`, in no set.
    """
    paths = {
        "png_keeper": folder / "png" / "scene.png",
        "png_copy": folder / "copies" / "scene.png",
        "png_reencoded": folder / "png" / "scene-reencoded.jpg",
        "big_keeper": folder / "big" / "large.jpg",
        "big_small": folder / "big" / "small.jpg",
        "ref_small": folder / "reference" / "small.jpg",
        "ref_large": folder / "other" / "large.jpg",
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    scene = pan(11, 0.0)
    scene.save(paths["png_keeper"])
    shutil.copyfile(paths["png_keeper"], paths["png_copy"])
    scene.save(paths["png_reencoded"], quality=90)
    big = original(12, (SIZE[0] * 2, SIZE[1] * 2))
    big.save(paths["big_keeper"], quality=92)
    big.resize(SIZE, Image.Resampling.LANCZOS).save(paths["big_small"], quality=92)
    third = original(13, (SIZE[0] * 2, SIZE[1] * 2))
    third.save(paths["ref_large"], quality=92)
    third.resize(SIZE, Image.Resampling.LANCZOS).save(paths["ref_small"], quality=92)
    for i in range(2):
        path = folder / f"unrelated-{i}.jpg"
        original(700 + i, SIZE).save(path, quality=90)
        paths[f"unrelated_{i}"] = path
    return {role: str(path.resolve()) for role, path in paths.items()}
