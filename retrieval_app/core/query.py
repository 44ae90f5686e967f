"""Queries beyond one whole image: several examples, counter-examples, flips and rotations, a region.

A query is a set of positive examples ("more like these") and optional negative ones ("less
like that"), each an image file or a decoded image, optionally cut to a region. One example alone
searches exactly like a single image. Several are scored Rocchio-style in a whitened space: one
query vector, the mean of the whitened positives moved away from the mean of the whitened
negatives by NEGATIVE_WEIGHT, re-normalised. Under the Mahalanobis or learned metric the whitened
space is the searched one. Under Euclidean or cosine it is the library's Mahalanobis whitening
(`core.metrics`) made full-rank (`full_whitening`), and the whitened query q goes back to one
raw unit vector A q, which ranks unit vectors x exactly by the linear discriminant ⟨A(x − mean),
q⟩: one query of the metric's own index, exact or HNSW, distances in its units.

Measured on Caltech-101 and Tiny-ImageNet (`benchmarks/queries.py`, QUALITY.md "Queries"), 5
examples reach MAP@R 0.769 and 0.338, above the best single example of the 5 chosen afterwards
(0.718 and 0.292; 0.728 and 0.314 under the Mahalanobis metric) and plain Rocchio on the raw
vectors (0.724 and 0.244). The nearest positive, soft max fusion and reciprocal rank fusion
score lower, raw or whitened; the kept directions alone collapse in small libraries (2 of them
for 20 images); a round of query expansion adds 0.01 where classes are large, costs 0.02 where
they are small, and needs a second index query. NEGATIVE_WEIGHT 0.25 takes the share of a
negative's class in the top results from 10 % to 6 % (Caltech-101) and 14 % to 9 % (Tiny-ImageNet).
A single example with negatives is scored as several are.

With `flips`, each example is also embedded rotated by 90, 180 and 270 degrees, which is one
orientation of the query per rotation; a candidate's distance is its least distance to any
of them, so a rotated or mirrored copy finds its original (mirrors need no view of their own:
pooled CNN features barely change under a mirror, measured in the same benchmark).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from foundation.errors import InputError
from foundation.images import ImageLoadError, load_image

from . import catalogue as cat
from .metrics import SHRINKAGE, MetricError, MetricSpace
from .reports import DEFAULT_K

if TYPE_CHECKING:
    import torch

    from .library import Library, SearchResult

NEGATIVE_WEIGHT = 0.25
Orientation = tuple[int, bool]  # quarter turns counter-clockwise, then mirrored left-right or not
ALL_ORIENTATIONS: tuple[Orientation, ...] = tuple(
    (turns, mirror) for mirror in (False, True) for turns in range(4)
)
FLIP_ORIENTATIONS: tuple[Orientation, ...] = ((0, False), (1, False), (2, False), (3, False))
MIN_CROP_SIDE = 8

Crop = tuple[int, int, int, int]
Source = str | os.PathLike | Image.Image


@dataclass(frozen=True)
class Example:
    """One example image (a file or a decoded image), or a region of it: `crop` (x, y, w, h) in
    pixels of the oriented image, or `region` (left, top, right, bottom) as fractions of its sides
    (what a rectangle drawn on a preview gives)."""

    source: Source
    crop: Crop | None = None
    region: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Query:
    """Positives (at least one), negatives, and whether rotated or mirrored copies should match."""

    positives: tuple[Example, ...]
    negatives: tuple[Example, ...] = ()
    flips: bool = False


@dataclass
class QueryVectors:
    """An embedded query: one raw vector per orientation (1, or len(FLIP_ORIENTATIONS) with flips) for each
    example, and the catalogue ids of example files, which are left out of the results."""

    positives: np.ndarray  # (examples, orientations, dim)
    negatives: np.ndarray  # (examples, orientations, dim); zero examples when there are none
    exclude: frozenset[int] = field(default_factory=frozenset)


def parse_crop(text: str) -> Crop:
    """`x,y,w,h` in pixels to a crop; a clear error for anything else."""
    parts = text.replace(" ", "").split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"a region is x,y,w,h in whole pixels (e.g. 40,30,200,150), not {text!r}") from None
    if x < 0 or y < 0 or w < MIN_CROP_SIDE or h < MIN_CROP_SIDE:
        raise InputError(
            f"region {text}: x and y must be >= 0, width and height at least {MIN_CROP_SIDE} pixels"
        )
    return x, y, w, h


def crop_image(image: Image.Image, crop: Crop) -> Image.Image:
    """The region `crop` of `image`, refused when it reaches outside the image."""
    x, y, w, h = crop
    width, height = image.size
    if x + w > width or y + h > height:
        raise InputError(
            f"region {x},{y},{w},{h} reaches outside the image, which is {width} x {height} pixels"
        )
    return image.crop((x, y, x + w, y + h))


def oriented(batch: torch.Tensor, orientations: Sequence[Orientation]) -> torch.Tensor:
    """Each preprocessed (square) image in `batch` in each of `orientations`, grouped by image.

    Turning the model's centre-cropped square equals preprocessing the turned photo, so no
    second decode is needed.
    """
    import torch  # only when embedding: `lookalike --help` and `status` must not pay for it

    views = [_orient(batch, turns, mirror) for turns, mirror in orientations]
    return torch.stack(views, dim=1).reshape(-1, *batch.shape[1:])


def _orient(batch: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    import torch

    turned = torch.rot90(batch, turns, dims=(-2, -1))
    return torch.flip(turned, dims=(-1,)) if mirror else turned


def embed_examples(library: Library, examples: Sequence[Example], flips: bool) -> tuple[np.ndarray, set[int]]:
    """(examples, orientations, dim) raw vectors, and the catalogue ids of the example files.

    Whole indexed files reuse their stored vectors (without flips); the rest go through the
    model together, in one batch."""
    import torch

    embedder = library.embedder
    views = FLIP_ORIENTATIONS if flips else ((0, False),)
    own: set[int] = set()
    vectors = np.zeros((len(examples), len(views), embedder.dim), dtype=np.float32)
    rows, tensors = [], []
    for row, example in enumerate(examples):
        stored, file_id = _stored_vector(library, example)
        if file_id is not None:
            own.add(file_id)
        if stored is not None and not flips:
            vectors[row, 0] = stored
        else:
            rows.append(row)
            tensors.append(embedder.preprocess(_example_image(example, embedder.config.image_size)))
    if tensors:
        embedded = embedder.embed_tensors(oriented(torch.stack(tensors), views))
        vectors[rows] = embedded.reshape(len(rows), len(views), -1)
    return vectors, own


def embed_query(library: Library, query: Query) -> QueryVectors:
    """Embed every example of `query` (each once, or once per orientation with flips)."""
    if not query.positives:
        raise InputError("a query needs at least one example image")
    positives, own = embed_examples(library, query.positives, query.flips)
    negatives, own_negative = embed_examples(library, query.negatives, query.flips)
    return QueryVectors(positives, negatives, frozenset(own | own_negative))


def moved_vectors(
    positives: np.ndarray, negatives: np.ndarray, weight: float = NEGATIVE_WEIGHT
) -> np.ndarray:
    """One unit query vector per orientation: mean positive minus `weight` x mean negative, normalised."""
    moved = positives.mean(axis=0, dtype=np.float64)
    if len(negatives):
        moved = moved - weight * negatives.mean(axis=0, dtype=np.float64)
    return _unit(moved).astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows kept as they are)."""
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def query_points(library: Library, vectors: QueryVectors, space: MetricSpace) -> np.ndarray:
    """One query point per orientation in `space` (the searched one): the single example as it
    is, else the moved mean in the metric's own space when it is fitted (Mahalanobis, learned),
    else in the library's Mahalanobis whitening turned back into a raw vector (plain Rocchio on
    the raw vectors while the library is too small to be whitened)."""
    positives, negatives = vectors.positives, vectors.negatives
    if len(positives) == 1 and not len(negatives):
        return space.apply(positives[0])
    if space.transform is not None:
        return moved_vectors(space.apply(positives), space.apply(negatives))
    try:
        whitening = library.metric_space("mahalanobis")
    except MetricError:
        return space.apply(moved_vectors(positives, negatives))
    return space.apply(whitened_query(positives, negatives, whitening))


