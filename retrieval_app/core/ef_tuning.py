"""Choosing an HNSW index's search breadth (ef): the smallest that reaches a target recall.

Recall at a fixed ef falls as a library grows and depends on how clustered its vectors are,
so one default is either slower than needed on an easy library or inaccurate on a large one.
Instead the library measures: a sample of its own vectors is searched exactly and through the
graph at growing ef, and the first ef whose recall@k reaches the target is kept. The query's
own entry is left out of both answers, as in the app's searches.

The library's own vectors are easier queries than new photos (the graph was built around them):
on 50k x 128 test sets, recall for fresh queries at the chosen ef was about 0.01 lower than the
tuner measured, so the target is 0.99 to keep new photos at 0.98 (PERFORMANCE.md, figure 5).
"""

from __future__ import annotations

import numpy as np

from .vector_index import EfTuning, HnswIndex

TARGET_RECALL = 0.99
TUNING_K = 10
SAMPLE_QUERIES = 200
EF_LADDER = (16, 32, 64, 128, 256, 512, 1024, 2048)
RETUNE_GROWTH = 1.5
EXACT_CHUNK = 16_384


def needs_tuning(index: HnswIndex) -> bool:
    """True when the index was never tuned or has grown or shrunk by RETUNE_GROWTH since."""
    tuning = index.tuning
    if tuning is None:
        return True
    return not tuning.size / RETUNE_GROWTH <= len(index) <= tuning.size * RETUNE_GROWTH


def tune_ef(
    index: HnswIndex,
    target: float = TARGET_RECALL,
    k: int = TUNING_K,
    sample: int = SAMPLE_QUERIES,
    seed: int = 0,
) -> EfTuning:
    """Set `index`'s ef to the smallest on EF_LADDER whose measured recall@k reaches `target`
    (the largest when none does) and return the measurement."""
    ids = index.ids()
    k = min(k, len(ids) - 1)
    chosen = sample_queries(ids, sample, seed)
    ef, recall = EF_LADDER[0], 1.0
    if k >= 1:
        queries = index.vectors(chosen)
        kth = kth_distances(index, ids, queries, chosen, k)
        for ef in [step for step in EF_LADDER if step > k]:
            found, distances = index.query(queries, k + 1, ef=ef)
            recall = recall_at_k(found, distances, chosen, kth, k)
            if recall >= target:
                break
    tuning = EfTuning(size=len(ids), k=k, target=target, recall=recall, queries=len(chosen))
    index.set_ef(ef, tuning)
    return tuning


def sample_queries(ids: np.ndarray, sample: int, seed: int) -> np.ndarray:
    """The ids whose vectors serve as tuning queries: `sample` of them, drawn without replacement."""
    return np.random.default_rng(seed).choice(ids, size=min(sample, len(ids)), replace=False)


def kth_distances(
    index: HnswIndex, ids: np.ndarray, queries: np.ndarray, own: np.ndarray, k: int
) -> np.ndarray:
    """Exact distance from each query to its k-th nearest other entry (inf when there are fewer),
    by brute force over the index's vectors in chunks (float64, so ties are not rounding noise)."""
    q = queries.astype(np.float64)
    q_norms = np.einsum("ij,ij->i", q, q)[:, None]
    best = np.full((len(q), k), np.inf)
    for start in range(0, len(ids), EXACT_CHUNK):
        chunk = ids[start : start + EXACT_CHUNK]
        v = index.vectors(chunk).astype(np.float64)
        sq = q_norms - 2.0 * (q @ v.T) + np.einsum("ij,ij->i", v, v)[None, :]
        sq[own[:, None] == chunk[None, :]] = np.inf
        best = np.partition(np.concatenate([best, sq], axis=1), k - 1, axis=1)[:, :k]
    return np.sqrt(np.maximum(best.max(axis=1), 0.0))


def recall_at_k(found: np.ndarray, distances: np.ndarray, own: np.ndarray, kth: np.ndarray, k: int) -> float:
    """Share of the first k answers (own entry left out) that are no farther than the true
    k-th neighbour: a tie with it counts as a hit, whichever of the tied entries was returned."""
    hits = 0
    for row_ids, row_distances, query_id, limit in zip(found, distances, own, kth, strict=True):
        others = row_distances[row_ids != query_id][:k]
        hits += int(np.count_nonzero(others <= limit * (1 + 1e-5) + 1e-6))
    return hits / (k * len(found))
