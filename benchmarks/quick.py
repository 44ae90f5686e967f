"""`make bench`: the quick versions of every performance figure, a few minutes in all.

Smaller inputs than the full figures in PERFORMANCE.md (which gives their commands); each
script still prints its table and writes benchmarks/results/NAME.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import draft, hnsw, indexing, memory, query, rescan, trainer

QUICK: list[tuple[str, Callable[[list[str]], dict], str]] = [
    ("draft decoding", draft.main, "--files 8 --runs 3 --name draft-quick"),
    ("re-scan", rescan.main, "--files 20000 --runs 3 --name rescan-quick"),
    ("indexing", indexing.main, "--images 128 --naive-images 8 --runs 2 --chunk 64 --name indexing-quick"),
    ("query", query.main, "--library-images 32 --queries 2 --runs 3 --vectors 20000 --name query-quick"),
    (
        "hnsw",
        hnsw.main,
        "--vectors 10000 --sweep-vectors 10000 --queries 100 --sweep-m 16 --sweep-efc 200 --name hnsw-quick",
    ),
    ("trainer", trainer.main, "--batch 32 --image-size 128 --steps 2 --name trainer-quick"),
    ("memory", memory.main, "--photos 64 --files 20000 --vectors 2000 --name memory-quick"),
]


def main() -> None:
    started = time.perf_counter()
    for title, run, argv in QUICK:
        print(f"\n== {title}: {argv}")
        run(argv.split())
    print(f"\nquick benchmarks done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
