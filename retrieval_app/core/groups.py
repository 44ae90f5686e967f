"""Library-wide sets of mutually similar images ("similar sets", near-duplicate groups).

Linkage: complete linkage cut at the threshold, so every pair inside a group is at most
`max_distance` apart. Plain connected components (single linkage) would chain unrelated
images (A~B and B~C put A with C however far apart they are); leader clustering still lets
two members sit up to twice the threshold apart. Complete linkage has neither flaw, and its
clusters never span two components of the threshold graph, so the work splits cleanly:

1. query every vector's k nearest neighbours through the index (HNSW for large libraries) in
   batches, widening k for rows whose k-th neighbour is still within the threshold, and keep the
   pairs within it: the threshold graph;
2. its connected components are the candidates (scipy, vectorised); pairs are checked at once;
3. each larger component is cut by exact complete linkage (scipy) on exact pairwise distances;
   a component above COMPONENT_LIMIT (a threshold so loose that it chains half the library) is
   split greedily instead: seeds in order of degree, each taking the complete-linkage cluster
   of itself and its still-free neighbours.

Everything is ordered by file id, so a given index and threshold always give the same groups.
A group's representative is its medoid (least total distance to the others); members follow
by distance to it, and groups come largest first.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist, squareform

from foundation.errors import InputError

from .progress import CancelToken, ProgressCallback, ProgressMeter
from .turned_copies import aligned_vectors
from .vector_index import VectorIndex

if TYPE_CHECKING:
    from .library import Library

DEFAULT_MAX_DISTANCE = 0.35
DEFAULT_NEIGHBOURS = 16
MAX_NEIGHBOURS = 1024
COMPONENT_LIMIT = 2000
QUERY_BATCH = 4096

DistanceReport = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GroupMember:
    id: int
    distance: float
    """Distance to the group's representative (0 for the representative itself)."""
    path: str = ""


@dataclass(frozen=True)
class Group:
    id: int
    """1-based position in the result: group 1 is the largest."""
    members: tuple[GroupMember, ...]
    """The representative first, then the others by distance to it."""

    @property
    def representative(self) -> GroupMember:
        return self.members[0]

    def __len__(self) -> int:
        return len(self.members)


def find_groups(
    library: Library,
    metric: str = "euclidean",
    max_distance: float = DEFAULT_MAX_DISTANCE,
    min_size: int = 2,
    k: int = DEFAULT_NEIGHBOURS,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    apart: Collection[tuple[int, int]] = (),
    flips: bool = True,
) -> list[Group]:
    """Groups of at least `min_size` library images, all pairs within `max_distance` under `metric`.
    With `flips`, rotated and mirrored copies join their originals' groups (see `turned_copies`).

    Distances are in the units `Library.search` reports for the same metric; no two ids of a
    pair in `apart` (a person's "not similar" decisions) share a group. Raises `Cancelled`
    when `cancel` is set.
    """
    index, space = library.index_for(metric)
    ids, vectors = index.live_vectors(index.ids())  # already in the metric's space
    if len(ids) == 0:
        return []
    if flips:
        vectors = aligned_vectors(library, ids, vectors, space, progress, cancel)
    groups = group_vectors(
        ids,
        vectors,
        index,
        max_distance,
        min_size=min_size,
        k=k,
        report=space.report,
        progress=progress,
        cancel=cancel,
    )
    if apart:
        groups = split_apart(groups, apart, ids, vectors, space.report, min_size)
    paths = library.catalogue.paths_for(m.id for g in groups for m in g.members)
    return _attach_paths(groups, paths, min_size)


