"""HNSW vs exact search: recall@10 and speed-up at the fixed default ef and at the ef the
library tunes for itself, a recall-speed table over ef, and an M / ef_construction sweep.

Vectors are unit length (like the model's). Uniform random points on the sphere are the
hardest case for a graph index (no structure to exploit); a clustered set, closer to real
photo embeddings, is reported beside it. The exact baseline is `ExactIndex` (numpy). Recall is
measured on fresh queries drawn like the data, not on the library's own vectors (which the
tuner uses), so the two can be compared.

    python -m benchmarks.hnsw --vectors 1000000 --sweep-vectors 0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from retrieval_app.core.ef_tuning import EF_LADDER, tune_ef
from retrieval_app.core.library import DEFAULT_K
from retrieval_app.core.vector_index import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    ExactIndex,
    HnswIndex,
)

from .common import median, save, table

K = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=200_000, help="size of the headline sets")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--ef", type=int, nargs="+", default=list(EF_LADDER[2:]), help="ef values timed on the headline sets"
    )
    parser.add_argument(
        "--sweep-vectors", type=int, default=50_000, help="size of the M / ef_construction sweep (0: none)"
    )
    parser.add_argument("--sweep-set", choices=["uniform", "clustered"], default="uniform")
    parser.add_argument("--sweep-m", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--sweep-efc", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--sweep-ef", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--name", default="hnsw")
    return parser.parse_args(argv)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def uniform(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    return unit(rng.standard_normal((n, dim), dtype=np.float32))


def clustered(n: int, dim: int, rng: np.random.Generator, clusters: int = 1000) -> np.ndarray:
    centres = uniform(clusters, dim, rng)
    noise = rng.standard_normal((n, dim), dtype=np.float32) * (0.6 / np.sqrt(dim))
    return unit(centres[rng.integers(0, clusters, n)] + noise)


SETS = {"uniform": uniform, "clustered": clustered}


def data_and_queries(
    make: Callable[[int, int, np.random.Generator], np.ndarray],
    n: int,
    dim: int,
    queries: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """`n` vectors and `queries` fresh ones drawn from the same distribution (same clusters)."""
    both = make(n + queries, dim, rng)
    return both[:n], both[n:]


def build(data: np.ndarray, m: int, efc: int) -> tuple[HnswIndex, float]:
    index = HnswIndex(data.shape[1], m=m, ef_construction=efc, capacity=len(data))
    start = time.perf_counter()
    for begin in range(0, len(data), 50_000):
        chunk = data[begin : begin + 50_000]
        index.add(np.arange(begin, begin + len(chunk)), chunk)
    return index, time.perf_counter() - start


def latency(index: HnswIndex | ExactIndex, queries: np.ndarray) -> tuple[np.ndarray, float]:
    """Ids of the top K and the median seconds of one single-vector query (the app's case)."""
    ids, times = [], []
    for query in queries:
        start = time.perf_counter()
        found, _ = index.query(query[None, :], K)
        times.append(time.perf_counter() - start)
        ids.append(found[0])
    return np.stack(ids), median(times)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(f, t)) / K for f, t in zip(found, truth, strict=True)]))


def paired(
    hnsw: HnswIndex, exact: ExactIndex, queries: np.ndarray
) -> tuple[np.ndarray, list[float], list[float]]:
    """HNSW and exact answer each query in turn, so load from other processes hits both alike."""
    found, hnsw_s, exact_s = [], [], []
    for query in queries:
        start = time.perf_counter()
        ids, _ = hnsw.query(query[None, :], K)
        middle = time.perf_counter()
        exact.query(query[None, :], K)
        exact_s.append(time.perf_counter() - middle)
        hnsw_s.append(middle - start)
        found.append(ids[0])
    return np.stack(found), hnsw_s, exact_s


