"""Camera RAW photos: the embedded preview when large enough, else LibRaw's full decode, upright either way."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import rawpy
from PIL import Image

from foundation import imagetypes
from foundation.images import ImageLoadError, load_image
from foundation.pixels import orient
from tests.dnggen import bayer_of, write_dng


def _scene(seed: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """Blocks of colour with a blue marker in the top-left corner, so orientation is visible."""
    width, height = size
    rng = np.random.default_rng(seed)
    blocks = rng.integers(40, 200, (height // 8, width // 8, 3), dtype=np.uint8)
    rgb = np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)
    rgb[: height // 4, : width // 4] = (20, 20, 230)
    return rgb


def _preview(size: tuple[int, int]) -> Image.Image:
    """A preview unlike the mosaic (red, with a green marker top-left) to tell the two paths apart."""
    image = Image.new("RGB", size, (210, 40, 40))
    image.paste((30, 200, 30), (0, 0, size[0] // 4, size[1] // 4))
    return image


def _libraw(path, half_size: bool = False) -> np.ndarray:
    """The reference: LibRaw's own decode with the camera white balance, orientation applied."""
    with rawpy.imread(str(path)) as raw:
        return raw.postprocess(use_camera_wb=True, half_size=half_size, output_bps=8)


@pytest.fixture
def without_rawpy(monkeypatch):
    """`import rawpy` fails, as on an installation without the `raw` extra."""
    monkeypatch.setitem(sys.modules, "rawpy", None)
    imagetypes.rawpy_module.cache_clear()
    yield
    monkeypatch.undo()
    imagetypes.rawpy_module.cache_clear()


@pytest.mark.parametrize("jpeg", [True, False], ids=["jpeg-preview", "bitmap-preview"])
@pytest.mark.parametrize("orientation", [1, 6, 3, 8])
def test_a_large_enough_preview_is_used_and_turned_upright(tmp_path, orientation, jpeg):
    path = write_dng(tmp_path / "p.dng", bayer_of(_scene(0)), _preview((160, 120)), orientation, jpeg)
    image = load_image(path, min_side=64)
    expected = orient(_preview((160, 120)), orientation)
    assert image.size == expected.size
    difference = np.abs(np.asarray(image, dtype=int) - np.asarray(expected, dtype=int))
    assert difference.mean() < 3  # the JPEG preview, not the 64 x 48 mosaic


@pytest.mark.parametrize("orientation", [1, 6, 3, 8])
def test_without_a_preview_libraw_decodes_it_upright(tmp_path, orientation):
    path = write_dng(tmp_path / "r.dng", bayer_of(_scene(1)), orientation=orientation)
    image = np.asarray(load_image(path))
    np.testing.assert_array_equal(image, _libraw(path))
    upright = np.asarray(load_image(write_dng(tmp_path / "up.dng", bayer_of(_scene(1)))))
    turns = {1: 0, 6: -1, 3: 2, 8: 1}[orientation]  # clockwise quarter turns are negative in numpy
    np.testing.assert_array_equal(image, np.rot90(upright, turns))
    marker = upright[:8, :12].astype(int)
    assert marker[..., 2].mean() > marker[..., 0].mean() + 100  # the blue corner came through


def test_a_preview_smaller_than_needed_gives_way_to_a_full_decode(tmp_path):
    path = write_dng(tmp_path / "s.dng", bayer_of(_scene(2)), _preview((16, 12)), orientation=6)
    np.testing.assert_array_equal(np.asarray(load_image(path, min_side=32)), _libraw(path))


def test_a_small_model_size_decodes_at_half_size(tmp_path):
    path = write_dng(tmp_path / "h.dng", bayer_of(_scene(3)))
    image = load_image(path, min_side=16)
    assert image.size == (32, 24)
    np.testing.assert_array_equal(np.asarray(image), _libraw(path, half_size=True))


def test_raw_suffixes_are_image_types():
    for suffix in (".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"):
        assert imagetypes.is_supported(f"photo{suffix.upper()}")


def test_a_file_that_is_not_raw_gets_a_reason(tmp_path):
    path = tmp_path / "notes.nef"
    path.write_text("not a photo at all")
    with pytest.raises(ImageLoadError, match="not a RAW photo"):
        load_image(path)


def test_without_rawpy_raw_files_are_skipped_with_the_extra_to_install(tmp_path, without_rawpy):
    path = write_dng(tmp_path / "p.dng", bayer_of(_scene(0)))
    assert not imagetypes.is_supported(path)
    assert imagetypes.skip_reason(path) == imagetypes.RAW_MISSING
    with pytest.raises(ImageLoadError, match=r"install lookalike\[raw\]"):
        load_image(path)


