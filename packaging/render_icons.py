"""Render the application icon SVG to the PNG sizes desktops and installers ask for.

Run after editing `resources/icons/lookalike.svg`; the PNGs are committed so that installing
the app needs no SVG renderer:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402  (the platform must be chosen before Qt loads)
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render_png(renderer: QSvgRenderer, size: int, target: Path) -> None:
    """Draw the SVG antialiased on a transparent square of `size` pixels and save it as PNG."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target), "PNG"):
        raise OSError(f"could not write {target}")


def main(argv: list[str] | None = None) -> int:
    """Render `lookalike.svg` to `lookalike-<size>.png` for every size in SIZES."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--icons", type=Path, default=ICON_DIR, help="folder holding lookalike.svg")
    args = parser.parse_args(argv)
    svg = args.icons / "lookalike.svg"
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        print(f"error: {svg} is not a valid SVG", file=sys.stderr)
        return 2
    for size in SIZES:
        target = args.icons / f"lookalike-{size}.png"
        render_png(renderer, size, target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
