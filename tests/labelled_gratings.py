"""Generated labelled folders for trainer tests: a class is a stripe orientation and frequency.

Colours, phase and noise vary freely within a class, so colour (much of what pretrained pooled
features describe) says little about the class, while orientation and frequency do. Classes of
neighbouring orientations are near each other, so what a network learns on some classes
carries over to unseen ones, as the zero-shot protocol needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATIONS = 8
FREQUENCIES = (3, 6)  # cycles per image side


def write_labelled_gratings(
    root: Path, classes: int = 16, per_class: int = 10, size: int = 48, seed: int = 0
) -> list[str]:
    """Write `root/<class>/<i>.png` for up to 16 classes and return the class names."""
    if classes > ORIENTATIONS * len(FREQUENCIES):
        raise ValueError(f"at most {ORIENTATIONS * len(FREQUENCIES)} classes")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    names = []
    for c in range(classes):
        orientation, frequency = c % ORIENTATIONS, FREQUENCIES[c // ORIENTATIONS]
        name = f"angle{orientation}-freq{frequency}"
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            angle = np.pi * orientation / ORIENTATIONS + rng.normal(0, 0.05)
            phase = rng.uniform(0, 2 * np.pi)
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (np.cos(angle) * x + np.sin(angle) * y) + phase)
            dark, light = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
            pixels = (
                dark * (1 - wave[..., None]) + light * wave[..., None] + rng.normal(0, 15, (size, size, 3))
            )
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(folder / f"{i:03d}.png")
        names.append(name)
    return names