def test_the_library_lists_raw_without_the_extra_then_indexes_it_once_installed(
    tmp_path, tiny_checkpoint, monkeypatch
):
    from retrieval_app.core.library import Library

    photos = tmp_path / "photos"
    photos.mkdir()
    raw = write_dng(photos / "IMG_0001.dng", bayer_of(_scene(4)), _preview((96, 72)), orientation=6)
    Image.fromarray(_scene(5)).save(photos / "other.jpg")
    monkeypatch.setitem(sys.modules, "rawpy", None)
    imagetypes.rawpy_module.cache_clear()
    try:
        with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
            report = library.index([photos])
            assert report.embedded == 1
            assert dict(library.status().skipped) == {str(raw): imagetypes.RAW_MISSING}
    finally:
        monkeypatch.undo()
        imagetypes.rawpy_module.cache_clear()
    with Library.open(tmp_path / "lib") as library:
        report = library.index()
        assert report.embedded == 1 and not library.status().skipped


def test_the_trainer_reads_raw_photos_as_the_app_does(tmp_path, tiny_checkpoint):
    from retrieval_app.core.embedder import Embedder
    from trainer.data import ImageDataset, scan_labelled_folder
    from trainer.transforms import eval_transform

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_dng(tmp_path / name / "1.dng", bayer_of(_scene(6)), _preview((160, 120)), orientation=8)
        write_dng(tmp_path / name / "2.DNG", bayer_of(_scene(7)), orientation=3)
    images = scan_labelled_folder(tmp_path)
    assert len(images) == 4 and not images.skipped
    embedder = Embedder(str(tiny_checkpoint), device="cpu")
    dataset = ImageDataset(images, eval_transform(embedder.config), embedder.config.image_size)
    for index, path in enumerate(images.paths):
        assert (dataset[index][0] == embedder.load_tensor(str(path))).all(), path


def test_a_raw_and_jpeg_pair_is_one_photo_for_app_and_trainer(tmp_path, tiny_checkpoint):
    """IMG_0001.CR2-style pairs: the JPEG stands for the pair in the library, its results and the
    trainer; a RAW without a JPEG twin, or whose twin is gone, is read itself."""
    from retrieval_app.core.library import Library
    from trainer.data import scan_labelled_folder

    photos = tmp_path / "labelled" / "trip"
    photos.mkdir(parents=True)
    picture = Image.fromarray(_scene(8, (96, 72)))
    picture.save(photos / "IMG_0001.JPG", quality=95)
    write_dng(photos / "IMG_0001.DNG", bayer_of(_scene(8, (96, 72))), picture)  # the same photo
    write_dng(photos / "IMG_0002.dng", bayer_of(_scene(9)), _preview((96, 72)))
    Image.fromarray(_scene(10)).save(photos / "IMG_0003.jpg")
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([photos])
        ids, _ = library.catalogue.vectors()
        indexed = set(library.catalogue.paths_for(ids).values())
        results = [r.path for r in library.search(photos / "IMG_0001.JPG", k=10)]
    expected = {str(photos / name) for name in ("IMG_0001.JPG", "IMG_0002.dng", "IMG_0003.jpg")}
    assert indexed == expected
    assert str(photos / "IMG_0001.DNG") not in results and len(results) == 2
    (tmp_path / "labelled" / "other").mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(_scene(11)).save(tmp_path / "labelled" / "other" / name)
    trainer = scan_labelled_folder(tmp_path / "labelled")
    assert {str(p) for p in trainer.paths if p.parent == photos} == expected
    (photos / "IMG_0001.JPG").unlink()
    with Library.open(tmp_path / "lib") as library:
        report = library.index()
        ids, _ = library.catalogue.vectors()
        assert str(photos / "IMG_0001.DNG") in library.catalogue.paths_for(ids).values()
        assert report.embedded == 1


def test_a_damaged_preview_gives_way_to_a_full_decode(tmp_path):
    path = write_dng(tmp_path / "d.dng", bayer_of(_scene(12)), _preview((160, 120)))
    data = bytearray(path.read_bytes())
    start, end = data.index(b"\xff\xd8\xff"), data.index(b"\xff\xd9") + 2
    data[start:end] = bytes(end - start)  # the preview is no JPEG any more
    path.write_bytes(bytes(data))
    np.testing.assert_array_equal(np.asarray(load_image(path, min_side=32)), _libraw(path))
