"""Trainer and app decode a file to the same pixels, whatever its mode."""

from __future__ import annotations

import numpy as np
from PIL import Image

from retrieval_app.core.images import load_image
from trainer.data import load_rgb
from trainer.pixels import to_rgb


def _files(tmp_path):
    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (40, 60, 4), dtype=np.uint8), "RGBA")
    rgba.save(tmp_path / "alpha.png")
    deep = Image.fromarray((rng.integers(0, 4096, (40, 60))).astype(np.uint16))
    deep.save(tmp_path / "deep.png")
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).convert("P").save(tmp_path / "pal.png")
    return [tmp_path / "alpha.png", tmp_path / "deep.png", tmp_path / "pal.png"]


def test_trainer_and_app_see_the_same_pixels(tmp_path):
    for path in _files(tmp_path):
        np.testing.assert_array_equal(np.asarray(load_rgb(path, 64)), np.asarray(load_image(path)), str(path))


def test_transparency_goes_onto_white_and_16_bit_uses_its_range():
    clear = Image.new("RGBA", (2, 1), (10, 20, 30, 0))
    clear.putpixel((1, 0), (10, 20, 30, 255))
    assert np.asarray(to_rgb(clear)).tolist() == [[[255, 255, 255], [10, 20, 30]]]
    deep = Image.fromarray(np.array([[1000, 2000, 3000]], dtype=np.uint16))
    assert np.asarray(to_rgb(deep))[0, :, 0].tolist() == [0, 127, 255]
