"""`groups` and `export`: sets of similar images across the library, and exporting results or sets."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

from foundation.errors import InputError
from retrieval_app.core.export import (
    EXPORT_MODES,
    MANIFEST_FORMATS,
    ExportReport,
    export_files,
    items_for_groups,
    items_for_results,
)
from retrieval_app.core.groups import DEFAULT_MAX_DISTANCE, DEFAULT_NEIGHBOURS, Group, find_groups
from retrieval_app.core.library import DEFAULT_K, Library
from retrieval_app.core.metrics import METRICS
from retrieval_app.core.progress import Cancelled, CancelToken

from .cleanup_commands import (
    add_flips_option,
    add_keep_options,
    policy_from,
    print_sets,
    reviewed_sets,
    sets_payload,
)
from .display import shown
from .library_commands import cancel_on_interrupt, open_library
from .progress_bar import TqdmProgress

INTERRUPTED = 130


def _check_group_options(max_distance: float | None, min_size: int, neighbours: int) -> None:
    if max_distance is not None and not max_distance >= 0:
        raise InputError(f"--max-distance must be a number >= 0, not {max_distance}")
    if min_size < 2:
        raise InputError(f"--min-size must be at least 2, not {min_size}")
    if neighbours < 1:
        raise InputError(f"--neighbours must be at least 1, not {neighbours}")


def _groups(library: Library, args: argparse.Namespace, bar: TqdmProgress, token: CancelToken) -> list[Group]:
    return find_groups(
        library,
        metric=args.metric,
        max_distance=args.max_distance,
        min_size=args.min_size,
        k=args.neighbours,
        progress=bar,
        cancel=token,
        flips=not args.no_flips,
    )


def cmd_groups(args: argparse.Namespace) -> int:
    _check_group_options(args.max_distance, args.min_size, args.neighbours)
    policy_from(args)  # a bad --keep is one line before any work
    bar = TqdmProgress(enabled=not args.quiet)
    with open_library(args) as library, cancel_on_interrupt() as token:
        sets = reviewed_sets(library, args, bar, token, stopped="no groups shown")
    if sets is None:
        return INTERRUPTED
    if args.json:
        print(json.dumps(sets_payload(args.metric, args.max_distance, sets)))
    else:
        print_sets(sets)
    return 0


def _summary(report: ExportReport) -> str:
    modes = Counter(f.mode for f in report.exported)
    how = ", ".join(f"{count} {mode}" for mode, count in sorted(modes.items())) or "nothing"
    state = "stopped early: " if report.cancelled else ""
    return f"{state}exported {how} to {report.destination}; {len(report.failed)} failed"


def cmd_export(args: argparse.Namespace) -> int:
    if args.query is not None and not os.path.isfile(args.query):
        raise InputError(f"query image not found: {args.query}")
    if args.k < 1:
        raise InputError(f"-k must be at least 1, not {args.k}")
    if args.groups and args.max_distance is None:
        args.max_distance = DEFAULT_MAX_DISTANCE
    _check_group_options(args.max_distance, args.min_size, args.neighbours)
    if os.path.exists(args.destination) and not os.path.isdir(args.destination):
        raise InputError(f"the destination is not a folder: {args.destination}")
    bar = TqdmProgress(enabled=not args.quiet)
    with open_library(args) as library, cancel_on_interrupt() as token:
        if args.groups:
            try:
                items = items_for_groups(_groups(library, args, bar, token))
            except Cancelled:
                bar.close()
                print("stopped before exporting anything", file=sys.stderr)
                return INTERRUPTED
        else:
            results = library.search(args.query, k=args.k, metric=args.metric, max_distance=args.max_distance)
            items = items_for_results(results, query=os.path.abspath(args.query))
        report = export_files(
            items,
            args.destination,
            args.mode,
            structure_roots=library.folders() if args.keep_structure else None,
            numbered=args.groups or args.numbered,
            manifests=args.manifest or (),
            progress=bar,
            cancel=token,
        )
        bar.close()
    print(_summary(report), file=sys.stderr)
    for path, reason in report.failed:
        print(f"  failed: {shown(path)}: {reason}", file=sys.stderr)
    for manifest in report.manifests:
        print(f"manifest: {shown(manifest)}", file=sys.stderr)
    if report.cancelled:
        return INTERRUPTED
    return 1 if report.failed else 0


def _add_group_options(parser: argparse.ArgumentParser, max_distance_default: float | None) -> None:
    parser.add_argument("--metric", choices=METRICS, default="euclidean")
    parser.add_argument(
        "--max-distance",
        type=float,
        default=max_distance_default,
        help=f"every pair in a set at most this far apart (default {DEFAULT_MAX_DISTANCE} for sets)",
    )
    parser.add_argument("--min-size", type=int, default=2, help="smallest set shown (default 2)")
    parser.add_argument(
        "--neighbours",
        type=int,
        default=DEFAULT_NEIGHBOURS,
        help=f"neighbours looked at per image (default {DEFAULT_NEIGHBOURS}; widened when all are close)",
    )
    add_flips_option(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    groups = subparsers.add_parser("groups", help="sets of mutually similar images across the library")
    _add_group_options(groups, DEFAULT_MAX_DISTANCE)
    add_keep_options(groups)
    groups.add_argument("--json", action="store_true", help="machine-readable output")
    groups.set_defaults(handler=cmd_groups)

    export = subparsers.add_parser(
        "export",
        help="copy or link a query's results, or every similar set, into a folder",
        description="Export into a folder without ever replacing a file there or touching the originals; "
        "exit status 1 when some files could not be exported.",
    )
    export.add_argument("destination", help="folder to export into (created if missing)")
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--query", help="export the images most similar to this image")
    source.add_argument(
        "--groups", action="store_true", help="export every similar set, one sub-folder per set"
    )
    export.add_argument("-k", type=int, default=DEFAULT_K, help=f"results for --query (default {DEFAULT_K})")
    _add_group_options(export, None)
    export.add_argument(
        "--mode",
        choices=EXPORT_MODES,
        default="copy",
        help="copy, symlink, or link (hard link where possible, else symlink); originals are never moved",
    )
    export.add_argument(
        "--keep-structure",
        action="store_true",
        help="re-create each file's folders below the library folder holding it",
    )
    export.add_argument(
        "--manifest",
        action="append",
        choices=MANIFEST_FORMATS,
        help="also write manifest.csv or manifest.json (repeat for both)",
    )
    export.add_argument(
        "--numbered",
        action="store_true",
        help="prefix names with the rank (always on for --groups: the representative comes first)",
    )
    export.add_argument("--device", default="auto", help="for embedding the query: auto, cpu, cuda or mps")
    export.set_defaults(handler=cmd_export)
