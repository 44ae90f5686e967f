"""Every metric of the menu on the three shared sets, side by side, through the library's own search.

Per set and seed, each class's photos (the first `per_class`, metric_data.SETS) are split in
half: the person's labelled folders and their library. A real Library is built in a temporary
folder from the library half (`Library.index`; the network's vectors come from an on-disk cache,
metric_data.CachedEmbedder). The learned metrics are fitted on the labelled half by
`core.metric_learning.learn_metric`, with its own held-out check, and are measured whether or not
that check would let the library use them. Then every library photo queries the library through
`Library.search_vector` under every metric (itself left out): Recall@1, P@10 (precision of the top
10) and MAP@R, means over the seeds.

    python -m benchmarks.metrics                          # all sets, seeds 0 1 (about 15 min)
    python -m benchmarks.metrics --sets omniglot --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retrieval_app.core.embedder import Embedder
from retrieval_app.core.library import Library
from retrieval_app.core.metric_learning import METHODS, learn_metric
from trainer.options import DEFAULT_BACKBONE

from .common import command_line, save, stamped, table
from .metric_data import DATA_ROOT, SETS, CachedEmbedder, SetSpec, class_files, link_tree, split_person

PLAIN_METRICS = ("euclidean", "cosine", "mahalanobis")
COLUMNS = (*PLAIN_METRICS, *(f"learned-{method}" for method in METHODS))
TOP = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    return parser.parse_args(argv)


def scores(library: Library, metric: str, classes: dict[str, str]) -> dict[str, float]:
    """Recall@1, P@10 and MAP@R of every library photo searching the library under `metric`."""
    ids = library.catalogue.indexed_ids()
    ids, vectors = library.catalogue.vectors(ids.tolist())
    paths = library.catalogue.paths_for(ids)
    labels = [classes[paths[i]] for i in ids.tolist()]
    sizes: dict[str, int] = {}
    for label in labels:
        sizes[label] = sizes.get(label, 0) + 1
    depth = max(TOP, max(sizes.values()) - 1)
    recall, precision, average = [], [], []
    for file_id, vector, label in zip(ids.tolist(), vectors, labels, strict=True):
        relevant = sizes[label] - 1
        if relevant < 1:
            continue
        found = library.search_vector(vector, depth, metric, exclude_id=file_id)
        hits = np.array([classes[r.path] == label for r in found], dtype=bool)
        recall.append(float(hits[:1].any()))
        precision.append(float(hits[:TOP].mean()))
        top_r = hits[:relevant]
        average.append(float(np.sum(np.cumsum(top_r) / np.arange(1, len(top_r) + 1) * top_r) / relevant))
    return {
        "R@1": float(np.mean(recall)),
        "P@10": float(np.mean(precision)),
        "MAP@R": float(np.mean(average)),
    }


def run_seed(spec: SetSpec, embedder: CachedEmbedder, root: Path, seed: int) -> dict[str, Any]:
    """One library of the set's library half, every metric scored, the learned ones fitted on the rest."""
    labelled, library_half = split_person(class_files(spec, root), seed)
    with tempfile.TemporaryDirectory(prefix=f"metrics-{spec.name}-") as tmp:
        work = Path(tmp)
        classes = link_tree(library_half, work / "photos")
        link_tree(labelled, work / "labelled")
        library = Library.open(work / "library", image_size=spec.image_size, device="cpu")
        library._load_embedder = lambda spec_, size: embedder  # type: ignore[method-assign]
        try:
            library.index([work / "photos"])
            row: dict[str, Any] = {}
            for metric in PLAIN_METRICS:
                row[metric] = scores(library, metric, classes)
            for method in METHODS:
                started = time.perf_counter()
                fitted = learn_metric(
                    library, str(work / "labelled"), method, work / f"{method}.npz", seed=seed
                )
                library.use_learned_metric(fitted.path, force=True)
                row[f"learned-{method}"] = {
                    **scores(library, "learned", classes),
                    "check": [fitted.held_out.euclidean, fitted.held_out.learned],
                    "fit_s": time.perf_counter() - started,
                }
        finally:
            library.close()
            embedder.save()
    return row


def run_set(spec: SetSpec, root: Path, seeds: list[int]) -> dict[str, Any]:
    inner = Embedder(DEFAULT_BACKBONE, image_size=spec.image_size, device="cpu")
    torch.set_num_threads(1)
    embedder = CachedEmbedder(inner)
    runs = [run_seed(spec, embedder, root, seed) for seed in seeds]
    mean: dict[str, dict[str, float]] = {}
    for column in COLUMNS:
        keys = [key for key, value in runs[0][column].items() if isinstance(value, float)]
        mean[column] = {key: statistics.mean(run[column][key] for run in runs) for key in keys}
    return {
        "set": spec.name,
        "image_size": spec.image_size,
        "per_class": spec.per_class,
        "runs": runs,
        "mean": mean,
    }


def print_table(results: list[dict[str, Any]]) -> None:
    headers = ["set", "metric", "R@1", "P@10", "MAP@R", "vs euclidean R@1", "fit-time check (euc → learned)"]
    rows = []
    for result in results:
        base = result["mean"]["euclidean"]["R@1"]
        for column in COLUMNS:
            figures = result["mean"][column]
            check = ""
            if column.startswith("learned"):
                check = " / ".join(
                    f"{e:.3f} → {v:.3f}" for e, v in (run[column]["check"] for run in result["runs"])
                )
            rows.append(
                [
                    result["set"],
                    column,
                    f"{figures['R@1']:.3f}",
                    f"{figures['P@10']:.3f}",
                    f"{figures['MAP@R']:.3f}",
                    f"{figures['R@1'] - base:+.3f}",
                    check,
                ]
            )
    print(table(headers, rows))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    results = [run_set(SETS[name], args.data_root, args.seeds) for name in args.sets]
    print_table(results)
    payload = {"command": command_line("benchmarks.metrics", argv), "seeds": args.seeds, "results": results}
    payload["seconds"] = time.perf_counter() - started
    save(stamped("metrics"), payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
