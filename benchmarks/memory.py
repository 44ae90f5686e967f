"""Peak resident memory of indexing, measured in parts and added up for a 100k-image library.

Each part runs in a fresh process (peak RSS is per process):
- pipeline: `Library.index` on N small photos with the default model (model, torch, decode window);
- catalogue: a first scan and a re-scan of F files (SQLite, the scan's per-file dicts);
- index: an `HnswIndex` of V vectors at the default model's size (1280), defaults M / ef_construction.
The 100k estimate adds the pipeline peak to the catalogue and index growth scaled linearly to
100k; the scaled parts are extrapolations and are labelled so.

    python -m benchmarks.memory --photos 300 --files 100000 --vectors 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .common import save, table

TARGET = 100_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300, help="photos indexed with the real model")
    parser.add_argument("--files", type=int, default=TARGET, help="files scanned into the catalogue")
    parser.add_argument("--vectors", type=int, default=10_000, help="vectors in the HNSW part")
    parser.add_argument("--part", choices=["pipeline", "catalogue", "index"], help=argparse.SUPPRESS)
    parser.add_argument("--name", default="memory", help="results/NAME.json")
    return parser.parse_args(argv)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    """This process image's peak RSS (VmHWM; ru_maxrss would carry over the parent's from before exec)."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def part_pipeline(photos: int, tmp: Path) -> dict:
    from retrieval_app.core.library import Library
    from tests.imagegen import original

    folder = tmp / "photos"
    folder.mkdir()
    for i in range(photos):
        original(i, (640, 480)).save(folder / f"p{i:05d}.jpg", quality=90)
    with Library.open(tmp / "library", device="cpu") as library:
        library.embedder  # noqa: B018 - load the model first to separate its share
        model_mb = peak_mb()
        report = library.index([folder])
    return {"photos": report.embedded, "after_model_mb": model_mb, "peak_mb": peak_mb()}


def part_catalogue(files: int, tmp: Path) -> dict:
    from retrieval_app.core.library import Library

    from .rescan import write_tree

    write_tree(tmp / "photos", files, 500)
    with Library.open(tmp / "library") as library:
        start = rss_mb()
        library.add_folder(tmp / "photos")
        library.scan()
        library.scan()
        return {"files": files, "start_mb": start, "peak_mb": peak_mb(), "growth_mb": peak_mb() - start}


def part_index(vectors: int) -> dict:
    from retrieval_app.core.vector_index import HnswIndex

    rng = np.random.default_rng(0)
    data = rng.standard_normal((vectors, 1280), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    start = rss_mb()
    index = HnswIndex(1280, capacity=vectors)
    index.add(np.arange(vectors), data)
    return {"vectors": vectors, "growth_mb": rss_mb() - start, "peak_mb": peak_mb()}


def child(part: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "benchmarks.memory", "--part", part]
    command += ["--photos", str(args.photos), "--files", str(args.files), "--vectors", str(args.vectors)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.part:
        with tempfile.TemporaryDirectory(prefix="lookalike-memory-") as tmp:
            if args.part == "pipeline":
                result = part_pipeline(args.photos, Path(tmp))
            elif args.part == "catalogue":
                result = part_catalogue(args.files, Path(tmp))
            else:
                result = part_index(args.vectors)
        print(json.dumps(result))
        return result
    pipeline, catalogue, index = (child(p, args) for p in ("pipeline", "catalogue", "index"))
    catalogue_100k = catalogue["growth_mb"] * TARGET / catalogue["files"]
    index_100k = index["growth_mb"] * TARGET / index["vectors"]
    estimate = pipeline["peak_mb"] + catalogue_100k + index_100k
    rows = [
        [f"indexing {pipeline['photos']} photos: after model load", "measured", pipeline["after_model_mb"]],
        [f"indexing {pipeline['photos']} photos: peak", "measured", pipeline["peak_mb"]],
        [f"scan + re-scan, {catalogue['files']} files: growth", "measured", catalogue["growth_mb"]],
        [f"HNSW 1280-d, {index['vectors']} vectors: growth", "measured", index["growth_mb"]],
        ["catalogue and scan at 100k", "scaled", catalogue_100k],
        ["HNSW 1280-d at 100k", "scaled", index_100k],
        ["indexing 100k: pipeline peak + both", "estimate", estimate],
    ]
    print(table(["resident memory", "how", "MB"], rows))
    print(f"estimated peak for 100k images: {estimate / 1024:.2f} GB (target < 2 GB)")
    result = {
        "pipeline": pipeline,
        "catalogue": catalogue,
        "index": index,
        "estimate_100k_mb": estimate,
    }
    save(args.name, result)
    return result


if __name__ == "__main__":
    main()
