"""Labelled image folders for metric learning: a class is a folder of images.

A class is any folder that directly holds images, named by its path under the root, so both
`root/cat/*.jpg` and nested layouts such as Omniglot's `root/alphabet/character/*.png` work.
Unreadable files are skipped with a reason; classes with fewer than two images cannot give a
positive pair and are left out (and reported).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .pixels import to_rgb

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
MIN_IMAGES_PER_CLASS = 2
SCAN_DECODE_SIZE = 64


@dataclass
class LabelledImages:
    """Image paths with integer labels; `classes[label]` is the class name."""

    paths: list[Path]
    labels: list[int]
    classes: list[str]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    small_classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, class_names: list[str]) -> LabelledImages:
        """The images of `class_names`, relabelled 0..n-1 in the given order."""
        new_label = {self.classes.index(name): i for i, name in enumerate(class_names)}
        keep = [i for i, label in enumerate(self.labels) if label in new_label]
        return LabelledImages(
            paths=[self.paths[i] for i in keep],
            labels=[new_label[self.labels[i]] for i in keep],
            classes=list(class_names),
        )

    def summary(self) -> str:
        """One line for people: counts of images, classes, skipped files and small classes."""
        text = f"{len(self.paths)} images in {len(self.classes)} classes"
        if self.skipped:
            text += f", {len(self.skipped)} unreadable files skipped"
        if self.small_classes:
            text += (
                f", {len(self.small_classes)} classes with fewer than {MIN_IMAGES_PER_CLASS} images left out"
            )
        return text


def scan_labelled_folder(root: str | os.PathLike) -> LabelledImages:
    """Find the classes under `root`; raises ValueError when there is nothing to learn from."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"not a folder: {root}")
    by_class: dict[str, list[Path]] = {}
    skipped: list[tuple[Path, str]] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        images = sorted(
            Path(folder) / name for name in files if Path(name).suffix.lower() in IMAGE_EXTENSIONS
        )
        if not images:
            continue
        if Path(folder) == root:
            skipped.extend((path, "not inside a class sub-folder") for path in images)
            continue
        readable = []
        for path in images:
            reason = unreadable_reason(path)
            if reason is None:
                readable.append(path)
            else:
                skipped.append((path, reason))
        by_class[Path(folder).relative_to(root).as_posix()] = readable
    small = sorted(name for name, paths in by_class.items() if len(paths) < MIN_IMAGES_PER_CLASS)
    classes = sorted(name for name in by_class if name not in small)
    if not classes:
        raise ValueError(
            f"no classes in {root}: put each class's images (at least {MIN_IMAGES_PER_CLASS}) in its own sub-folder"
        )
    paths = [path for name in classes for path in by_class[name]]
    labels = [label for label, name in enumerate(classes) for _ in by_class[name]]
    return LabelledImages(paths, labels, classes, skipped, small)


def unreadable_reason(path: Path) -> str | None:
    """None when the file decodes, else a short reason.

    A reduced-size decode (JPEG draft) is cheap and, unlike `verify`, also catches truncated
    files, which would otherwise stop training halfway through an epoch.
    """
    try:
        with Image.open(path) as image:
            image.draft("RGB", (SCAN_DECODE_SIZE, SCAN_DECODE_SIZE))
            image.load()
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except Image.DecompressionBombError:
        return "image is too large to decode safely"
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return f"corrupt image ({exc})"
    return None


def split_by_class(
    dataset: LabelledImages, fraction: float = 0.5, seed: int = 0
) -> tuple[LabelledImages, LabelledImages]:
    """Train on a random `fraction` of the classes, evaluate on the unseen rest (zero-shot protocol)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the train fraction of classes must be between 0 and 1, got {fraction}")
    count = len(dataset.classes)
    n_train = round(count * fraction)
    if n_train < 2 or count - n_train < 2:
        raise ValueError(
            f"{count} classes are too few to hold some out for validation "
            "(need at least 2 for training and 2 held out); add classes or give --val-folder"
        )
    order = np.random.default_rng(seed).permutation(count)
    train_names = sorted(dataset.classes[i] for i in order[:n_train])
    val_names = sorted(dataset.classes[i] for i in order[n_train:])
    return dataset.subset(train_names), dataset.subset(val_names)


def load_rgb(path: str | os.PathLike, min_side: int) -> Image.Image:
    """Decode an image upright in RGB; JPEGs are draft-decoded to about `min_side` (fast)."""
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", (min_side, min_side))
        return to_rgb(ImageOps.exif_transpose(image))


class ImageDataset(torch.utils.data.Dataset):
    """(image tensor, label) pairs of a LabelledImages set, decoded and transformed on access."""

    def __init__(
        self, images: LabelledImages, transform: Callable[[Image.Image], torch.Tensor], min_side: int
    ) -> None:
        self.images = images
        self.transform = transform
        self.min_side = min_side

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.images.paths[index]
        try:
            image = load_rgb(path, self.min_side)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ValueError(f"cannot decode {path}: {exc}") from exc
        return self.transform(image), self.images.labels[index]
