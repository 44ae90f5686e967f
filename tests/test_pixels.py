"""Trainer and app read the same files and decode them to the same pixels, large JPEGs (draft + shrink) included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from foundation import imagetypes
from foundation.images import load_image
from foundation.pixels import orient, to_rgb
from retrieval_app.core.scanner import scan_folder
from trainer.data import ImageDataset, scan_labelled_folder
from trainer.transforms import eval_transform


def _write_files(folder):
    """Small PNGs in awkward modes, and large JPEGs that take the draft and the box-shrink paths."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 60, 4), dtype=np.uint8), "RGBA").save(folder / "alpha.png")
    Image.fromarray(rng.integers(0, 4096, (40, 60)).astype(np.uint16)).save(folder / "deep.png")
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).convert("P").save(folder / "pal.png")
    ramp = np.linspace(0, 255, 6000).astype(np.uint8)
    photo = np.empty((4000, 6000, 3), dtype=np.uint8)
    photo[..., 0], photo[..., 1], photo[..., 2] = ramp, ramp[:4000, None], 90
    large = Image.fromarray(photo)
    large.save(folder / "large.jpg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    large.save(folder / "large-rotated.jpe", quality=90, exif=exif)
    large.resize((1500, 1000)).save(folder / "mid.jpeg", quality=90)
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    files = _write_files(root / "cls")
    for index, path in enumerate(files[:2]):  # a second class, so the folder is a training set
        (root / "other").mkdir(exist_ok=True)
        with Image.open(path) as image:
            image.save(root / "other" / f"{index}{path.suffix}", exif=image.getexif())
    return root, files


def test_trainer_and_app_see_the_same_tensors(class_folder, tiny_checkpoint):
    """The app's embedder and the trainer's dataset, each through its own code, give equal tensors."""
    from retrieval_app.core.embedder import Embedder

    root, files = class_folder
    embedder = Embedder(str(tiny_checkpoint), device="cpu")
    dataset = ImageDataset(
        scan_labelled_folder(root).subset(["cls"]),
        eval_transform(embedder.config),
        embedder.config.image_size,
    )
    assert [p.name for p in dataset.images.paths] == [p.name for p in files]
    for index, path in enumerate(dataset.images.paths):
        torch.testing.assert_close(
            dataset[index][0], embedder.load_tensor(str(path)), rtol=0, atol=0, msg=str(path)
        )


@pytest.mark.parametrize("name", ["large.jpg", "large-rotated.jpe", "mid.jpeg"])
def test_large_jpegs_at_the_model_size_match_a_full_decode(class_folder, name):
    """Draft decoding and box-shrinking change how fast, not what the model sees: against a plain
    full decode (Pillow, EXIF transpose, RGB), resized the same way, pixels differ by a few levels."""
    _, files = class_folder
    path = next(p for p in files if p.name == name)
    fast = load_image(path, min_side=64)
    assert 64 <= min(fast.size) <= 4 * 64
    with Image.open(path) as image:
        full = orient(image.convert("RGB"), image.getexif().get(0x0112, 1))
    assert fast.size[0] / fast.size[1] == pytest.approx(full.size[0] / full.size[1], rel=0.01)
    transform = v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(64, antialias=True),
            v2.CenterCrop(64),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    difference = (transform(fast) - transform(full)).abs()
    assert float(difference.mean()) < 2 / 255 and float(difference.max()) < 24 / 255


def test_large_jpeg_takes_the_draft_and_shrink_paths(class_folder):
    """6000 x 4000 at 64 px: the draft gives 1/8 (750 x 500), the box filter a further 1/3 (rounded up)."""
    _, files = class_folder
    assert load_image(next(p for p in files if p.name == "large.jpg"), min_side=64).size == (250, 167)


def test_trainer_lists_the_files_the_app_lists(tmp_path, monkeypatch):
    """Same suffixes, same skip reasons: what the app indexes or lists as skipped, the trainer uses or lists."""
    monkeypatch.setattr(imagetypes, "heif_ready", lambda: False)
    folder = tmp_path / "set" / "cls"
    folder.mkdir(parents=True)
    for name in ("a.jpe", "b.ppm", "c.PNG", "d.jfif"):
        Image.new("RGB", (20, 20), (200, 10, 10)).save(
            folder / name, format="PNG" if name != "b.ppm" else "PPM"
        )
    Image.new("RGB", (20, 20)).save(folder / "photo.svg", format="JPEG")
    (folder / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(16))
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.jpg").write_bytes(b"")
    app = {entry.path: entry.error for entry in scan_folder(str(folder))}
    trainer = scan_labelled_folder(tmp_path / "set")
    listed = {str(p): None for p in trainer.paths} | {str(p): reason for p, reason in trainer.skipped}
    assert listed.keys() == app.keys()
    assert {path for path, error in app.items() if error} == {
        str(folder / "photo.svg"),
        str(folder / "phone.heic"),
    }
    for path, error in app.items():
        if error:
            assert listed[path] == error


def test_transparency_goes_onto_white_and_16_bit_uses_its_range():
    clear = Image.new("RGBA", (2, 1), (10, 20, 30, 0))
    clear.putpixel((1, 0), (10, 20, 30, 255))
    assert np.asarray(to_rgb(clear)).tolist() == [[[255, 255, 255], [10, 20, 30]]]
    deep = Image.fromarray(np.array([[1000, 2000, 3000]], dtype=np.uint16))
    assert np.asarray(to_rgb(deep))[0, :, 0].tolist() == [0, 127, 255]
