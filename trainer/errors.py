"""Failures a person can fix, defined without torch so that callers can name them cheaply."""

from __future__ import annotations


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be found locally nor downloaded."""


class CheckpointError(ValueError):
    """A checkpoint file is missing, unsafe or malformed."""
