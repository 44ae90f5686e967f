"""Image loading: every mode to RGB, EXIF orientation, draft decoding, sizes and file types, and clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from foundation import imagetypes
from foundation.images import MAX_ASPECT, ImageLoadError, load_image, load_thumbnail
from foundation.pixels import to_rgb


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


def test_an_image_just_over_the_pixel_limit_is_refused_with_warnings_as_errors(tmp_path):
    """Pillow warns (rather than raises) between one and two times its limit; the tests turn
    warnings into errors, as `python -W error` does, and the refusal must still be one reason."""
    path = tmp_path / "big.png"
    Image.new("1", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = (25000).to_bytes(4, "big") + (20000).to_bytes(4, "big")  # 500 MP: over 420, under 840
    import zlib

    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageLoadError, match="too large"):
            load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="disappeared"):
        load_image(tmp_path / "nope.jpg")


def test_exif_rotation_and_jpeg_draft_at_the_model_size(tmp_path):
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.new("RGB", (40, 20), (0, 0, 255)).save(rotated, exif=exif)
    assert load_image(rotated, 16).size == (20, 40)
    big = tmp_path / "big.jpg"
    Image.new("RGB", (800, 600), (9, 9, 9)).save(big)
    assert load_image(big, 64).size == (100, 75)  # 1/8 scale: the smallest draft covering 64 px
    grey = tmp_path / "grey.png"
    Image.new("LA", (10, 10)).save(grey)
    assert load_image(grey, 64).mode == "RGB"


def _mode_image(mode: str, size: tuple[int, int]) -> Image.Image:
    """A gradient with some structure, in `mode` (cheap to make even at 8000 x 8000)."""
    ramp = Image.linear_gradient("L").resize(size)
    rgb = Image.merge(
        "RGB", (ramp, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT), ramp.point(lambda v: 255 - v))
    )
    if mode == "I;16":
        return Image.fromarray(np.asarray(ramp).astype(np.uint16) * 200)
    if mode in ("P", "PA"):
        palette = ramp.convert("P")  # indices are the ramp's values; a palette of colours, not greys
        palette.putpalette([channel for v in range(256) for channel in (v, 255 - v, (v * 7) % 256)])
        return palette if mode == "P" else palette.convert("PA")
    return rgb.convert(mode)


@pytest.mark.parametrize("mode", ["1", "P", "PA", "I;16", "L", "LA", "CMYK", "I", "F", "RGBA"])
def test_every_mode_shrinks_for_the_model_like_a_full_decode(tmp_path, mode):
    """Box-shrinking happens before the RGB conversion (to save memory) yet gives what converting
    first and shrinking after gives, to a few levels; 1, P and 16-bit are not refused."""
    suffix = ".tiff" if mode in ("I;16", "I", "F", "CMYK", "PA") else ".png"
    path = tmp_path / f"image{suffix}"
    _mode_image(mode, (400, 300)).save(path)
    small = load_image(path, min_side=32)
    assert small.mode == "RGB" and small.size == (100, 75)  # 300 // 64 = 4
    reference = to_rgb(Image.open(path)).reduce(4)
    difference = np.abs(np.asarray(small, dtype=int) - np.asarray(reference, dtype=int))
    assert difference.mean() < 3, difference.mean()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["1", "P", "I;16"])
def test_8000_square_images_in_modes_box_reduce_refuses_are_decoded(tmp_path, mode):
    """64 MP takes the one-at-a-time large-image path, which shrinks before converting to RGB."""
    path = tmp_path / "big.png"
    _mode_image(mode, (8000, 8000)).save(path, compress_level=1)
    image = load_image(path, min_side=224)
    assert image.mode == "RGB" and image.size == (471, 471)  # 8000 // 448 = 17, rounded up
    assert np.asarray(image).std() > 10  # the gradient survived, not a flat or empty image


@pytest.mark.parametrize("width", [8000, 100_000])
def test_a_one_pixel_high_strip_stays_small_at_the_model_size(tmp_path, width):
    """Scaled so its short side is 224, a 100000 x 1 strip would be 22 G pixels: its centre is kept."""
    path = tmp_path / "strip.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1, width, 3), dtype=np.uint8)).save(path)
    image = load_image(path, min_side=224)
    assert image.size == (MAX_ASPECT, 1)
    full = np.asarray(load_image(path))
    start = (width - MAX_ASPECT) // 2
    np.testing.assert_array_equal(np.asarray(image), full[:, start : start + MAX_ASPECT])
    assert load_thumbnail(path, 64).size == (64, 1)


def test_cutting_a_long_strip_to_its_centre_changes_nothing_the_model_sees(tmp_path):
    """The model's view (shorter side to N, centre N x N) of a 200:1 strip, with and without the cut."""
    from torchvision.transforms import v2

    path = tmp_path / "strip.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (3, 600, 3), dtype=np.uint8)).save(path)
    view = v2.Compose([v2.PILToTensor(), v2.Resize(48, antialias=True), v2.CenterCrop(48)])
    cut = load_image(path, min_side=48)
    assert cut.size == (3 * MAX_ASPECT, 3)
    np.testing.assert_array_equal(view(cut).numpy(), view(load_image(path)).numpy())


