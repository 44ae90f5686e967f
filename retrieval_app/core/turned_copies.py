"""Rotated and mirrored copies for similar sets: found once per image, remembered, aligned before sets are cut.

A copy turned by 90 degrees lies far from its original in feature space (about 0.8 on the unit
sphere, where sets are cut near 0.35), so it would never join its set. Each image is therefore
embedded once in its seven other orientations (quarter turns x mirror); when one of them lies
clearly nearer to another image than the image itself does, the pair is remembered, with the
image's eight orientation vectors. Before sets are cut, the remembered pairs are joined into
groups of copies; in each, the image with the nearest upright neighbour is taken as upright
(it sits among its near-duplicates) and every other member takes its orientation nearest to it,
so a turned copy sits beside its original under any metric.

Only matched images keep their vectors: a pair needs the turned views of one side only (if B
is A turned by g, A is B turned back), so an image added later is checked against everything
already there, and the earlier images need no new work. The cost is a second
decode and seven forward passes per image, once (PERFORMANCE.md); the cache lives beside the
indexes and goes with them when the model changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from foundation.atomicio import atomic_target
from foundation.images import ImageLoadError

from .progress import CancelToken, ProgressCallback, ProgressMeter
from .query import ALL_ORIENTATIONS, oriented

if TYPE_CHECKING:
    from .library import Library
    from .metrics import MetricSpace

CACHE_NAME = "turned-copies.npz"
MATCH_LIMIT = 0.8  # Euclidean on the unit sphere: a match farther than this is no copy at any threshold
TURN_MARGIN = 0.75  # a turned view must lie clearly nearer than the image itself (copies: 0.2 to 0.6)
BATCH = 16


@dataclass
class TurnedCopies:
    """Images checked so far, the pairs (checked image, other image) matched turned, and the eight
    raw orientation vectors (ALL_ORIENTATIONS order) of each checked image that matched."""

    checked: np.ndarray
    pairs: np.ndarray  # (matches, 2) ids
    view_ids: np.ndarray
    views: np.ndarray  # (len(view_ids), 8, dim)


def aligned_vectors(
    library: Library,
    ids: np.ndarray,
    vectors: np.ndarray,
    space: MetricSpace,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """`vectors` (rows of `ids`, in `space`) with each turned copy in the orientation of the upright
    image of its group of copies (see the module docstring)."""
    found = find_turned_copies(library, progress, cancel)
    position = {int(i): row for row, i in enumerate(ids)}
    views = {int(i): v for i, v in zip(found.view_ids, found.views, strict=True)}
    out = np.array(vectors, dtype=np.float32, copy=True)
    for members in _components(found.pairs):
        members = [m for m in members if m in position]
        if len(members) < 2:
            continue
        lonely = _loneliness(library, np.asarray(members, dtype=np.int64))
        upright = min(members, key=lambda m: lonely.get(m, (np.inf, m)))
        target = vectors[position[upright]].astype(np.float64)
        for member in members:
            if member == upright or member not in views:
                continue
            turned = space.apply(views[member])
            out[position[member]] = turned[int(np.argmin(np.linalg.norm(turned - target, axis=1)))]
    return out


def _components(pairs: np.ndarray) -> list[list[int]]:
    """Connected groups of ids (each sorted) of the matched pairs."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs.tolist():
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in sorted(parent):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _loneliness(library: Library, ids: np.ndarray) -> dict[int, tuple[float, int]]:
    """How far each of `ids` lies from its nearest other image as it stands (ties by id)."""
    index, _ = library.index_for("euclidean")
    held, vectors = index.live_vectors(ids)
    if len(held) == 0 or len(index) < 2:
        return {}
    labels, l2 = index.query(vectors, 2)
    nearest = np.where(labels[:, 0] == held, l2[:, 1], l2[:, 0])
    return {int(i): (float(d), int(i)) for i, d in zip(held, nearest, strict=True)}


