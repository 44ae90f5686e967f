"""Shared benchmark helpers: photo-like JPEGs, repeated timing, tables and JSON results.

The machines these run on are shared and noisy, so every figure compares its pair side by
side in one process, repeats it, and reports medians and the ratio of medians.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from tests.imagegen import original  # run from the repo root: `python -m benchmarks.NAME`

RESULTS = Path(__file__).resolve().parent / "results"
PHOTO_SIZES = ((1632, 1224), (2592, 1944), (3264, 2448), (4000, 3000))  # 2, 5, 8 and 12 MP


def machine() -> dict:
    """What the numbers were measured on, including how busy the machine was."""
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_avg_1m_at_start": round(load[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def _grain(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Per-pixel sensor-like noise, so files have the entropy of real photos rather than flat colour."""
    w, h = size
    return rng.normal(0.0, 6.0, (h, w, 1)).astype(np.float32)


def write_photos(
    folder: Path, count: int, sizes: Sequence[tuple[int, int]] = PHOTO_SIZES, distinct: int = 64
) -> list[Path]:
    """`count` photo-like JPEGs cycling through `sizes`: upscaled generated scenes plus grain.

    Only `distinct` scenes are encoded (that is the slow part); the rest are byte copies, which
    cost the decoder exactly the same.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    grains = {size: _grain(size, rng) for size in sizes}
    paths = []
    for i in range(count):
        path = folder / f"photo{i:05d}.jpg"
        if path.exists():
            pass
        elif i >= distinct:
            shutil.copyfile(paths[i % distinct], path)
        else:
            size = sizes[i % len(sizes)]
            scene = original(i, (size[0] // 8, size[1] // 8)).resize(size, Image.Resampling.BILINEAR)
            grain = np.roll(grains[size], int(rng.integers(0, size[1])), axis=0)
            pixels = np.clip(np.asarray(scene, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def repeat(fn: Callable[[], float], runs: int) -> list[float]:
    """Call `fn` (which returns a measurement) `runs` times."""
    return [fn() for _ in range(runs)]


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A small fixed-width text table."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _plain(value: object) -> float | str:
    """JSON for what json cannot write: numpy and torch scalars as numbers, paths and the rest as text."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces a run, for its results file."""
    return f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv)


def stamped(name: str) -> str:
    """`name` with the time, for results that keep one file per run."""
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def save(name: str, payload: dict) -> Path:
    """Write `payload` plus the machine description to benchmarks/results/NAME.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=_plain))
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return path
