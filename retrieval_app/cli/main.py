"""Entry point of `lookalike`: parse, dispatch; a `UserError` exits 2 with one line, a bug exits 1 and is logged."""

from __future__ import annotations

import argparse
import errno
import io
import os
import sqlite3
import sys

from foundation.errors import UserError
from foundation.logs import unexpected_message

from . import cleanup_commands, library_commands, metric_commands, sets_commands
from .display import shown

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
    cleanup_commands.register(subparsers)
    metric_commands.register(subparsers)
    for command in subparsers.choices.values():
        # also after the command (`lookalike index DIR --library X`); SUPPRESS keeps the global one
        command.add_argument("--library", default=argparse.SUPPRESS, help=LIBRARY_HELP)
    from trainer import cli as trainer_cli

    trainer_cli.register(subparsers)
    return parser


READER_GONE = 141  # 128 + SIGPIPE, as a shell reports a tool whose reader (`| head`) went away
FIXABLE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.EIO,
    }
)
NEARLY_FULL = 1 << 20  # bytes free on the library's disk below which SQLite's I/O errors mean "full"
FIXABLE_SQLITE = ("database or disk is full", "disk i/o error", "readonly database", "unable to open")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _never_fail_on_encoding()
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a reader that left (`| head`) shows up here, not at exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except UserError as exc:
        return _error(str(exc))
    except Exception as exc:
        fixable = describe_fixable(exc, getattr(args, "library", None))
        if fixable is not None:
            return _error(fixable)
        # a bug: its traceback goes to the log file, one line to the person
        message = unexpected_message(exc, f"lookalike {args.command} failed")
        print(f"lookalike: {message}", file=sys.stderr)
        return 1


def describe_fixable(exc: BaseException, library: str | None = None) -> str | None:
    """One line for a failure of the file system that a person can fix (a full disk, a read-only
    drive, no permission, a file where a folder should be), or None when `exc` is something else.

    SQLite reports a disk too full to open its journal as a "disk I/O error"; the free space of
    the library's disk tells the two apart."""
    if isinstance(exc, OSError) and exc.errno in FIXABLE_ERRNOS:
        return describe_os_error(exc)
    if isinstance(exc, sqlite3.OperationalError) and any(t in str(exc).lower() for t in FIXABLE_SQLITE):
        full = "full" in str(exc) or _nearly_full(library)
        what = "the disk holding the library is full" if full else "the catalogue cannot be written"
        return f"{what} ({exc}){_full_disk_hint('disk is full' if full else '')}"
    return None


def _nearly_full(library: str | None) -> bool:
    """Whether the disk holding the library has less than NEARLY_FULL bytes left."""
    from retrieval_app.core.library import default_library_dir

    folder = os.path.abspath(library) if library is not None else str(default_library_dir())
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        disk = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False
    return disk.f_bavail * disk.f_frsize < NEARLY_FULL


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system failure: what happened, to which file, and what to do."""
    where = f": {_name(exc.filename)}" if exc.filename is not None else ""
    if exc.filename2 is not None:
        where += f" -> {_name(exc.filename2)}"
    return f"{exc.strerror or exc}{where}{_full_disk_hint(exc.strerror or '')}"


def _full_disk_hint(text: str) -> str:
    full = "no space" in text.lower() or "disk is full" in text.lower() or "quota" in text.lower()
    return "; free some space and run it again (what was done so far is kept)" if full else ""


def _name(filename: object) -> str:
    return shown(filename) if isinstance(filename, str | bytes) else str(filename)


def _error(message: str) -> int:
    print(f"lookalike: error: {' '.join(message.split()) or 'failed'}", file=sys.stderr)
    return 2


def _reader_gone() -> int:
    """Stop quietly when stdout's reader has gone: no traceback, nothing more written to the pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
    return READER_GONE


def _never_fail_on_encoding() -> None:
    """Text that a strict terminal encoding cannot show comes out escaped instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