def whitened_query(
    positives: np.ndarray, negatives: np.ndarray, whitening: MetricSpace, weight: float = NEGATIVE_WEIGHT
) -> np.ndarray:
    """Raw unit vectors A q, q the moved mean of the examples whitened by A (`full_whitening`): for
    unit vectors x, x · A q = ⟨A(x − mean), q⟩ + a constant, so their Euclidean distance ranks like
    that whitened score (a linear discriminant)."""
    mean, directions, gains = full_whitening(whitening)

    def whiten(v: np.ndarray) -> np.ndarray:
        return v + ((v @ directions.T) * gains) @ directions

    moved = moved_vectors(
        _unit(whiten(positives.astype(np.float64) - mean)),
        _unit(whiten(negatives.astype(np.float64) - mean)),
        weight,
    )
    return _unit(whiten(moved.astype(np.float64))).astype(np.float32)


def full_whitening(space: MetricSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, directions, gains) of a full-rank whitening A = I + Σ gainᵢ dᵢdᵢᵀ, proportional to
    Σ^(-1/2) for the covariance the Mahalanobis `space` (shrunk PCA, `core.metrics`) implies: its kept
    directions at their shrunk variances, every other direction at the variance they leave (the
    vectors are unit, so the total is 1 − |mean|²), shrunk the same way. Searching only the kept
    directions loses what tells images apart in a small library (2 directions for 16 images)."""
    if space.transform is None or space.mean is None:
        raise MetricError("full_whitening needs a fitted Mahalanobis space")
    rows = space.transform.astype(np.float64)
    mean = space.mean.astype(np.float64)
    shrunk = 1.0 / np.einsum("ij,ij->i", rows, rows)
    directions = rows * np.sqrt(shrunk)[:, None]
    average = shrunk.mean()  # shrinking toward the mean keeps the mean
    variances = (shrunk - SHRINKAGE * average) / (1.0 - SHRINKAGE)
    left = max(1.0 - float(mean @ mean) - float(variances.sum()), 0.0) / max(rows.shape[1] - len(rows), 1)
    rest = (1.0 - SHRINKAGE) * left + SHRINKAGE * average
    return mean, directions, np.sqrt(rest / shrunk) - 1.0


def search_vectors(
    library: Library,
    vectors: QueryVectors,
    k: int | None = DEFAULT_K,
    metric: str = "euclidean",
    max_distance: float | None = None,
) -> list[SearchResult]:
    """Nearest library images to an embedded query; a candidate's distance is its least to any
    orientation of the query point (`query_points`), in the metric's units. Example files are left out."""
    index, space = library.index_for(metric)
    return library.nearest(
        query_points(library, vectors, space), index, space, k, max_distance, vectors.exclude
    )


