"""Opening a person's file for reading without ever hanging: only regular files are read.

A named pipe, a socket or a device named like a photo would block `open` forever (waiting for
a writer) or read endlessly; each reader of photos (the scanner's fingerprint, the sniffer, the
decoder, LibRaw) opens through here instead, and gets `NotRegularFileError` for such a file.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

# O_NONBLOCK: opening a pipe returns at once instead of waiting for a writer (POSIX only);
# O_BINARY: no newline or Ctrl-Z translation of the bytes read (Windows only).
OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
)


class NotRegularFileError(OSError):
    """The path names a named pipe, socket or device, not a file that can be read."""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open `path` for reading in binary; NotRegularFileError (an OSError) for a pipe, socket or device,
    IsADirectoryError for a folder."""
    fd = os.open(path, OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(
                errno.EINVAL, f"not an image file but {file_kind(mode)}", os.fspath(path)
            )
        if getattr(os, "O_NONBLOCK", 0):  # POSIX: reads block as usual again. Not on Windows,
            os.set_blocking(fd, True)  # where set_blocking refuses anything but a pipe
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a named pipe")."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether `path` is `folder` or lies below it (both made absolute; no link is resolved)."""
    folder = os.path.abspath(folder)
    return os.path.commonpath([os.path.abspath(path), folder]) == folder
