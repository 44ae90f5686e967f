"""Image loading: every mode to RGB, EXIF orientation, draft decoding, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from retrieval_app.core.images import ImageLoadError, load_image, load_thumbnail


def _save(path, image, **kw):
    image.save(path, **kw)
    return path


@pytest.mark.parametrize("mode", ["P", "LA", "CMYK", "I;16", "RGBA", "L", "1", "I", "F"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    source = (
        Image.new("RGB", (40, 30), (200, 40, 90)).convert(mode) if mode not in ("I;16", "I", "F") else None
    )
    if source is None:
        array = (np.arange(40 * 30).reshape(30, 40) * 50).astype(np.uint16 if mode == "I;16" else np.int32)
        source = Image.fromarray(array.astype(np.float32) if mode == "F" else array, mode=None)
        source = source if mode != "I;16" else Image.fromarray(array.astype(np.uint16))
    suffix = ".tiff" if mode in ("I;16", "I", "F", "CMYK") else ".png"
    path = _save(tmp_path / f"img{suffix}", source)
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.size == (40, 30)


def test_sixteen_bit_is_rescaled_not_clipped(tmp_path):
    array = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (8, 1))
    path = _save(tmp_path / "deep.png", Image.fromarray(array))
    pixels = np.asarray(load_image(path))[..., 0]
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255
    assert 100 < pixels[0, 32] < 160


def test_transparency_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    path = _save(tmp_path / "clear.png", rgba)
    assert np.asarray(load_image(path)).min() == 255


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path, orientation):
    base = Image.new("RGB", (60, 20), (255, 0, 0))
    base.paste((0, 0, 255), (0, 0, 10, 10))  # blue marker top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(tmp_path / "o.jpg", base, exif=exif, quality=95)
    image = load_image(path)
    expected = (60, 20) if orientation <= 4 else (20, 60)
    assert image.size == expected
    reference = base.copy()
    transposes = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_270],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_90],
    }
    for op in transposes.get(orientation, []):
        reference = reference.transpose(op)
    diff = np.abs(np.asarray(image, dtype=int) - np.asarray(reference, dtype=int)).mean()
    assert diff < 20


def test_animation_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    r, g, b = np.asarray(load_image(path)).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 50 and b < 50


def test_jpeg_draft_decodes_smaller_but_enough(tmp_path):
    path = _save(tmp_path / "big.jpg", Image.new("RGB", (2400, 1600), (10, 120, 200)), quality=90)
    image = load_image(path, min_side=224)
    assert min(image.size) >= 224
    assert min(image.size) < 800
    assert load_image(path).size == (2400, 1600)


def test_thumbnail_fits_box(tmp_path):
    path = _save(tmp_path / "t.png", Image.new("RGB", (300, 100)))
    assert load_thumbnail(path, 64).size == (64, 21)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"this is just text, not a picture", "not an image"),
    ],
)
def test_bad_files_give_reasons(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=reason):
        load_image(path)


def test_truncated_jpeg_is_reported(tmp_path):
    full = tmp_path / "full.jpg"
    Image.effect_noise((400, 300), 64).convert("RGB").save(full, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(cut)


def test_decompression_bomb_refused(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")
    import zlib

    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="disappeared"):
        load_image(tmp_path / "nope.jpg")
