"""What a drop or a paste holds: an image file, decoded image data, or a reason it cannot be a query."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

from foundation.imagetypes import is_supported, missing_extra, supported_suffixes

from .qimages import qimage_to_pil


@dataclass(frozen=True)
class QueryCandidate:
    """Exactly one of `source` (a path or an image) and `error` (a sentence for people) is set."""

    source: str | Image.Image | None = None
    label: str | None = None
    error: str | None = None


def supported_formats() -> str:
    aliases = {"JPE", "JPEG", "JFIF", "TIF", "PNM"}
    names = sorted({suffix.lstrip(".").upper() for suffix in supported_suffixes()} - aliases)
    return ", ".join(names)


def candidate_from_path(path: str) -> QueryCandidate:
    """Checks that need no decoding; a broken file with an image name fails later, with its reason."""
    name = os.path.basename(path.rstrip(os.sep)) or path
    if os.path.isdir(path):
        return QueryCandidate(
            error=f"“{name}” is a folder. Drop a single image to search, or add the folder to the "
            "library with “Add folder…”."
        )
    if not os.path.exists(path):
        return QueryCandidate(error=f"“{name}” was not found.")
    if not is_supported(path):
        extra = missing_extra(path)
        if extra is not None:
            return QueryCandidate(error=f"“{name}” is a {extra}.")
        return QueryCandidate(
            error=f"“{name}” is not an image Lookalike can read (it reads {supported_formats()})."
        )
    return QueryCandidate(source=os.path.abspath(path), label=name)


def candidate_from_mime(mime: QMimeData) -> QueryCandidate:
    """Files first (the first one is the query), then image data, then a path given as text."""
    urls = [url for url in mime.urls() if not url.isEmpty()] if mime.hasUrls() else []
    local = [url.toLocalFile() for url in urls if url.isLocalFile()]
    if local:
        return candidate_from_path(local[0])
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return QueryCandidate(source=qimage_to_pil(image), label="Pasted image")
    if urls:
        return QueryCandidate(
            error=f"{urls[0].toDisplayString()} is on the web. Save the image on this computer first, "
            "then drop the file."
        )
    if mime.hasText():
        text = mime.text().strip()
        if text.startswith("file://"):
            text = QUrl(text.splitlines()[0]).toLocalFile()
        if text and "\n" not in text and os.path.isabs(text) and os.path.exists(text):
            return candidate_from_path(text)
        return QueryCandidate(error="That is text, not an image. Drop an image file or copy an image.")
    return QueryCandidate(error="There is no image in what was dropped or pasted.")


def candidates_from_mime(mime: QMimeData) -> list[QueryCandidate]:
    """Every local file of a drop (several files make a query of several examples), else the one
    candidate of `candidate_from_mime`."""
    urls = [url for url in mime.urls() if not url.isEmpty()] if mime.hasUrls() else []
    local = [url.toLocalFile() for url in urls if url.isLocalFile()]
    if len(local) > 1:
        return [candidate_from_path(path) for path in local]
    return [candidate_from_mime(mime)]


def accepts(mime: QMimeData) -> bool:
    """Whether a drag may be dropped here (detailed checks wait for the drop, to explain refusals)."""
    return mime.hasUrls() or mime.hasImage() or mime.hasText()
