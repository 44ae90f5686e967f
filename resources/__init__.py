"""Files that ship with Lookalike: sample collection, icons, desktop entry, AppStream metadata.

Installed as the package `retrieval_app.resources` and read through `importlib.resources`, so the
same calls work from a source checkout, an installed wheel and a PyInstaller bundle.
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from functools import cache
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

APP_ID = "io.github.lookalike.Lookalike"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)

_extracted = ExitStack()
atexit.register(_extracted.close)


def _resource(*parts: str) -> Traversable:
    return files(__name__).joinpath(*parts)


@cache
def _as_path(*parts: str) -> Path:
    """A real file-system path for a resource, extracted to a temporary copy (kept until exit)
    only when the package lives somewhere that has no paths, such as a zip file."""
    resource = _resource(*parts)
    if not resource.is_file() and not resource.is_dir():
        raise FileNotFoundError(f"resource {'/'.join(parts)} is missing from {__name__}")
    return _extracted.enter_context(as_file(resource))


def sample_collection() -> Path:
    """Folder of sample photos (originals and edited copies) that `make run` opens as a demo."""
    return _as_path("samples")


def sample_sets() -> Path:
    """JSON file listing which sample files are edited copies of the same original."""
    return _as_path("samples", "sets.json")


def icon_path(size: int | None = None) -> Path:
    """The application icon: the scalable SVG when `size` is None, else the PNG of that size."""
    if size is None:
        return _as_path("icons", "lookalike.svg")
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes are {', '.join(map(str, ICON_SIZES))}")
    return _as_path("icons", f"lookalike-{size}.png")


def desktop_entry() -> str:
    """Text of the freedesktop `.desktop` launcher file."""
    return _resource(f"{APP_ID}.desktop").read_text(encoding="utf-8")


def appstream_metadata() -> str:
    """Text of the AppStream metainfo XML that software centres read."""
    return _resource(f"{APP_ID}.metainfo.xml").read_text(encoding="utf-8")
