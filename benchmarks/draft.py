"""JPEG draft decoding: `load_image(path, min_side)` vs a full decode, on 12 MP photos.

Draft mode asks libjpeg for a 1/2, 1/4 or 1/8 scaled decode (the smallest that still covers
`min_side`), which skips most of the inverse DCT and colour conversion; the entropy decoding
of the whole file remains, so the speed-up is below the pixel ratio.

    python -m benchmarks.draft --files 16 --runs 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PIL import Image

from foundation.images import load_image

from .common import median, save, table, write_photos


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--min-side", type=int, default=224, help="the model's input size")
    parser.add_argument("--name", default="draft", help="results/NAME.json")
    return parser.parse_args(argv)


def full_decode(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.convert("RGB").size


def draft_decode(path: Path, min_side: int) -> tuple[int, int]:
    return load_image(path, min_side=min_side).size


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lookalike-draft-") as tmp:
        paths = write_photos(Path(tmp), args.files, sizes=[(4000, 3000)], distinct=args.files)
        megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        full_ms, draft_ms = [], []
        for _ in range(args.runs):
            full = draft = 0.0
            for path in paths:  # interleaved per file, so load changes hit both alike
                start = time.perf_counter()
                full_size = full_decode(path)
                middle = time.perf_counter()
                draft_size = draft_decode(path, args.min_side)
                full += middle - start
                draft += time.perf_counter() - middle
            full_ms.append(full / len(paths) * 1e3)
            draft_ms.append(draft / len(paths) * 1e3)
    speedup = median(full_ms) / median(draft_ms)
    print(f"{args.files} JPEGs of 4000x3000 (12 MP, {megabytes:.1f} MB each), decoded to RGB")
    rows = [
        [f"full decode -> {full_size[0]}x{full_size[1]}", full_ms[-1], median(full_ms)],
        [
            f"draft (min side {args.min_side}) -> {draft_size[0]}x{draft_size[1]}",
            draft_ms[-1],
            median(draft_ms),
        ],
    ]
    print(table(["ms per file", "last run", f"median of {args.runs}"], rows))
    print(f"draft speed-up = {speedup:.1f}x")
    result = {
        "files": args.files,
        "megabytes_per_file": megabytes,
        "min_side": args.min_side,
        "full_ms": full_ms,
        "draft_ms": draft_ms,
        "draft_size": draft_size,
        "speedup": speedup,
    }
    save(args.name, result)
    return result


if __name__ == "__main__":
    main()
