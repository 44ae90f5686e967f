"""`clean`, `undo` and `decisions`: act on similar sets (trash the copies not kept, undo, remember choices)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from foundation.errors import InputError
from retrieval_app.core.cleanup import clean_up, journals, plan_cleanup, undo_cleanup
from retrieval_app.core.decisions import KEEP_ALL, KINDS, NOT_SIMILAR, Decisions
from retrieval_app.core.groups import DEFAULT_MAX_DISTANCE, DEFAULT_NEIGHBOURS
from retrieval_app.core.keeper import DEFAULT_RULES, RULES, KeepPolicy, parse_rules
from retrieval_app.core.library import Library
from retrieval_app.core.metrics import METRICS
from retrieval_app.core.progress import Cancelled, CancelToken
from retrieval_app.core.set_review import ReviewedSet, find_sets, with_tiers
from retrieval_app.core.tiers import TIER_LABELS, TIERS, check_tiers

from .display import shown
from .library_commands import cancel_on_interrupt, open_library
from .progress_bar import TqdmProgress

INTERRUPTED = 130


def add_keep_options(parser: argparse.ArgumentParser) -> None:
    """--keep, --reference, --prefer and --tier: how keepers are chosen and which sets count."""
    parser.add_argument(
        "--keep",
        default=",".join(DEFAULT_RULES),
        help=f"keeper rules in order, comma-separated, from {','.join(RULES)} (default: all in that order)",
    )
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder whose files are never removed and win ties (repeatable)",
    )
    parser.add_argument(
        "--prefer", action="append", default=[], metavar="DIR", help="a preferred folder for the keeper"
    )
    parser.add_argument(
        "--tier",
        action="append",
        choices=TIERS,
        help="only members of this tier (repeatable): exact (same bytes), same (same picture), similar",
    )


def policy_from(args: argparse.Namespace) -> KeepPolicy:
    return KeepPolicy(parse_rules(args.keep), tuple(args.reference), tuple(args.prefer))


def add_flips_option(parser: argparse.ArgumentParser) -> None:
    """`--no-flips`: sets leave out rotated and mirrored copies (faster: no turned views to embed)."""
    parser.add_argument(
        "--no-flips",
        action="store_true",
        help="similar sets leave out rotated and mirrored copies (matched by default; the first run embeds 7 turned views per image)",
    )


def reviewed_sets(
    library: Library, args: argparse.Namespace, bar: TqdmProgress, token: CancelToken, stopped: str
) -> list[ReviewedSet] | None:
    """The library's sets for the command's options, keepers chosen, filtered by --tier; None
    when Ctrl+C stopped the search, after saying "stopped; `stopped`"."""
    try:
        sets = find_sets(
            library,
            metric=args.metric,
            max_distance=args.max_distance,
            min_size=args.min_size,
            k=args.neighbours,
            policy=policy_from(args),
            progress=bar,
            cancel=token,
            flips=not args.no_flips,
        )
    except Cancelled:
        print(f"stopped; {stopped}", file=sys.stderr)
        return None
    finally:
        bar.close()
    return with_tiers(sets, args.tier) if args.tier else sets


def sets_payload(metric: str, max_distance: float, sets: list[ReviewedSet]) -> dict:
    """The `groups --json` document: every set with its keeper, the reason, and each member's tier."""
    return {
        "metric": metric,
        "max_distance": max_distance,
        "groups": [
            {
                "id": s.id,
                "keeper": s.keeper.path,
                "keeper_rule": s.rule,
                "keeper_reason": s.reason,
                "kept_all": s.kept_all,
                "members": [
                    {
                        "path": m.path,
                        "distance_to_representative": m.distance,
                        "tier": m.tier,
                        "pixel_difference": m.pixel_difference,
                        "keeper": m.keeper,
                        "reference": m.reference,
                        "removable": m.removable,
                    }
                    for m in s.members
                ],
            }
            for s in sets
        ],
    }


def print_sets(sets: list[ReviewedSet]) -> None:
    """Human-readable sets: K marks the keeper (with why), R a reference-folder file, then the tier."""
    for s in sets:
        note = " (keep all)" if s.kept_all else ""
        print(f"group {s.id}: {len(s)} images{note}; keeper: {s.reason}")
        for m in s.members:
            mark = "K" if m.keeper else ("R" if m.reference else " ")
            print(f"  {mark} {m.distance:8.4f}  {TIER_LABELS[m.tier]:12s}  {shown(m.path)}")
    images = sum(len(s) for s in sets)
    print(f"{len(sets)} groups, {images} images (K = keeper, R = reference folder)", file=sys.stderr)


