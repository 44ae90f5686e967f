"""`index`, `search`, `status`, `check` and `use-metric`: the library from the command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foundation.errors import InputError
from retrieval_app.core import query
from retrieval_app.core.catalogue import CatalogueDamagedError
from retrieval_app.core.library import (
    DEFAULT_K,
    CatalogueLostError,
    CheckReport,
    Library,
    LibraryStatus,
    default_library_dir,
)
from retrieval_app.core.metrics import DESCRIPTIONS, METRICS
from retrieval_app.core.progress import CancelToken
from retrieval_app.core.salvage import SalvageReport, rebuild_catalogue

from .display import shown
from .progress_bar import TqdmProgress


def open_library(args: argparse.Namespace, **kwargs: object) -> Library:
    device = getattr(args, "device", "auto")
    if device != "auto":  # a bad or missing device is one line, before the library changes
        from foundation.devices import resolve_device

        resolve_device(device)
    root = args.library if args.library is not None else default_library_dir()
    if os.path.exists(root) and not os.path.isdir(root):
        raise InputError(f"the library must be a folder, but {shown(root)} is a file")
    library = Library.open(args.library, device=device, **kwargs)
    if library.created:  # a mistyped --library must not pass for an empty library
        print(f"lookalike: created a new, empty library in {shown(str(library.root))}", file=sys.stderr)
    return library


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
            raise InputError(f"not a folder: {folder}")
    library = open_library(args, model=args.model, image_size=args.image_size)
    bar = TqdmProgress(enabled=not args.quiet)
    with library, cancel_on_interrupt() as token:
        report = library.index(args.folders, progress=bar, cancel=token)
        bar.close()
    for folder in report.unavailable:
        print(
            f"lookalike: {shown(folder)} cannot be read now (unmounted?); its images are kept",
            file=sys.stderr,
        )
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
    for path in [*args.query, *args.negatives]:
        if not os.path.isfile(path):
            raise InputError(f"query image not found: {path}")
    if args.max_distance is not None and not args.max_distance >= 0:  # NaN compares false
        raise InputError(f"--max-distance must be a number >= 0, not {args.max_distance}")
    library = open_library(args)
    try:
        results = query.search(library, search_query(args), args.k, args.metric, args.max_distance)
        model = library.model_spec
        if args.metric == "learned" and not args.json:
            print(f"learned metric: {learned_note(library.metrics_available())}", file=sys.stderr)
    finally:
        unsaved = library.close(best_effort=True)
    if unsaved is not None:
        print(
            f"lookalike: the search index was not saved ({unsaved.strerror or unsaved}); the next search rebuilds it",
            file=sys.stderr,
        )
    if args.json:
        queried = [os.path.abspath(p) for p in args.query]
        payload = {
            "query": queried[0] if len(queried) == 1 else queried,
            "metric": args.metric,
            "model": model,
            "results": [{"rank": r.rank, "path": r.path, "distance": r.distance} for r in results],
        }
        print(json.dumps(payload))
    else:
        for r in results:
            print(f"{r.rank:4d}  {r.distance:8.4f}  {shown(r.path)}")
        if not results:
            print("no similar images found", file=sys.stderr)
    return 0


def search_query(args: argparse.Namespace) -> query.Query:
    """The query of `lookalike search`: its images, `--not` images, `--crop` of the first, `--flips`."""
    crop = query.parse_crop(args.crop) if args.crop else None
    positives = [query.Example(path, crop if i == 0 else None) for i, path in enumerate(args.query)]
    negatives = tuple(query.Example(path) for path in args.negatives)
    return query.Query(tuple(positives), negatives, flips=args.flips)


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
            f"  {shown(folder.path)}: {folder.files} files, {folder.indexed} indexed, "
            f"{folder.skipped} skipped, {folder.pending} pending"
        )
    if status.skipped:
        print("skipped:")
        for path, reason in status.skipped:
            print(f"  {shown(path)}: {reason}")


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
        metrics = library.metrics_available()
    if args.json:
        print(json.dumps({**status.to_json(), "metrics": metrics}))
    else:
        print_status(status)
        print_metrics(metrics)
    return 0


def print_metrics(metrics: list[dict]) -> None:
    """The metrics a search can use, a line each: what it is, and when and how well it was fitted."""
    print("metrics:")
    for row in metrics:
        line = f"  {row['name']}: {row['description']}"
        details = []
        if row.get("method"):
            details.append(str(row["method"]).upper())
        if row.get("fitted_at"):
            details.append(f"fitted {row['fitted_at']}")
        if row.get("fitted_on"):
            details.append(f"on {row['fitted_on']} photos")
        if row.get("note"):
            details.append(str(row["note"]))
        if details:
            line += f" [{'; '.join(details)}]"
        print(line)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        with open_library(args) as library:
            report = library.check(repair=args.repair)
    except (CatalogueDamagedError, CatalogueLostError) as exc:
        if not args.repair:
            raise
        print(f"lookalike: {exc}", file=sys.stderr)
        salvage = rebuild_catalogue(Path(args.library) if args.library else default_library_dir())
        print_salvage(salvage)
        with open_library(args) as library:
            report = library.check(repair=True)
    print_check(report)
    if report.repaired:
        return 0
    return 0 if report.consistent and not report.vanished_files else 1


def print_salvage(salvage: SalvageReport) -> None:
    """What rebuilding a damaged or lost catalogue kept."""
    if salvage.damaged_copy is not None:
        print(f"the damaged catalogue was kept as {shown(str(salvage.damaged_copy))}")
    print(
        f"catalogue rebuilt: {len(salvage.folders)} folders, {salvage.files} files and "
        f"{salvage.vectors} vectors could be read; the folders are rescanned for the rest"
    )


def print_check(report: CheckReport) -> None:
    """`check`'s findings, one line each; "empty" and "lost" are told apart."""
    if report.empty:
        print("the library is empty: nothing has been indexed yet")
    for key in report.missing_from_index:
        if key in report.lost:
            print(f"{key}: index lost ({report.indexed} vectors in the catalogue)")
        elif key in report.damaged:
            print(f"{key}: index unusable ({report.damaged[key]})")
        print(f"{key}: {report.missing_from_index[key]} missing, {report.extra_in_index[key]} extra")
    for name, reason in report.damaged.items():
        if name not in report.missing_from_index:
            print(f"{name}: unusable ({reason})")
    if report.foreign_vectors:
        print(f"vectors made by another model: {report.foreign_vectors}")
    if len(report.vector_dims) > 1:
        print(f"vectors of different lengths: {', '.join(map(str, report.vector_dims))}")
    print(f"files gone from disk: {report.vanished_files}")
    if report.repaired:
        print("repaired")
        if report.to_embed:
            print(f"{report.to_embed} files wait to be embedded: run `lookalike index`")
    elif not report.consistent:
        print("run `lookalike check --repair` to mend this")


