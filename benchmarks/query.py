"""Query latency: one image file through `Library.search` (decode + embed + search), and search alone.

End to end uses the default model on a small indexed library, with 2 MP and 12 MP query files
that are not in it. Search alone times one `HnswIndex` query (default M / ef_construction, ef
tuned as the library tunes it) at `--vectors` clustered unit vectors, beside exact numpy search
on the same set, with fresh queries from the same clusters.

    python -m benchmarks.query --vectors 100000 --runs 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval_app.core.ef_tuning import tune_ef
from retrieval_app.core.library import DEFAULT_K, Library
from retrieval_app.core.vector_index import HNSW_EF_CONSTRUCTION, HNSW_M, ExactIndex

from .common import median, save, table, write_photos
from .hnsw import K, build, clustered, data_and_queries, paired, recall

QUERY_SIZES = {"2 MP": (1632, 1224), "12 MP": (4000, 3000)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library-images", type=int, default=48)
    parser.add_argument("--queries", type=int, default=4, help="query files per size")
    parser.add_argument("--runs", type=int, default=5, help="passes over the query files")
    parser.add_argument("--vectors", type=int, default=100_000, help="index size for search alone")
    parser.add_argument("--dim", type=int, default=128, help="vector size for search alone")
    parser.add_argument("--name", default="query", help="results/NAME.json")
    return parser.parse_args(argv)


def end_to_end(args: argparse.Namespace, tmp: Path) -> list[dict]:
    """Median seconds of `Library.search(path)` per query size, with its parts timed separately."""
    photos = write_photos(tmp / "photos", args.library_images, sizes=[(1632, 1224)])
    rows = []
    with Library.open(tmp / "library", device="cpu") as library:
        library.index([photos[0].parent])
        embedder = library.embedder
        for label, size in QUERY_SIZES.items():
            queries = [str(p) for p in write_photos(tmp / f"q{size[0]}", args.queries, sizes=[size])]
            library.search(queries[0])  # warm-up
            total, decode, embed, search = [], [], [], []
            for _ in range(args.runs):
                for path in queries:
                    t0 = time.perf_counter()
                    results = library.search(path, k=DEFAULT_K)
                    t1 = time.perf_counter()
                    tensor = embedder.load_tensor(path)
                    t2 = time.perf_counter()
                    vector = embedder.embed_tensors(tensor.unsqueeze(0))[0]
                    t3 = time.perf_counter()
                    library.search_vector(vector, k=DEFAULT_K)
                    t4 = time.perf_counter()
                    assert len(results) == DEFAULT_K
                    total.append(t1 - t0)
                    decode.append(t2 - t1)
                    embed.append(t3 - t2)
                    search.append(t4 - t3)
            rows.append(
                {
                    "query": label,
                    "end_to_end_ms": median(total) * 1e3,
                    "last_ms": total[-1] * 1e3,
                    "decode_ms": median(decode) * 1e3,
                    "embed_ms": median(embed) * 1e3,
                    "search_ms": median(search) * 1e3,
                }
            )
    return rows


def search_alone(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(1)
    data, queries = data_and_queries(clustered, args.vectors, args.dim, 50, rng)
    index, build_s = build(data, HNSW_M, HNSW_EF_CONSTRUCTION)
    tune_ef(index, k=DEFAULT_K)
    exact = ExactIndex(args.dim)
    exact.add(np.arange(len(data)), data)
    found, hnsw_s, exact_s = paired(index, exact, queries)
    return {
        "vectors": args.vectors,
        "dim": args.dim,
        "build_s": build_s,
        "ef": index.ef,
        "recall_at_10": recall(found, exact.query(queries, K)[0]),
        "hnsw_ms": median(hnsw_s) * 1e3,
        "exact_ms": median(exact_s) * 1e3,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lookalike-query-") as tmp:
        rows = end_to_end(args, Path(tmp))
    print(f"Library.search(file), default model, {args.library_images} images indexed, k={DEFAULT_K}")
    print(
        table(
            ["query file", "last run ms", "median ms", "decode", "embed", "search"],
            [
                [r["query"], r["last_ms"], r["end_to_end_ms"], r["decode_ms"], r["embed_ms"], r["search_ms"]]
                for r in rows
            ],
        )
    )
    alone = search_alone(args)
    print(
        f"search alone at {alone['vectors']} x {alone['dim']}: HNSW {alone['hnsw_ms']:.3f} ms "
        f"(tuned ef {alone['ef']}, recall@10 {alone['recall_at_10']:.3f}), "
        f"exact numpy {alone['exact_ms']:.2f} ms per query (target < 2 ms)"
    )
    result = {"end_to_end": rows, "search_alone": alone}
    save(args.name, result)
    return result


if __name__ == "__main__":
    main()