def cmd_clean(args: argparse.Namespace) -> int:
    _check(args)
    tiers = check_tiers(args.tier or list(TIERS))
    bar = TqdmProgress(enabled=not args.quiet)
    with open_library(args) as library, cancel_on_interrupt() as token:
        sets = reviewed_sets(library, args, bar, token, stopped="nothing was moved")
        if sets is None:
            return INTERRUPTED
        plan = plan_cleanup(sets, tiers)
        if not args.yes:
            for move in plan:
                print(
                    f"would move to the trash: {shown(move.path)}  (set {move.set_id}, keeping {shown(move.keeper)})"
                )
            print(
                f"dry run: {len(plan)} files would go to the trash; add --yes to move them", file=sys.stderr
            )
            return 0
        report = clean_up(library, plan, progress=bar, cancel=token)
        bar.close()
    unreadable = [m.path for s in sets for m in s.unreadable]
    report.skipped += [(p, f"{os.path.basename(p)} vanished or cannot be read now") for p in unreadable]
    for path in report.moved:
        print(f"moved to the trash: {shown(path)}")
    for path, reason in report.skipped:
        print(f"  kept: {shown(path)}: {reason}", file=sys.stderr)
    state = "stopped early: " if report.cancelled else ""
    print(
        f"{state}moved {len(report.moved)} files to the trash in {report.seconds:.1f} s; "
        f"{len(report.skipped)} kept; undo with `lookalike undo`",
        file=sys.stderr,
    )
    return INTERRUPTED if report.cancelled else 0


def _check(args: argparse.Namespace) -> None:
    if not args.max_distance >= 0:
        raise InputError(f"--max-distance must be a number >= 0, not {args.max_distance}")
    if args.min_size < 2:
        raise InputError(f"--min-size must be at least 2, not {args.min_size}")
    if args.neighbours < 1:
        raise InputError(f"--neighbours must be at least 1, not {args.neighbours}")
    parse_rules(args.keep)


def cmd_undo(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        if args.list:
            if not journals(library):
                print("no clean-ups yet", file=sys.stderr)
            for j in journals(library):
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created))
                state = "undone" if j.undone else f"{j.moved} in the trash"
                print(f"{when}  {j.files} files, {state}  {shown(str(j.path))}")
            return 0
        report = undo_cleanup(library, args.journal)
    for path in report.restored:
        print(f"put back: {shown(path)}")
    for path, reason in report.failed:
        print(f"  not put back: {shown(path)}: {reason}", file=sys.stderr)
    print(f"put back {len(report.restored)} files; {len(report.failed)} could not be", file=sys.stderr)
    return 1 if report.failed else 0


def cmd_decisions(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        decisions = Decisions(library.catalogue)
        if args.action == "reset":
            count = decisions.reset(args.ids or None)
            print(f"forgot {count} decisions", file=sys.stderr)
            return 0
        if args.action in KINDS:
            ids = []
            for path in args.paths:
                row = library.catalogue.file_by_path(_absolute(path))
                if row is None:
                    raise InputError(f"not in the library: {path}")
                ids.append(row.id)
            decision = decisions.add(args.action, ids, [_absolute(p) for p in args.paths])
            print(f"decision {decision.id} recorded", file=sys.stderr)
            return 0
        listed = decisions.all()
        if args.json:
            print(
                json.dumps(
                    [
                        {"id": d.id, "kind": d.kind, "paths": list(d.paths), "created": d.created}
                        for d in listed
                    ]
                )
            )
            return 0
        if not listed:
            print("no decisions yet", file=sys.stderr)
        for d in listed:
            print(f"{d.id:4d}  {d.kind.replace('_', ' '):11s}  " + "  |  ".join(shown(p) for p in d.paths))
        return 0


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def register(subparsers: argparse._SubParsersAction) -> None:
    clean = subparsers.add_parser(
        "clean",
        help="move the copies not kept in each similar set to the system trash (dry run unless --yes)",
        description="Prints what it would move unless --yes is given. Files go to the system trash, "
        "never deleted; keepers and reference-folder files never move; `lookalike undo` puts them back.",
    )
    clean.add_argument("--groups", action="store_true", required=True, help="clean up the similar sets")
    clean.add_argument("--metric", choices=METRICS, default="euclidean")
    clean.add_argument("--max-distance", type=float, default=DEFAULT_MAX_DISTANCE)
    clean.add_argument("--min-size", type=int, default=2)
    clean.add_argument("--neighbours", type=int, default=DEFAULT_NEIGHBOURS)
    add_flips_option(clean)
    add_keep_options(clean)
    how = clean.add_mutually_exclusive_group()
    how.add_argument("--dry-run", action="store_true", help="only print what would move (the default)")
    how.add_argument("--yes", action="store_true", help="really move the files to the trash")
    clean.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    clean.set_defaults(handler=cmd_clean)

    undo = subparsers.add_parser("undo", help="put back the files the last clean-up moved to the trash")
    undo.add_argument(
        "journal", nargs="?", help="a journal from `lookalike undo --list` (default: the latest)"
    )
    undo.add_argument("--list", action="store_true", help="list the clean-ups and whether they were undone")
    undo.set_defaults(handler=cmd_undo)

    decide = subparsers.add_parser(
        "decisions",
        help="list, add or reset decisions about sets (not similar, keep all)",
        description=f"`decisions` lists them; `decisions {NOT_SIMILAR} A B...` splits A from B...; "
        f"`decisions {KEEP_ALL} A B...` keeps them all; `decisions reset [ID...]` forgets some or all.",
    )
    decide.add_argument("action", nargs="?", default="list", choices=("list", "reset", *KINDS))
    decide.add_argument("paths", nargs="*", help="files (for not_similar / keep_all)")
    decide.add_argument("--ids", type=int, nargs="+", help="decision ids to reset (default: all)")
    decide.add_argument("--json", action="store_true")
    decide.set_defaults(handler=cmd_decisions)
