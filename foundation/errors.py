"""The one base class of failures a person can fix; any other exception is a bug and is logged.

Subclasses keep the builtin base they always had (`ValueError`, `RuntimeError`) so that code
catching those still works, but only `UserError` decides how a failure is shown: one line, no
traceback, exit code 2 in the CLI.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the person can fix (bad input, an unusable file, a busy library): shown as one line."""


class InputError(UserError, ValueError):
    """An option, folder or file the person gave cannot be used as given."""


class WeightsUnavailableError(UserError, RuntimeError):
    """Pretrained weights could not be found locally nor downloaded."""


class CheckpointError(UserError, ValueError):
    """A checkpoint file is missing, unsafe or malformed."""


class FileAccessError(UserError, OSError):
    """A file or folder cannot be written (permissions, a full disk, a read-only drive)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()
