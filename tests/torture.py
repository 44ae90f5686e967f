"""A folder of everything that goes wrong in real photo libraries, with the expected outcome of each file."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.imagegen import original


def _png_with_bad_crc(path: Path) -> None:
    original(1, (64, 48)).save(path)
    data = bytearray(path.read_bytes())
    idat = data.find(b"IDAT")
    data[idat + 8] ^= 0xFF  # corrupt compressed pixel data; CRC no longer matches
    path.write_bytes(bytes(data))


def _bomb(path: Path) -> None:
    """A tiny PNG whose header claims 100,000 x 100,000 pixels."""
    Image.new("1", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def make_torture_folder(root: Path, huge: bool = False) -> tuple[set[Path], set[Path]]:
    """Write the folder; returns (files that must be indexed, files that must be skipped)."""
    root.mkdir(parents=True, exist_ok=True)
    good: set[Path] = set()
    bad: set[Path] = set()

    def ok(name: str, image: Image.Image, **kw) -> None:
        path = root / name
        image.save(path, **kw)
        good.add(path)

    ok("plain.jpg", original(0))
    ok("palette.png", original(2).convert("P"))
    ok("cmyk.jpg", original(3).convert("CMYK"))
    ok("sixteen.png", Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)))
    ok("alpha.png", original(4).convert("RGBA"))
    ok("grey-alpha.png", original(5).convert("LA"))
    frames = [original(6 + i, (64, 48)) for i in range(3)]
    ok("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=40)
    ok("animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=40)
    ok("photo.bmp", original(9))
    ok("photo.tiff", original(10))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        ok(f"exif-{orientation}.jpg", original(20 + orientation), exif=exif)
    long_name = "l" * 240 + ".jpg"
    ok(long_name, original(11))
    weird = Path(os.fsdecode(os.fsencode(str(root)) + b"/caf\xe9-\xff.jpg"))
    original(12).save(weird, format="JPEG")
    good.add(weird)
    if huge:
        ok("huge.jpg", Image.new("RGB", (20_000, 20_000), (30, 90, 160)), quality=50)

    def broken(name: str, content: bytes) -> None:
        path = root / name
        path.write_bytes(content)
        bad.add(path)

    broken("zero.jpg", b"")
    broken("text.jpg", b"shopping list: eggs, milk\n")
    full = root / ".full.jpg"
    original(13).save(full, quality=95)
    broken("truncated.jpg", full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    _png_with_bad_crc(root / "bad-crc.png")
    bad.add(root / "bad-crc.png")
    _bomb(root / "bomb.png")
    bad.add(root / "bomb.png")
    (root / "loop-a.jpg").symlink_to(root / "loop-b.jpg")
    (root / "loop-b.jpg").symlink_to(root / "loop-a.jpg")
    bad |= {root / "loop-a.jpg", root / "loop-b.jpg"}
    (root / "folder-loop").symlink_to(root, target_is_directory=True)
    return good, bad
