"""Choosing an HNSW index's search breadth (ef): the smallest that reaches a target recall.

Recall at a fixed ef falls as a library grows and depends on how clustered its vectors are,
so one default is either slower than needed on an easy library or inaccurate on a large one.
Instead the library measures: a sample of its own vectors is searched exactly and through the
graph at growing ef, and the first ef whose recall@k reaches the target is kept. The query's
own entry is left out of both answers, as in the app's searches. Searches for more results
than the tuning's k widen ef in proportion (`HnswIndex.query`).

The library's own vectors are easier queries than new photos (the graph was built around them):
on 50k x 128 test sets, recall for fresh queries at the chosen ef was about 0.01 lower than the
tuner measured, so the target is 0.99 to keep new photos at 0.98 (PERFORMANCE.md, figure 5).
"""

from __future__ import annotations

import numpy as np

from .progress import CancelToken, ProgressCallback, ProgressMeter
from .vector_index import EfTuning, HnswIndex

TARGET_RECALL = 0.99
SAMPLE_QUERIES = 200
EF_LADDER = (16, 32, 64, 128, 256, 512, 1024, 2048)
RETUNE_GROWTH = 1.5
SCAN_CHUNK = 16_384  # vectors compared with all queries at once by the brute-force scan


def needs_tuning(index: HnswIndex) -> bool:
    """True when the index was never tuned, has grown by RETUNE_GROWTH since, or has shrunk
    to below 1 / RETUNE_GROWTH of its size then."""
    tuning = index.tuning
    if tuning is None:
        return True
    return not tuning.size / RETUNE_GROWTH <= len(index) <= tuning.size * RETUNE_GROWTH


def tune_ef(
    index: HnswIndex,
    k: int,
    target: float = TARGET_RECALL,
    sample: int = SAMPLE_QUERIES,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EfTuning:
    """Set `index`'s ef to the smallest on EF_LADDER whose measured recall@k reaches `target`
    (the largest when none does) and return the measurement. Entries removed meanwhile by
    another thread are left out; a cancelled tuning raises Cancelled and changes nothing."""
    ids = index.ids()
    k = min(k, len(ids) - 1)
    chosen, queries = index.live_vectors(sample_queries(ids, sample, seed))
    if k < 1 or len(chosen) == 0:  # nothing to measure against
        tuning = EfTuning(size=len(ids), k=max(k, 0), target=target, recall=None, queries=0)
        index.set_ef(EF_LADDER[0], tuning)
        return tuning
    ladder = [step for step in EF_LADDER if step > k] or [2 * k]
    meter = ProgressMeter("tuning search", -(-len(ids) // SCAN_CHUNK) + len(ladder), progress, unit="step")
    kth = kth_distances(index, ids, queries, chosen, k, meter, cancel)
    for ef in ladder:
        if cancel is not None:
            cancel.raise_if_cancelled()
        found, distances = index.query(queries, k + 1, ef=ef)
        recall = recall_at_k(found, distances, chosen, kth, k)
        meter.advance()
        if recall >= target:
            break
    meter.done = meter.total  # the ladder may stop early
    meter.report()
    tuning = EfTuning(size=len(ids), k=k, target=target, recall=recall, queries=len(chosen))
    index.set_ef(ef, tuning)
    return tuning


def sample_queries(ids: np.ndarray, sample: int, seed: int) -> np.ndarray:
    """The ids whose vectors serve as tuning queries: `sample` of them, drawn without replacement."""
    return np.random.default_rng(seed).choice(ids, size=min(sample, len(ids)), replace=False)


def kth_distances(
    index: HnswIndex,
    ids: np.ndarray,
    queries: np.ndarray,
    own: np.ndarray,
    k: int,
    meter: ProgressMeter | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Exact distance from each query to its k-th nearest other entry among `ids` still live
    (inf when there are fewer), by brute force in chunks (float64, so ties are not rounding noise)."""
    q = queries.astype(np.float64)
    q_norms = np.einsum("ij,ij->i", q, q)[:, None]
    best = np.full((len(q), k), np.inf)
    for start in range(0, len(ids), SCAN_CHUNK):
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk, vectors = index.live_vectors(ids[start : start + SCAN_CHUNK])
        v = vectors.astype(np.float64)
        sq = q_norms - 2.0 * (q @ v.T) + np.einsum("ij,ij->i", v, v)[None, :]
        sq[own[:, None] == chunk[None, :]] = np.inf
        best = np.partition(np.concatenate([best, sq], axis=1), k - 1, axis=1)[:, :k]
        if meter is not None:
            meter.advance()
    return np.sqrt(np.maximum(best.max(axis=1), 0.0))


def recall_at_k(found: np.ndarray, distances: np.ndarray, own: np.ndarray, kth: np.ndarray, k: int) -> float:
    """Share of the first k answers (own entry left out) that are no farther than the true
    k-th neighbour: a tie with it counts as a hit, whichever of the tied entries was returned."""
    hits = 0
    for row_ids, row_distances, query_id, limit in zip(found, distances, own, kth, strict=True):
        others = row_distances[row_ids != query_id][:k]
        hits += int(np.count_nonzero(others <= limit * (1 + 1e-5) + 1e-6))
    return hits / (k * len(found))