@pytest.mark.parametrize("suffix", [".ppm", ".pgm", ".pbm"])
def test_netpbm_files_are_images(tmp_path, suffix):
    path = tmp_path / f"scan{suffix}"
    mode = {".ppm": "RGB", ".pgm": "L", ".pbm": "1"}[suffix]
    Image.new("RGB", (30, 20), (250, 250, 250)).convert(mode).save(path)
    assert imagetypes.is_supported(path)
    assert load_image(path).size == (30, 20)


def test_an_image_under_a_suffix_we_do_not_read_gets_a_reason(tmp_path):
    jpeg = tmp_path / "holiday.svg"
    Image.new("RGB", (20, 20)).save(jpeg, format="JPEG")
    png = tmp_path / "scan"
    Image.new("RGB", (20, 20)).save(png, format="PNG")
    real = tmp_path / "drawing.svg"
    real.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    elsewhere = tmp_path / "photo.txt"
    Image.new("RGB", (20, 20)).save(elsewhere, format="JPEG")
    assert not imagetypes.is_supported(jpeg)
    assert imagetypes.skip_reason(jpeg) == "a JPEG image named .svg: rename it to .jpg to have it indexed"
    assert imagetypes.skip_reason(png) == "a PNG image without a suffix: rename it to .png to have it indexed"
    assert imagetypes.skip_reason(real) is None  # a real drawing: not a photo, not listed
    assert imagetypes.skip_reason(elsewhere) is None  # only image-like suffixes are looked into
    assert load_image(jpeg).size == (20, 20)  # a query may still be any image, whatever its name


def test_heic_without_pillow_heif_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(imagetypes, "heif_ready", lambda: False)
    path = tmp_path / "phone.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(16))
    assert not imagetypes.is_supported(path)
    assert imagetypes.skip_reason(path) == imagetypes.HEIF_MISSING
    assert "install lookalike[heif]" in imagetypes.HEIF_MISSING
    with pytest.raises(ImageLoadError, match=r"install lookalike\[heif\]"):
        load_image(path)


@pytest.mark.parametrize("suffix", [".png", ".tiff", ".webp"])
def test_exif_orientation_of_other_formats_survives_the_shrink(tmp_path, suffix):
    """Orientation is read from the decoded file before it is box-reduced (a reduced copy has no tags)."""
    base = Image.new("RGB", (600, 200), (255, 0, 0))
    base.paste((0, 0, 255), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"o{suffix}"
    base.save(path, exif=exif)
    image = load_image(path, min_side=16)
    assert image.size == (34, 100)  # 200 // 32 = 6: 600 x 200 -> 100 x 34, then turned
    r, g, b = np.asarray(image)[2, -3]
    assert b > 200 and r < 60  # the blue corner moved to the top right