def group_vectors(
    ids: np.ndarray,
    vectors: np.ndarray,
    index: VectorIndex,
    max_distance: float,
    *,
    min_size: int = 2,
    k: int = DEFAULT_NEIGHBOURS,
    report: DistanceReport | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Group]:
    """Complete-linkage groups of `vectors` (rows labelled `ids`) found through `index`.

    `vectors` live in the index's space (after `MetricSpace.apply`) and `index` holds them under
    `ids`; `report` maps the index's L2 distances to the distances `max_distance` is given in
    (`MetricSpace.report`; Euclidean when omitted). The input order does not matter.
    """
    ids = np.asarray(ids, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32)
    _check_arguments(ids, vectors, max_distance, min_size, k)
    report = report or _euclidean
    if len(ids) < min_size:
        return []
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    graph = _threshold_graph(ids, vectors, index, max_distance, k, report, progress, cancel)
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    clusters = _pairs_within(component, sizes, vectors, max_distance, report) if min_size == 2 else []
    large = np.flatnonzero(sizes >= max(3, min_size))
    members_of = np.argsort(component, kind="stable")
    starts = np.concatenate(([0], np.cumsum(sizes)))
    meter = ProgressMeter("grouping", len(large), progress)
    meter.report()
    for done, label in enumerate(large, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        members = members_of[starts[label] : starts[label + 1]]
        if len(members) > COMPONENT_LIMIT:
            clusters += _carve(members, graph, vectors, max_distance, report)
        else:
            clusters += _complete_linkage(members, vectors, max_distance, report)
        if done % 256 == 0 or done == len(large):
            meter.done = done
            meter.report()
    kept = [c for c in clusters if len(c) >= min_size]
    return _numbered([_make_group(c, ids, vectors, report) for c in kept])


def _check_arguments(
    ids: np.ndarray, vectors: np.ndarray, max_distance: float, min_size: int, k: int
) -> None:
    if not np.isfinite(max_distance) or max_distance < 0:
        raise InputError(f"the maximum distance must be a number >= 0, not {max_distance}")
    if min_size < 2:
        raise InputError(f"a group needs at least 2 images (min size {min_size})")
    if k < 1:
        raise InputError("k (neighbours per image) must be at least 1")
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"expected one vector per id, got {len(ids)} ids and shape {vectors.shape}")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("ids must be unique")


def _euclidean(l2: np.ndarray) -> np.ndarray:
    return l2


def _reported(report: DistanceReport, l2: np.ndarray) -> np.ndarray:
    return np.asarray(report(l2), dtype=np.float64)


