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
from PIL import Image

from foundation.errors import InputError
from foundation.images import ImageLoadError, load_image
from foundation.imagetypes import is_supported, raw_twins, skip_reason

from .options import TRAIN_MIN_IMAGES, VAL_MIN_IMAGES

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
        raise InputError(f"not a folder: {root}")
    by_class: dict[str, list[Path]] = {}
    skipped: list[tuple[Path, str]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))  # hidden: as the app does
        names = sorted(name for name in files if not name.startswith("."))
        twins = raw_twins(names)  # as the app does: a RAW+JPEG pair is read once, as its JPEG
        names = [name for name in names if name not in twins]
        images = [Path(folder) / name for name in names if is_supported(name)]
        for path in (Path(folder) / name for name in names if not is_supported(name)):
            reason = skip_reason(path)
            if reason is not None:
                skipped.append((path, reason))
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
        raise InputError(
            f"no classes in {root}: put each class's images (at least {MIN_IMAGES_PER_CLASS}) in its own sub-folder"
        )
    paths = [path for name in classes for path in by_class[name]]
    labels = [label for label, name in enumerate(classes) for _ in by_class[name]]
    return LabelledImages(paths, labels, classes, skipped, small)


def unreadable_reason(path: Path) -> str | None:
    """None when the file decodes, else the app's reason for it.

    A reduced-size decode (JPEG draft) is cheap and, unlike `verify`, also catches truncated
    files, which would otherwise stop training halfway through an epoch.
    """
    try:  # a named pipe is refused by the decoder, never waited on
        load_image(path, min_side=SCAN_DECODE_SIZE)
    except ImageLoadError as exc:
        return str(exc)
    return None


def split_by_class(
    dataset: LabelledImages, fraction: float = 0.5, seed: int = 0
) -> tuple[LabelledImages, LabelledImages]:
    """Train on a random `fraction` of the classes, evaluate on the unseen rest (zero-shot protocol)."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"the train fraction of classes must be between 0 and 1, got {fraction}")
    count = len(dataset.classes)
    n_train = round(count * fraction)
    if n_train < 2 or count - n_train < 2:
        raise InputError(
            f"{count} classes are too few to hold some out for validation "
            "(need at least 2 for training and 2 held out); add classes or give --val-folder"
        )
    order = np.random.default_rng(seed).permutation(count)
    train_names = sorted(dataset.classes[i] for i in order[:n_train])
    val_names = sorted(dataset.classes[i] for i in order[n_train:])
    return dataset.subset(train_names), dataset.subset(val_names)


@dataclass
class ImageSplit:
    """Every class trains; `val` holds other images of the same classes; `train_only` names the
    classes too small to spare validation images (they train, and the person is told)."""

    train: LabelledImages
    val: LabelledImages
    train_only: list[str]


def split_by_images(
    dataset: LabelledImages,
    fraction: float = 0.2,
    seed: int = 0,
    min_val: int = VAL_MIN_IMAGES,
    min_train: int = TRAIN_MIN_IMAGES,
) -> ImageSplit:
    """Hold out a seeded `fraction` of each class's images (at least `min_val`) for validation.

    This is the person's case: the categories they label are the ones they search for later, in
    new photos. A class that would keep fewer than `min_train` images trains on all of them.
    Labels keep the dataset's numbering, so train and val name classes alike.
    """
    if not 0.0 < fraction < 1.0:
        raise InputError(f"the validation fraction of images must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(dataset.labels):
        members.setdefault(label, []).append(index)
    train_keep: list[int] = []
    val_keep: list[int] = []
    train_only: list[str] = []
    for label in sorted(members):
        indices = members[label]
        n_val = max(min_val, round(len(indices) * fraction))
        if len(indices) - n_val < min_train:
            train_keep.extend(indices)
            train_only.append(dataset.classes[label])
            continue
        order = rng.permutation(len(indices))
        val_keep.extend(indices[i] for i in order[:n_val])
        train_keep.extend(indices[i] for i in order[n_val:])
    validated = len(members) - len(train_only)
    if validated < 2:
        raise InputError(
            f"only {validated} of {len(members)} classes have the {min_val + min_train} images needed "
            "to hold some out for validation (at least 2 such classes); add images or give --val-folder"
        )

    def pick(keep: list[int]) -> LabelledImages:
        keep = sorted(keep)
        return LabelledImages(
            [dataset.paths[i] for i in keep], [dataset.labels[i] for i in keep], list(dataset.classes)
        )

    return ImageSplit(pick(train_keep), pick(val_keep), train_only)


class ImageDataset(torch.utils.data.Dataset):
    """(image tensor, label) pairs of a LabelledImages set, decoded as the app decodes them
    (`foundation.images.load_image` at the model's size) and transformed on access."""

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
            image = load_image(path, self.min_side)
        except ImageLoadError as exc:
            raise InputError(f"cannot decode {path}: {exc}") from exc
        return self.transform(image), self.images.labels[index]
