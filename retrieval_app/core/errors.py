"""The failures a person can fix (bad input, busy or newer library): shown as one line, not a traceback."""

from __future__ import annotations

from trainer.errors import CheckpointError, WeightsUnavailableError

from .images import ImageLoadError
from .library import LibraryError
from .lock import LibraryBusyError
from .metrics import MetricError

USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    FileNotFoundError,
    LibraryError,
    LibraryBusyError,
    ImageLoadError,
    MetricError,
    CheckpointError,
    WeightsUnavailableError,
)
