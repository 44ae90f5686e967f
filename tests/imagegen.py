"""Deterministic generated photos for tests: distinct originals and their near-duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

# every way a photo can be turned or mirrored, by the name a test gives its copy
TURNS = {
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "flip-vertical": Image.Transpose.FLIP_TOP_BOTTOM,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def original(seed: int, size: tuple[int, int] = (256, 192)) -> Image.Image:
    """A colourful scene (gradient, shapes, texture) that differs clearly from other seeds."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * x / w + np.sin(angle) * y / h + 1) / 2
    base = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    freq = rng.uniform(0.02, 0.08, 2)
    texture = 40 * np.sin(freq[0] * x + rng.uniform(0, 6)) * np.cos(freq[1] * y)
    pixels = np.clip(base + texture[..., None] * rng.uniform(-1, 1, 3), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
        x1, y1 = x0 + rng.uniform(10, w / 2), y0 + rng.uniform(10, h / 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


def variant(image: Image.Image, kind: str) -> Image.Image:
    """A near-duplicate: resized, cropped, brightened, blurred or mirrored."""
    w, h = image.size
    if kind == "resized":
        return image.resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.LANCZOS)
    if kind == "crop":
        return image.crop((int(w * 0.06), int(h * 0.06), int(w * 0.94), int(h * 0.94)))
    if kind == "bright":
        return ImageEnhance.Brightness(image).enhance(1.2)
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(1.2))
    if kind == "mirror":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    raise ValueError(kind)


def write_collection(
    folder: Path, originals: int = 6, variants: tuple[str, ...] = ("resized",), seed: int = 0
) -> dict[str, list[Path]]:
    """Write originals (JPEG) and their variants; returns {original name: [original, variants...]}."""
    folder.mkdir(parents=True, exist_ok=True)
    sets: dict[str, list[Path]] = {}
    for i in range(originals):
        name = f"scene{i:02d}"
        image = original(seed * 1000 + i)
        path = folder / f"{name}.jpg"
        image.save(path, quality=92)
        members = [path]
        for kind in variants:
            copy = folder / f"{name}-{kind}.jpg"
            variant(image, kind).save(copy, quality=70)
            members.append(copy)
        sets[name] = members
    return sets
