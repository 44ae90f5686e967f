"""`index`, `search`, `status`, `check` and `use-metric`: the library from the command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from retrieval_app.core.library import Library, LibraryStatus
from retrieval_app.core.metrics import METRICS
from retrieval_app.core.progress import CancelToken

from .progress_bar import TqdmProgress


def open_library(args: argparse.Namespace, **kwargs: object) -> Library:
    return Library.open(args.library, device=getattr(args, "device", "auto"), **kwargs)


@contextmanager
def cancel_on_interrupt() -> Iterator[CancelToken]:
    """First Ctrl+C asks the running job to stop cleanly (work done so far is kept)."""
    token = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        token.cancel()
        signal.signal(signal.SIGINT, previous)
        print("\nstopping after the current batch (Ctrl+C again to abort)", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_index(args: argparse.Namespace) -> int:
    for folder in args.folders:
        if not os.path.isdir(folder):
            raise ValueError(f"not a folder: {folder}")
    library = open_library(args, model=args.model, image_size=args.image_size)
    bar = TqdmProgress(enabled=not args.quiet)
    with library, cancel_on_interrupt() as token:
        report = library.index(args.folders, progress=bar, cancel=token)
        bar.close()
    for folder in report.unavailable:
        print(f"lookalike: {folder} cannot be read now (unmounted?); its images are kept", file=sys.stderr)
    rate = report.embedded / report.seconds if report.seconds else 0.0
    state = "stopped early; run again to resume" if report.cancelled else "done"
    print(
        f"{state}: {report.added} new, {report.changed} changed, {report.moved} moved, "
        f"{report.removed} removed, {report.unchanged} unchanged; embedded {report.embedded} "
        f"({rate:.1f} images/s), skipped {report.skipped}",
        file=sys.stderr,
    )
    return 130 if report.cancelled else 0


def cmd_search(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.query):
        raise ValueError(f"query image not found: {args.query}")
    with open_library(args) as library:
        results = library.search(args.query, k=args.k, metric=args.metric, max_distance=args.max_distance)
        model = library.model_spec
    if args.json:
        payload = {
            "query": os.path.abspath(args.query),
            "metric": args.metric,
            "model": model,
            "results": [{"rank": r.rank, "path": r.path, "distance": r.distance} for r in results],
        }
        print(json.dumps(payload))
    else:
        for r in results:
            print(f"{r.rank:4d}  {r.distance:8.4f}  {r.path}")
        if not results:
            print("no similar images found", file=sys.stderr)
    return 0


def print_status(status: LibraryStatus) -> None:
    print(f"model:   {status.model}")
    print(
        f"files:   {status.files} ({status.indexed} indexed, {len(status.skipped)} skipped, {status.pending} pending)"
    )
    print(f"indexes: {status.index_bytes / 1e6:.1f} MB")
    for key, search in status.search.items():
        print(f"  {key}: {describe_search(search)}")
    for folder in status.folders:
        print(
            f"  {folder.path}: {folder.files} files, {folder.indexed} indexed, "
            f"{folder.skipped} skipped, {folder.pending} pending"
        )
    if status.skipped:
        print("skipped:")
        for path, reason in status.skipped:
            print(f"  {path}: {reason}")


def describe_search(search: dict) -> str:
    """One line on how an index searches, from `LibraryStatus.search`."""
    if search["kind"] == "exact":
        return f"exact search over {search['vectors']} vectors"
    line = f"HNSW graph of {search['vectors']} vectors, ef {search['ef']}"
    if search["recall"] is not None:
        line += f" (recall@{search['recall_k']} {search['recall']:.3f} when tuned)"
    return line


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        status = library.status()
    if args.json:
        print(json.dumps(status.to_json()))
    else:
        print_status(status)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        report = library.check(repair=args.repair)
    for key in report.missing_from_index:
        print(f"{key}: {report.missing_from_index[key]} missing, {report.extra_in_index[key]} extra")
    print(f"files gone from disk: {report.vanished_files}")
    if report.repaired:
        print("repaired")
        return 0
    return 0 if report.consistent and not report.vanished_files else 1


def cmd_use_metric(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        library.use_learned_metric(args.metric_file)
    print(f"learned metric set: {os.path.abspath(args.metric_file)}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    index = subparsers.add_parser("index", help="add folders and index new or changed images")
    index.add_argument("folders", nargs="*", help="photo folders to add (already added ones are re-scanned)")
    index.add_argument(
        "--model", help="backbone name or trained .safetensors checkpoint (re-embeds on change)"
    )
    index.add_argument("--image-size", type=int, help="input size for the model (default: the model's)")
    index.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    index.set_defaults(handler=cmd_index)

    search = subparsers.add_parser("search", help="find the images most similar to a query image")
    search.add_argument("query", help="an image file, inside the library or not")
    search.add_argument("-k", type=int, default=12, help="number of results (default 12)")
    search.add_argument("--metric", choices=METRICS, default="euclidean")
    search.add_argument("--max-distance", type=float, help="only results at most this far")
    search.add_argument("--device", default="auto")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(handler=cmd_search)

    status = subparsers.add_parser("status", help="folders, counts, skipped files and the model")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)

    check = subparsers.add_parser("check", help="verify that catalogue and indexes agree")
    check.add_argument("--repair", action="store_true", help="fix any drift found")
    check.set_defaults(handler=cmd_check)

    use_metric = subparsers.add_parser("use-metric", help="use a metric file from train-metric as 'learned'")
    use_metric.add_argument("metric_file")
    use_metric.set_defaults(handler=cmd_use_metric)