def find_turned_copies(
    library: Library, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> TurnedCopies:
    """The remembered pairs, after checking every indexed image not checked before (saved as it goes)."""
    index, _ = library.index_for("euclidean")
    path = library.root / "indexes" / CACHE_NAME
    model = library.catalogue.get_meta("model_fingerprint") or ""
    found = _load(path, model, library.embedder.dim)
    todo = np.setdiff1d(index.ids(), found.checked)
    meter = ProgressMeter("finding turned copies", len(todo), progress)
    meter.report()
    for start in range(0, len(todo), BATCH * 16):
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = todo[start : start + BATCH * 16]
        found = _merge(found, _check(library, index, chunk, cancel))
        _save(path, model, found)
        meter.advance(len(chunk))
    return found


def _check(library: Library, index, ids: np.ndarray, cancel: CancelToken | None) -> TurnedCopies:
    """Embed `ids` in their seven other orientations and keep the pairs they match turned."""
    import torch

    embedder = library.embedder
    paths = library.catalogue.paths_for(ids)
    held, own = index.live_vectors(ids)
    plain = {int(i): v for i, v in zip(held, own, strict=True)}
    pairs, view_ids, views = [], [], []
    for start in range(0, len(ids), BATCH):
        if cancel is not None:
            cancel.raise_if_cancelled()
        batch_ids, tensors = [], []
        for file_id in ids[start : start + BATCH].tolist():
            if file_id not in paths or file_id not in plain:
                continue
            try:
                tensors.append(embedder.load_tensor(paths[file_id]))
            except (ImageLoadError, RuntimeError, ValueError, OSError):
                continue  # gone or broken since it was indexed: not checked, not a copy
            batch_ids.append(file_id)
        if not tensors:
            continue
        turned = embedder.embed_tensors(oriented(torch.stack(tensors), ALL_ORIENTATIONS[1:]))
        turned = turned.reshape(len(batch_ids), len(ALL_ORIENTATIONS) - 1, -1)
        for file_id, others in zip(batch_ids, turned, strict=True):
            all_views = np.vstack([plain[file_id][None], others])
            partners = _matches(index, file_id, all_views)
            if partners:
                pairs += [(file_id, partner) for partner in partners]
                view_ids.append(file_id)
                views.append(all_views)
    return TurnedCopies(
        np.asarray(ids, dtype=np.int64),
        np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        np.asarray(view_ids, dtype=np.int64),
        np.asarray(views, dtype=np.float32).reshape(-1, len(ALL_ORIENTATIONS), embedder.dim),
    )


def _matches(index, file_id: int, views: np.ndarray) -> list[int]:
    """Other images that a turned view of this one lies near: within MATCH_LIMIT and at most
    TURN_MARGIN times as far as the image itself (views[0]) lies from any other image."""
    labels, l2 = index.query(views, 2)
    nearest = np.where(labels[:, 0] == file_id, l2[:, -1], l2[:, 0])
    partner = np.where(labels[:, 0] == file_id, labels[:, -1], labels[:, 0])
    near = (nearest[1:] <= MATCH_LIMIT) & (nearest[1:] < TURN_MARGIN * nearest[0]) & (partner[1:] != file_id)
    return sorted({int(p) for p in partner[1:][near]})


def _merge(found: TurnedCopies, new: TurnedCopies) -> TurnedCopies:
    """Add the matches of newly checked images."""
    return TurnedCopies(
        np.union1d(found.checked, new.checked),
        np.concatenate([found.pairs, new.pairs]),
        np.concatenate([found.view_ids, new.view_ids]),
        np.concatenate([found.views, new.views]),
    )


def _load(path, model: str, dim: int) -> TurnedCopies:
    empty = np.zeros(0, dtype=np.int64)
    nothing = TurnedCopies(
        empty, np.zeros((0, 2), dtype=np.int64), empty, np.zeros((0, len(ALL_ORIENTATIONS), dim), np.float32)
    )
    if not path.exists():
        return nothing
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["model"]) != model or data["views"].shape[1:] != nothing.views.shape[1:]:
                return nothing
            return TurnedCopies(data["checked"], data["pairs"], data["view_ids"], data["views"])
    except (OSError, ValueError, KeyError):
        return nothing


def _save(path, model: str, found: TurnedCopies) -> None:
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            model=model,
            checked=found.checked,
            pairs=found.pairs,
            view_ids=found.view_ids,
            views=found.views,
        )
