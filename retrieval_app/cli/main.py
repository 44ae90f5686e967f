"""Entry point of `lookalike`: parse, dispatch, and turn known failures into exit code 2."""

from __future__ import annotations

import argparse
import sys

from . import library_commands, sets_commands

LIBRARY_HELP = (
    "folder holding the catalogue and indexes (default: $LOOKALIKE_LIBRARY or the user data folder)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookalike", description="Find similar images in your photo folders."
    )
    parser.add_argument("--library", help=LIBRARY_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    library_commands.register(subparsers)
    sets_commands.register(subparsers)
    for command in subparsers.choices.values():
        # also after the command (`lookalike index DIR --library X`); SUPPRESS keeps the global one
        command.add_argument("--library", default=argparse.SUPPRESS, help=LIBRARY_HELP)
    from trainer import cli as trainer_cli

    trainer_cli.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from retrieval_app.core.errors import USER_ERRORS

    try:
        return args.handler(args)
    except USER_ERRORS as exc:
        print(f"lookalike: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
