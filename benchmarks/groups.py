"""Similar-set grouping speed: 100k random unit vectors through an HNSW index, and a real library.

Times the HNSW build and `group_vectors` separately, on pure random vectors and on the same
count with planted near-duplicate sets (so the linkage has real work), and reports how many
planted sets came back exactly. With `--library`, also times `find_groups` on that library
and, given the collection's `sets.json`, counts per threshold the true sets found exactly
("exact") and the groups lying wholly inside one true set ("pure").

    python -m benchmarks.groups
    python -m benchmarks.groups --library /tmp/samples-lib --truth resources/samples/sets.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from retrieval_app.core.groups import DEFAULT_NEIGHBOURS, find_groups, group_vectors
from retrieval_app.core.vector_index import HnswIndex

from .common import command_line, save, stamped


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--max-distance", type=float, default=0.35)
    parser.add_argument("--planted", type=float, default=0.2, help="share of vectors in planted sets of 2-5")
    parser.add_argument("--neighbours", type=int, default=DEFAULT_NEIGHBOURS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--library", type=Path, help="an indexed library to time find_groups on")
    parser.add_argument("--truth", type=Path, help="sets.json of the library's collection (file names)")
    parser.add_argument(
        "--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8]
    )
    return parser.parse_args(argv)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def synthetic(
    count: int, dim: int, planted: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[set[int]]]:
    """Random unit vectors; a `planted` share of them form sets of 2-5 copies about 0.14 from an original (0.2 apart)."""
    vectors = unit(rng.normal(size=(count, dim)))
    sets: list[set[int]] = []
    row = 0
    while row < int(count * planted):
        size = min(int(rng.integers(2, 6)), count - row)
        copies = vectors[row] + rng.normal(scale=0.2 / np.sqrt(2 * dim), size=(size - 1, dim))
        vectors[row + 1 : row + size] = unit(copies)
        sets.append(set(range(row, row + size)))
        row += size
    return vectors, sets


def run_synthetic(args: argparse.Namespace, planted: float) -> dict:
    rng = np.random.default_rng(args.seed)
    vectors, truth = synthetic(args.count, args.dim, planted, rng)
    ids = np.arange(args.count, dtype=np.int64)
    start = time.perf_counter()
    index = HnswIndex(args.dim, capacity=args.count)
    index.add(ids, vectors)
    build = time.perf_counter() - start
    start = time.perf_counter()
    groups = group_vectors(ids, vectors, index, args.max_distance, k=args.neighbours)
    seconds = time.perf_counter() - start
    found = {frozenset(m.id for m in g.members) for g in groups}
    return {
        "data": f"{args.count // 1000}k random unit {args.dim}-d"
        + (f", {planted:.0%} planted" if planted else ""),
        "build_s": round(build, 2),
        "groups_s": round(seconds, 2),
        "groups": len(groups),
        "true_sets": len(truth),
        "found_exactly": sum(frozenset(s) in found for s in truth),
        "pure": sum(any(g <= s for s in truth) for g in map(set, found)) if truth else None,
    }


def run_library(args: argparse.Namespace) -> list[dict]:
    from retrieval_app.core.library import Library

    truth = None
    if args.truth:
        truth = [set(names) for names in json.loads(args.truth.read_text())["groups"].values()]
    rows = []
    with Library.open(args.library) as library:
        library.index_for("euclidean")  # load the index outside the timing
        count = len(library.catalogue.indexed_ids())
        for threshold in args.thresholds:
            start = time.perf_counter()
            groups = find_groups(library, max_distance=threshold, k=args.neighbours)
            seconds = time.perf_counter() - start
            found = [{os.path.basename(m.path) for m in g.members} for g in groups]
            row = {
                "data": f"library {args.library.name} ({count} images), max distance {threshold}",
                "build_s": None,
                "groups_s": round(seconds, 3),
                "groups": len(groups),
                "true_sets": len(truth) if truth else None,
                "found_exactly": sum(s in found for s in truth) if truth else None,
                "pure": sum(any(g <= s for s in truth) for g in found) if truth else None,
            }
            rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    header = f"{'data':58} {'build s':>8} {'groups s':>9} {'groups':>7} {'pure':>6} {'true':>6} {'exact':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        build = "-" if r["build_s"] is None else f"{r['build_s']:.2f}"
        true = "-" if r["true_sets"] is None else str(r["true_sets"])
        exact = "-" if r["found_exactly"] is None else str(r["found_exactly"])
        pure = "-" if r["pure"] is None else str(r["pure"])
        print(f"{r['data']:58} {build:>8} {r['groups_s']:>9} {r['groups']:>7} {pure:>6} {true:>6} {exact:>6}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [run_synthetic(args, 0.0)]
    if args.planted:
        rows.append(run_synthetic(args, args.planted))
    if args.library:
        rows += run_library(args)
    print_table(rows)
    save(
        stamped("groups"),
        {"command": command_line("benchmarks.groups", argv), "args": vars(args), "rows": rows},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