def search(
    library: Library,
    query: Query,
    k: int | None = DEFAULT_K,
    metric: str = "euclidean",
    max_distance: float | None = None,
) -> list[SearchResult]:
    """Embed `query` and return its nearest library images (see `search_vectors`)."""
    return search_vectors(library, embed_query(library, query), k, metric, max_distance)


def _stored_vector(library: Library, example: Example) -> tuple[np.ndarray | None, int | None]:
    """The catalogued vector of a whole indexed example file (None when it must be embedded), and
    the file's catalogue id (None for a decoded image or a file outside the library)."""
    if isinstance(example.source, Image.Image):
        return None, None
    row = library.catalogue.file_by_path(os.path.abspath(os.fspath(example.source)))
    if row is None:
        return None, None
    if row.status != cat.INDEXED or example.crop is not None or example.region is not None:
        return None, row.id
    _, vectors = library.catalogue.vectors([row.id])
    return (vectors[0] if len(vectors) else None), row.id


def _example_image(example: Example, min_side: int) -> Image.Image:
    """The example decoded (EXIF-oriented, RGB) and cut to its region, at the size the model needs."""
    from foundation.pixels import to_rgb

    if isinstance(example.source, Image.Image):
        image = to_rgb(example.source)
    else:
        path = os.path.abspath(os.fspath(example.source))
        try:
            # a region is in pixels of the full oriented image, so it is decoded at full size
            whole = example.crop is None and example.region is None
            image = load_image(path, min_side=min_side if whole else None)
        except ImageLoadError as exc:
            raise InputError(f"cannot use {path} as a query: {exc}") from None
    if example.region is not None:
        return crop_image(image, region_crop(example.region, image.size))
    return crop_image(image, example.crop) if example.crop else image


def region_crop(region: tuple[float, float, float, float], size: tuple[int, int]) -> Crop:
    """Fractions (left, top, right, bottom) of an image of `size` to a pixel crop inside it, at least
    MIN_CROP_SIDE pixels a side where the image allows."""
    width, height = size
    left, top, right, bottom = (min(max(v, 0.0), 1.0) for v in region)
    x0, x1 = sorted((round(left * width), round(right * width)))
    y0, y1 = sorted((round(top * height), round(bottom * height)))
    w = min(max(x1 - x0, MIN_CROP_SIDE), width)
    h = min(max(y1 - y0, MIN_CROP_SIDE), height)
    return min(x0, width - w), min(y0, height - h), w, h
