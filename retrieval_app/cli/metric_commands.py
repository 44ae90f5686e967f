"""`train-metric`: learn a metric from labelled folders with the library's model, checked on held-out photos.

The work is the core's (`core.metric_learning.learn_metric`, which the fine-tune dialog runs too);
the library switches to the metric only when it beat Euclidean on the held-out photos.
"""

from __future__ import annotations

import argparse
import json
import sys

from retrieval_app.core.metric_learning import DEFAULT_METHOD, METHODS, learn_metric
from retrieval_app.core.progress import Cancelled

from .display import shown
from .library_commands import cancel_on_interrupt, open_library
from .progress_bar import TqdmProgress


def cmd_train_metric(args: argparse.Namespace) -> int:
    """Exit 0 whether or not the metric is used (the output says which), 130 when stopped."""
    bar = TqdmProgress(enabled=not args.quiet and not args.json)
    with open_library(args) as library, cancel_on_interrupt() as token:
        try:
            result = learn_metric(library, args.folder, args.method, args.out, progress=bar, cancel=token)
        except Cancelled:
            print("stopped; no metric was saved", file=sys.stderr)
            return 130
        finally:
            bar.close()
        used = result.held_out.better
        if used:
            library.use_learned_metric(result.path)
    if args.json:
        payload = {
            "out": str(result.path),
            "method": result.method,
            "images": result.images,
            "classes": result.classes,
            "fit_seconds": round(result.seconds, 3),
            "fitted_at": result.fitted_at,
            "held_out": result.held_out.to_json(),
            "used": used,
        }
        print(json.dumps(payload))
        return 0
    print(
        f"{result.method.upper()} metric fitted on {result.images} images of {result.classes} classes "
        f"in {result.seconds:.1f} s -> {shown(str(result.path))}",
        file=sys.stderr,
    )
    print(result.held_out.verdict(), file=sys.stderr)
    if used:
        print("the library now uses it for `search --metric learned`", file=sys.stderr)
    else:
        print(
            "the library keeps its current metric (`lookalike use-metric --force FILE` uses it anyway)",
            file=sys.stderr,
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    metric = subparsers.add_parser(
        "train-metric",
        help="learn a metric from labelled folders; used only if it beats Euclidean on held-out photos",
    )
    metric.add_argument("folder", help="labelled folder: one sub-folder of images per class")
    metric.add_argument(
        "--method",
        choices=METHODS,
        default=DEFAULT_METHOD,
        help=f"lmnn: large-margin nearest neighbours; mmc: similar pairs close (default {DEFAULT_METHOD})",
    )
    metric.add_argument(
        "--out", help="metric file to write, .npz (default: a new file in the library's metrics/)"
    )
    metric.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    metric.add_argument("--json", action="store_true", help="machine-readable output")
    metric.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    metric.set_defaults(handler=cmd_train_metric)