def headline(name: str, data: np.ndarray, queries: np.ndarray, efs: list[int]) -> dict:
    """Default M / ef_construction: build and tuning time, then recall@10 and latency against
    exact search at each ef, the fixed default and the tuned one included."""
    exact = ExactIndex(data.shape[1])
    exact.add(np.arange(len(data)), data)
    index, build_s = build(data, HNSW_M, HNSW_EF_CONSTRUCTION)
    truth, _ = exact.query(queries, K)
    start = time.perf_counter()
    tuning = tune_ef(index, k=DEFAULT_K)  # as the library does
    tune_s, tuned_ef = time.perf_counter() - start, index.ef
    rows = []
    for ef in sorted({*efs, HNSW_EF_SEARCH, tuned_ef}):
        index.set_ef(ef)
        found, hnsw_s, exact_s = paired(index, exact, queries)
        rows.append(
            {
                "ef": ef,
                "recall_at_10": recall(found, truth),
                "hnsw_ms": median(hnsw_s) * 1e3,
                "exact_ms": median(exact_s) * 1e3,
                "speedup": median([e / h for e, h in zip(exact_s, hnsw_s, strict=True)]),
            }
        )
    return {
        "set": name,
        "vectors": len(data),
        "build_s": build_s,
        "tune_s": tune_s,
        "tuned_ef": tuned_ef,
        "tuner_recall": tuning.recall,
        "by_ef": rows,
    }


def _at(result: dict, ef: int) -> dict:
    return next(row for row in result["by_ef"] if row["ef"] == ef)


def sweep(args: argparse.Namespace, rng: np.random.Generator) -> list[dict]:
    make = SETS[args.sweep_set]
    data, queries = data_and_queries(make, args.sweep_vectors, args.dim, args.queries, rng)
    exact = ExactIndex(args.dim)
    exact.add(np.arange(len(data)), data)
    truth, _ = exact.query(queries, K)
    rows = []
    for m in args.sweep_m:
        for efc in args.sweep_efc:
            index, build_s = build(data, m, efc)
            for ef in args.sweep_ef:
                index.set_ef(ef)
                found, seconds = latency(index, queries)
                rows.append(
                    {
                        "m": m,
                        "ef_construction": efc,
                        "ef": ef,
                        "build_s": build_s,
                        "recall_at_10": recall(found, truth),
                        "query_ms": seconds * 1e3,
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    results = []
    for name, make in SETS.items():
        data, queries = data_and_queries(make, args.vectors, args.dim, args.queries, rng)
        results.append(headline(name, data, queries, args.ef))
        del data
    print(
        f"{args.vectors} x {args.dim} unit vectors, M={HNSW_M} ef_construction={HNSW_EF_CONSTRUCTION}, "
        f"k={K}, {args.queries} fresh queries; default ef {HNSW_EF_SEARCH}, tuned ef chosen by the library"
    )
    summary = []
    for r in results:
        for label, ef in (("default", HNSW_EF_SEARCH), ("tuned", r["tuned_ef"])):
            row = _at(r, ef)
            summary.append(
                [
                    r["set"],
                    f"{label} {ef}",
                    r["build_s"],
                    row["recall_at_10"],
                    row["hnsw_ms"],
                    row["exact_ms"],
                    row["speedup"],
                ]
            )
    print(
        table(["set", "ef", "build s", "recall@10", "HNSW ms/query", "exact ms/query", "speed-up"], summary)
    )
    for r in results:
        print(
            f"\n{r['set']}: tuning took {r['tune_s']:.1f} s and chose ef {r['tuned_ef']} "
            f"(recall {r['tuner_recall']:.3f} on the index's own vectors)"
        )
        print(
            table(
                ["ef", "recall@10", "HNSW ms/query", "exact ms/query", "speed-up"],
                [[x["ef"], x["recall_at_10"], x["hnsw_ms"], x["exact_ms"], x["speedup"]] for x in r["by_ef"]],
            )
        )
    result = {
        "dim": args.dim,
        "k": K,
        "queries": args.queries,
        "headline": results,
        "sweep_set": args.sweep_set,
    }
    if args.sweep_vectors:
        rows = sweep(args, rng)
        print(f"\nsweep on {args.sweep_vectors} x {args.dim} {args.sweep_set} vectors")
        print(
            table(
                ["M", "ef_construction", "build s", "ef", "recall@10", "ms/query"],
                [
                    [r["m"], r["ef_construction"], r["build_s"], r["ef"], r["recall_at_10"], r["query_ms"]]
                    for r in rows
                ],
            )
        )
        result["sweep"] = rows
    save(args.name, result)
    return result


if __name__ == "__main__":
    main()