def cmd_use_metric(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        library.use_learned_metric(args.metric_file, force=args.force)
    print(f"learned metric set: {shown(os.path.abspath(args.metric_file))}", file=sys.stderr)
    return 0


def learned_note(metrics: list[dict]) -> str:
    """The learned metric's method, fit date and held-out before/after, from `metrics_available`."""
    row = next(row for row in metrics if row["name"] == "learned")
    parts = [
        str(row.get("method") or "").upper(),
        f"fitted {row['fitted_at']}" if row.get("fitted_at") else "",
    ]
    return "; ".join(part for part in [*parts, str(row.get("note") or "")] if part) or row["description"]


def metric_help() -> str:
    """`search --help`'s epilog: each metric in a line."""
    lines = ["metrics (`lookalike status` shows each one's fit and the learned one's held-out figures):"]
    lines += [f"  {name:12s} {DESCRIPTIONS[name]}" for name in METRICS]
    return "\n".join(lines)


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

    search = subparsers.add_parser(
        "search",
        help="find the images most similar to a query image",
        epilog=metric_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search.add_argument("query", nargs="+", help="one or more example image files, inside the library or not")
    search.add_argument(
        "--not",
        dest="negatives",
        nargs="+",
        default=[],
        metavar="IMAGE",
        help="counter-examples: rank images like these lower",
    )
    search.add_argument(
        "--crop", metavar="X,Y,W,H", help="search with this region of the first image (pixels)"
    )
    search.add_argument(
        "--flips", action="store_true", help="also match rotated (90/180/270) and mirrored copies"
    )
    search.add_argument("-k", type=int, default=DEFAULT_K, help=f"number of results (default {DEFAULT_K})")
    search.add_argument(
        "--metric", choices=METRICS, default="euclidean", help="how distance is measured (see below)"
    )
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
    use_metric.add_argument(
        "--force", action="store_true", help="use it even though its held-out check found it no better"
    )
    use_metric.set_defaults(handler=cmd_use_metric)
