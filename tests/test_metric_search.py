"""Every metric's search results against a brute-force computation of that metric's distance, and
the Mahalanobis fit's life: refitted as the library grows, saved only by the library's writer."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval_app.core.library import Library
from retrieval_app.core.lock import LibraryLock
from retrieval_app.core.metric_spaces import MAHALANOBIS_FILE
from retrieval_app.core.metrics import SAMPLES_PER_COMPONENT, SHRINKAGE
from tests.imagegen import write_collection
from trainer.linear_metric import save_metric


@pytest.fixture
def library(tmp_path, tiny_checkpoint):
    write_collection(tmp_path / "photos", originals=12, variants=("resized",))
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint), image_size=64) as opened:
        opened.index([tmp_path / "photos"])
        yield opened


def _unit(Z: np.ndarray) -> np.ndarray:
    return Z / np.linalg.norm(Z, axis=-1, keepdims=True)


def _whitened(vectors: np.ndarray) -> np.ndarray:
    """Shrunk PCA whitening then unit length, written out with numpy's eigh."""
    mean = vectors.mean(axis=0)
    values, directions = np.linalg.eigh(np.cov(vectors, rowvar=False, bias=True))
    keep = np.argsort(values)[::-1][: len(vectors) // SAMPLES_PER_COMPONENT]
    shrunk = (1 - SHRINKAGE) * values[keep] + SHRINKAGE * values[keep].mean()
    return lambda x: _unit((x - mean) @ directions[:, keep] / np.sqrt(shrunk))


def _brute_force(metric: str, vectors: np.ndarray, query: np.ndarray, learned: tuple) -> np.ndarray:
    """Distances from `query` to every vector under `metric`, from the metric's definition."""
    if metric == "euclidean":
        return np.linalg.norm(vectors - query, axis=1)
    if metric == "cosine":
        return 1.0 - (vectors @ query) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    if metric == "mahalanobis":
        mapping = _whitened(vectors)
        return np.linalg.norm(mapping(vectors) - mapping(query), axis=1)
    matrix, mean = learned
    factor = np.linalg.cholesky(matrix).T  # LᵀL = M, another factor than the library's
    return np.linalg.norm(_unit((vectors - mean) @ factor.T) - _unit((query - mean) @ factor.T), axis=1)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "mahalanobis", "learned"])
def test_search_results_equal_brute_force_distances(library, tmp_path, metric):
    ids, vectors = library.catalogue.vectors()
    vectors = vectors.astype(np.float64)
    dim = vectors.shape[1]
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    learned = (factor.T @ factor + 0.1 * np.eye(dim), 0.1 * rng.normal(size=dim))
    save_metric(tmp_path / "m.npz", learned[0], {"method": "test", "normalize": True}, mean=learned[1])
    library.use_learned_metric(tmp_path / "m.npz")
    paths = library.catalogue.paths_for(ids)
    for position in (0, 5, 17):
        query = vectors[position]
        results = library.search_vector(query.astype(np.float32), 8, metric, exclude_id=int(ids[position]))
        distances = _brute_force(metric, vectors, query, learned)
        distances[position] = np.inf
        order = np.argsort(distances, kind="stable")[:8]
        assert [r.path for r in results] == [paths[int(ids[i])] for i in order]
        np.testing.assert_allclose([r.distance for r in results], distances[order], rtol=2e-3, atol=2e-5)


def test_mahalanobis_is_refitted_when_the_library_grows_by_half(library, tmp_path):
    library.search_vector(library.catalogue.vectors()[1][0], 3, "mahalanobis")
    stored = library.root / "indexes" / MAHALANOBIS_FILE
    assert library.metric_space("mahalanobis").fitted_on == 24 and stored.exists()
    first = stored.read_bytes()
    write_collection(tmp_path / "more", originals=10, variants=("resized",), seed=5)
    library.index([tmp_path / "more"])  # 24 -> 44 photos: grown by more than half
    space = library.metric_space("mahalanobis")
    assert space.fitted_on == 44 and stored.read_bytes() != first
    results = library.search_vector(library.catalogue.vectors()[1][0], 44, "mahalanobis")
    assert len(results) == 44  # the index follows the refitted space


def test_only_the_writer_saves_the_mahalanobis_fit(library):
    root = library.root
    library.close()
    stored = root / "indexes" / MAHALANOBIS_FILE
    with LibraryLock(root):  # another process is indexing this library
        with Library.open(root) as reader:
            assert len(reader.search_vector(reader.catalogue.vectors()[1][0], 3, "mahalanobis")) == 3
        assert not stored.exists()
    with Library.open(root) as writer:
        writer.search_vector(writer.catalogue.vectors()[1][0], 3, "mahalanobis")
    assert stored.exists()


def test_a_space_made_while_the_model_changes_is_not_kept(tmp_path):
    """The Mahalanobis fit runs outside the library lock; a switch of model meanwhile (which
    forgets every space) must win, or the old model's whitening would serve the new vectors."""
    import threading

    from retrieval_app.core import metric_spaces
    from retrieval_app.core.metrics import euclidean_space

    made = []
    spaces = metric_spaces.MetricSpaces(tmp_path, None, threading.RLock(), LibraryLock(tmp_path), None, len)

    def make_while_switching(metric):
        made.append(metric)
        if len(made) == 1:
            spaces.forget()  # what `Library.set_model` does, at the worst moment
        return euclidean_space(metric)

    spaces._make = make_while_switching
    first = spaces.get("cosine")
    assert first.name == "cosine"
    spaces.get("cosine")
    spaces.get("cosine")
    assert made == ["cosine", "cosine"]  # made again once after the switch, then kept
