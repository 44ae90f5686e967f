"""Conversions between Pillow images and QImage (safe in worker threads; QPixmap is not)."""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage, QPainter


def pil_to_qimage(image: Image.Image) -> QImage:
    """An RGB copy that owns its pixels, so the Pillow buffer may be freed."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    width, height = rgb.size
    return QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def qimage_to_pil(image: QImage) -> Image.Image:
    """A pasted or dropped QImage as an RGB Pillow image (alpha composited onto white)."""
    if image.hasAlphaChannel():
        flat = QImage(image.size(), QImage.Format.Format_RGB888)
        flat.fill(0xFFFFFF)
        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    buffer = bytes(rgb.constBits())[: stride * height]
    return Image.frombuffer("RGB", (width, height), buffer, "raw", "RGB", stride, 1).copy()