def _threshold_graph(
    ids: np.ndarray,
    vectors: np.ndarray,
    index: VectorIndex,
    max_distance: float,
    k: int,
    report: DistanceReport,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> csr_array:
    """Symmetric adjacency (row positions) of the pairs the index finds within `max_distance`."""
    n = len(ids)
    meter = ProgressMeter("finding neighbours", n, progress)
    meter.report()
    sources, targets = [], []
    for start in range(0, n, QUERY_BATCH):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows, labels = _neighbours_within(
            index, vectors[start : start + QUERY_BATCH], k + 1, max_distance, report
        )
        positions = np.minimum(np.searchsorted(ids, labels), n - 1)
        keep = (ids[positions] == labels) & (positions != rows + start)
        sources.append(rows[keep] + start)
        targets.append(positions[keep])
        meter.advance(min(QUERY_BATCH, n - start))
    rows, cols = np.concatenate(sources), np.concatenate(targets)
    ones = np.ones(len(rows), dtype=np.int8)
    graph = coo_array((ones, (rows, cols)), shape=(n, n)).tocsr()
    graph = (graph + graph.T).tocsr()
    graph.sort_indices()
    return graph


def _neighbours_within(
    index: VectorIndex, queries: np.ndarray, k: int, max_distance: float, report: DistanceReport
) -> tuple[np.ndarray, np.ndarray]:
    """(query row, neighbour id) for every neighbour within the threshold.

    Rows whose k-th neighbour is still within it are asked again with twice the k (up to
    MAX_NEIGHBOURS), so a set larger than k is not cut short.
    """
    found_rows, found_labels = [], []
    pending = np.arange(len(queries))
    while len(pending):
        labels, l2 = index.query(queries[pending], k)
        near = _reported(report, l2) <= max_distance
        can_widen = 0 < k < min(len(index), MAX_NEIGHBOURS)
        saturated = near[:, -1] if can_widen else np.zeros(len(pending), dtype=bool)
        r, c = np.nonzero(near[~saturated])
        found_rows.append(pending[~saturated][r])
        found_labels.append(labels[~saturated][r, c])
        pending, k = pending[saturated], min(2 * k, MAX_NEIGHBOURS)
    return np.concatenate(found_rows), np.concatenate(found_labels).astype(np.int64)


def _pairs_within(
    component: np.ndarray, sizes: np.ndarray, vectors: np.ndarray, max_distance: float, report: DistanceReport
) -> list[np.ndarray]:
    """Components of exactly two rows, confirmed with exact distances (vectorised)."""
    rows = np.flatnonzero(sizes[component] == 2)
    pairs = rows[np.argsort(component[rows], kind="stable")].reshape(-1, 2)
    if len(pairs) == 0:
        return []
    gaps = vectors[pairs[:, 0]].astype(np.float64) - vectors[pairs[:, 1]]
    within = _reported(report, np.sqrt(np.einsum("ij,ij->i", gaps, gaps))) <= max_distance
    return list(pairs[within])


def _complete_linkage(
    members: np.ndarray, vectors: np.ndarray, max_distance: float, report: DistanceReport
) -> list[np.ndarray]:
    """Cut the complete-linkage tree of `members` (sorted row positions) at `max_distance`."""
    condensed = _reported(report, pdist(vectors[members].astype(np.float64)))
    labels = fcluster(linkage(condensed, method="complete"), t=max_distance, criterion="distance")
    order = np.argsort(labels, kind="stable")
    return np.split(members[order], np.flatnonzero(np.diff(labels[order])) + 1)


def _carve(
    members: np.ndarray, graph: csr_array, vectors: np.ndarray, max_distance: float, report: DistanceReport
) -> list[np.ndarray]:
    """Greedy split of an oversized component: best-connected free seed first, lowest row on ties."""
    degree = np.diff(graph.indptr)[members]
    free = np.zeros(graph.shape[0], dtype=bool)
    free[members] = True
    clusters = []
    for seed in members[np.lexsort((members, -degree))]:
        if not free[seed]:
            continue
        neighbours = graph.indices[graph.indptr[seed] : graph.indptr[seed + 1]]
        neighbours = neighbours[free[neighbours]]
        if len(neighbours) >= COMPONENT_LIMIT:
            gaps = vectors[neighbours].astype(np.float64) - vectors[seed]
            nearest = np.argsort(np.einsum("ij,ij->i", gaps, gaps), kind="stable")[: COMPONENT_LIMIT - 1]
            neighbours = np.sort(neighbours[nearest])
        if len(neighbours) == 0:
            cluster = np.array([seed])
        else:
            local = np.sort(np.concatenate(([seed], neighbours)))
            cluster = next(c for c in _complete_linkage(local, vectors, max_distance, report) if seed in c)
        free[cluster] = False
        clusters.append(cluster)
    return clusters


def split_apart(
    groups: Sequence[Group],
    apart: Collection[tuple[int, int]],
    ids: np.ndarray,
    vectors: np.ndarray,
    report: DistanceReport | None = None,
    min_size: int = 2,
) -> list[Group]:
    """Split groups so that no pair of ids in `apart` shares one (members in order, each joining
    the first part it may); parts keep complete linkage, being subsets, and are re-centred.
    `ids` and `vectors` are those the groups were found in."""
    report = report or _euclidean
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    banned = {(min(a, b), max(a, b)) for a, b in apart}
    split: list[Group] = []
    for group in groups:
        parts: list[list[int]] = []
        for member in group.members:
            home = next(
                (p for p in parts if all((min(member.id, o), max(member.id, o)) not in banned for o in p)),
                None,
            )
            if home is None:
                parts.append([member.id])
            else:
                home.append(member.id)
        for part in parts:
            if len(part) >= min_size:
                split.append(_make_group(np.searchsorted(ids, part), ids, vectors, report))
    return _numbered(split)


def _make_group(rows: np.ndarray, ids: np.ndarray, vectors: np.ndarray, report: DistanceReport) -> Group:
    """The medoid (lowest id on ties) first, the rest by distance to it, then by id."""
    rows = np.sort(rows)
    distances = squareform(_reported(report, pdist(vectors[rows].astype(np.float64))))
    medoid = int(np.argmin(distances.sum(axis=1)))
    to_medoid = distances[medoid]
    order = np.lexsort((ids[rows], to_medoid, np.arange(len(rows)) != medoid))
    members = tuple(GroupMember(int(ids[rows[i]]), float(to_medoid[i])) for i in order)
    return Group(0, members)


def _numbered(groups: Sequence[Group]) -> list[Group]:
    """Largest first; equal sizes by the representative's id."""
    ranked = sorted(groups, key=lambda g: (-len(g), g.representative.id))
    return [Group(number, g.members) for number, g in enumerate(ranked, 1)]


def _attach_paths(groups: list[Group], paths: dict[int, str], min_size: int) -> list[Group]:
    """Fill in paths; members whose file left the catalogue meanwhile are dropped."""
    named = []
    for group in groups:
        members = tuple(GroupMember(m.id, m.distance, paths[m.id]) for m in group.members if m.id in paths)
        if len(members) >= min_size:
            named.append(Group(group.id, members))
    return _numbered(named)
