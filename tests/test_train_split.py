"""The default validation: other photos of every labelled class, so every label trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.labelled_gratings import write_labelled_gratings
from tests.tiny_training import tiny
from trainer.checkpoint import load_model
from trainer.cli import main
from trainer.data import LabelledImages, scan_labelled_folder, split_by_images
from trainer.embedding import embed_images
from trainer.evaluation import retrieval_metrics
from trainer.options import TrainSettings
from trainer.train import load_data, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(counts: list[int]) -> LabelledImages:
    """A LabelledImages with `counts[c]` (fake) paths in class c."""
    paths, labels = [], []
    for label, count in enumerate(counts):
        paths += [Path(f"c{label}/{i}.png") for i in range(count)]
        labels += [label] * count
    return LabelledImages(paths, labels, [f"c{label}" for label in range(len(counts))])


def test_every_class_trains_and_validates_on_other_images():
    dataset = _images([10, 20, 5, 4, 40])
    split = split_by_images(dataset, fraction=0.2, seed=3)
    assert split.train_only == []
    assert split.train.classes == split.val.classes == dataset.classes
    assert not set(split.train.paths) & set(split.val.paths)
    assert sorted(split.train.paths + split.val.paths) == sorted(dataset.paths)
    for label, count in enumerate([10, 20, 5, 4, 40]):
        n_val = split.val.labels.count(label)
        assert n_val == max(2, round(count * 0.2)), (label, n_val)
        assert split.train.labels.count(label) == count - n_val
    for images in (split.train, split.val):
        assert all(
            str(p).startswith(images.classes[lab] + "/")
            for p, lab in zip(images.paths, images.labels, strict=True)
        )


def test_a_class_with_too_few_images_trains_only_and_is_named():
    split = split_by_images(_images([10, 3, 10, 2]), fraction=0.2, seed=0)
    assert split.train_only == ["c1", "c3"]
    assert split.train.labels.count(1) == 3 and split.train.labels.count(3) == 2
    assert 1 not in split.val.labels and 3 not in split.val.labels
    assert set(split.val.labels) == {0, 2}


def test_the_split_is_deterministic_with_the_seed():
    dataset = _images([12] * 6)
    first = split_by_images(dataset, seed=5)
    again = split_by_images(dataset, seed=5)
    assert first.val.paths == again.val.paths and first.train.paths == again.train.paths
    others = {tuple(split_by_images(dataset, seed=s).val.paths) for s in range(6)}
    assert len(others) > 1


def test_too_few_validated_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="--val-folder"):
        split_by_images(_images([10, 3, 3]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_by_images(_images([10, 10]), fraction=1.0)


def test_load_data_uses_all_classes_by_default_and_splits_classes_on_request(tmp_path):
    write_labelled_gratings(tmp_path, classes=6, per_class=6, size=16)
    default = load_data(TrainSettings(folder=str(tmp_path)))
    assert len(default.train.classes) == 6 and set(default.val.labels) == set(range(6))
    assert (len(default.train), len(default.val)) == (24, 12)
    by_class = load_data(TrainSettings(folder=str(tmp_path), val_split="classes"))
    assert len(by_class.train.classes) == len(by_class.val.classes) == 3
    assert not set(by_class.train.classes) & set(by_class.val.classes)


def test_the_start_competes_under_image_validation(tmp_path):
    """A learning rate that wrecks the network: the kept model is the start, and scores as it did."""
    folder = tmp_path / "data"
    write_labelled_gratings(folder, classes=6, per_class=8, size=32)
    result = train(
        tiny(
            folder,
            tmp_path / "m.safetensors",
            embedding_dim=8,
            images_per_class=2,
            batches_per_epoch=2,
            seed=1,
            lr=30.0,
            backbone_lr_factor=1.0,
        )
    )
    scores = [(h.metrics["map@r"], h.metrics["recall@1"]) for h in result.history]
    assert (result.best_metrics["map@r"], result.best_metrics["recall@1"]) == max(scores)
    assert result.best_metrics["map@r"] >= result.start_metrics["map@r"]
    split = split_by_images(scan_labelled_folder(folder), seed=1)
    vectors, labels = embed_images(load_model(str(result.out)), split.val, torch.device("cpu"))
    assert retrieval_metrics(vectors, labels)["map@r"] == pytest.approx(result.best_metrics["map@r"])
    assert result.data["train_classes"] == result.data["val_classes"] == 6
    assert (result.data["train_images"], result.data["val_images"]) == (36, 12)


def test_cli_reports_the_payoff_and_the_classes_that_only_train(tmp_path, capsys):
    folder = tmp_path / "data"
    write_labelled_gratings(folder, classes=5, per_class=6, size=32)
    small = folder / "angle0-freq3"
    for extra in sorted(small.iterdir())[3:]:
        extra.unlink()  # 3 images: too few to hold 2 out and keep 2
    out = tmp_path / "m.safetensors"
    argv = [
        "train", str(folder), "--out", str(out), "--backbone", "mobilenet_v3_small", "--no-pretrained",
        "--embedding-dim", "8", "--image-size", "32", "--epochs", "1", "--classes-per-batch", "3",
        "--images-per-class", "2", "--batches-per-epoch", "1", "--device", "cpu", "--workers", "0", "-q",
    ]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 classes have fewer than 4 images, too few to hold some out" in err and "angle0-freq3" in err
    assert "training on 19 images of all 5 classes, validating on 8 other images of 4 of them" in err
    line = next(line for line in err.splitlines() if "Recall@1 on your held-out photos:" in line)
    assert "→" in line and "trained on 19 images of 5 classes" in line
    assert "8 held-out images of 4 classes" in line
