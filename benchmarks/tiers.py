"""Calibrate the tier thresholds: pixel-print differences of same pictures vs other shots of a scene.

Every case starts from a shot: a window of a larger generated scene (test patterns and the
photo-like sample scenes). "Same picture" variants are that shot re-encoded, resized, converted,
lightly edited or cropped by a few per cent; "other shot" variants come from the same scene but
are another photo: the camera panned, zoomed, an object moved or added, or the view mirrored.
Prints the range of each family and the gap a threshold must sit in, and saves the figures.

    python -m benchmarks.tiers
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from retrieval_app.core.tiers import SAME_PICTURE_MAX, pixel_difference, pixel_print
from tests.imagegen import original

from .common import command_line, save, stamped

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))
from sample_scenes import alpine_sunset, desert_dunes, green_meadow, mountain_lake, night_skyline  # noqa: E402

SCENE = (960, 720)
SHOT = (0.1, 0.1, 0.8, 0.8)  # left, top, width, height as shares of the scene


def _window(scene: Image.Image, left: float, top: float, width: float, height: float) -> Image.Image:
    w, h = scene.size
    box = (int(left * w), int(top * h), int((left + width) * w), int((top + height) * h))
    return scene.crop(box).resize((640, 480), Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _via(image: Image.Image, fmt: str) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * share), int(h * share), int(w * (1 - share)), int(h * (1 - share))))


def _with_object(image: Image.Image, x: float, y: float, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    out = image.copy()
    w, h = out.size
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    ImageDraw.Draw(out).ellipse((x * w, y * h, x * w + w * 0.22, y * h + h * 0.28), fill=colour)
    return out


def same_pictures(shot: Image.Image) -> dict[str, Image.Image]:
    w, h = shot.size
    cases = {f"jpeg q{q}": _jpeg(shot, q) for q in (30, 50, 70, 95)}
    cases |= {f"resize {int(s * 100)} %": shot.resize((int(w * s), int(h * s))) for s in (0.25, 0.5, 0.9)}
    cases |= {"png": _via(shot, "PNG"), "webp": _via(shot, "WEBP")}
    cases |= {f"brightness {f:+.0%}": ImageEnhance.Brightness(shot).enhance(1 + f) for f in (-0.15, 0.15)}
    cases |= {f"contrast {f:+.0%}": ImageEnhance.Contrast(shot).enhance(1 + f) for f in (-0.15, 0.15)}
    cases |= {"blur 1 px": shot.filter(ImageFilter.GaussianBlur(1.0))}
    cases |= {f"crop {int(s * 100)} %": _crop(shot, s) for s in (0.02, 0.03, 0.04)}
    return cases


def other_shots(scene: Image.Image, shot: Image.Image, seed: int) -> dict[str, Image.Image]:
    left, top, width, height = SHOT
    cases = {f"pan {int(d * 100)} %": _window(scene, left + d, top, width, height) for d in (0.08, 0.12, 0.2)}
    cases |= {"tilt 10 %": _window(scene, left, top + 0.1, width, height)}
    cases |= {"zoom 15 %": _window(scene, left + 0.06, top + 0.06, width * 0.85, height * 0.85)}
    cases |= {"object added": _with_object(shot, 0.3, 0.3, seed)}
    cases |= {"object moved": _with_object(_with_object(shot, 0.55, 0.4, seed), 0.1, 0.2, seed)}
    cases |= {"mirrored": shot.transpose(Image.Transpose.FLIP_LEFT_RIGHT)}
    return cases


def scenes(count: int) -> list[tuple[str, Callable[[int], Image.Image]]]:
    painters = [alpine_sunset, mountain_lake, desert_dunes, night_skyline, green_meadow]
    made: list[tuple[str, Callable[[int], Image.Image]]] = []
    for seed in range(count):
        painter = painters[seed % len(painters)]
        made.append((f"{painter.__name__}-{seed}", lambda s, p=painter: p(SCENE, s)))
        made.append((f"pattern-{seed}", lambda s: original(s, SCENE)))
    return made


def measure(count: int, folder: Path) -> dict[str, list[tuple[str, float]]]:
    """{"same": [(case, difference)], "other": [...]} over `count` seeds of each scene kind."""
    found: dict[str, list[tuple[str, float]]] = {"same": [], "other": []}
    for name, paint in scenes(count):
        seed = int(name.rsplit("-", 1)[1])
        scene = paint(seed)
        shot = _window(scene, *SHOT)
        shot.save(folder / "shot.png")
        reference = pixel_print(folder / "shot.png")
        for family, cases in (("same", same_pictures(shot)), ("other", other_shots(scene, shot, seed))):
            for case, image in cases.items():
                path = folder / "case.png"
                image.save(path)
                found[family].append((f"{name}: {case}", pixel_difference(reference, pixel_print(path))))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=6, help="seeds per scene kind")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        found = measure(args.scenes, Path(tmp))
    same = max(found["same"], key=lambda item: item[1])
    other = min(found["other"], key=lambda item: item[1])
    print(f"same picture: {len(found['same'])} cases, widest {same[1]:.3f} ({same[0]})")
    print(f"other shots:  {len(found['other'])} cases, closest {other[1]:.3f} ({other[0]})")
    missed = [case for case, value in found["same"] if value > SAME_PICTURE_MAX]
    merged = [case for case, value in found["other"] if value <= SAME_PICTURE_MAX]
    print(f"threshold in use {SAME_PICTURE_MAX}: same pictures called other shots: {len(missed)} {missed}")
    print(f"  other shots called the same picture: {len(merged)} {merged}")
    by_case: dict[str, list[float]] = {}
    for family in found.values():
        for case, value in family:
            by_case.setdefault(case.split(": ", 1)[1], []).append(value)
    for case, values in by_case.items():
        finite = [v for v in values if math.isfinite(v)]
        low = f"{min(finite):.3f}" if finite else "inf"
        print(f"  {case:16s} {low} .. {max(values):.3f}")
    save(
        stamped("tiers"),
        {
            "command": command_line("benchmarks.tiers", argv),
            "same_widest": same,
            "other_closest": other,
            "threshold": SAME_PICTURE_MAX,
            "same_called_other": missed,
            "other_called_same": merged,
            "cases": {c: [min(v), max(v)] for c, v in by_case.items()},
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
