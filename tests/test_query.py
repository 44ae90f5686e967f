"""Queries of several examples, counter-examples, flips and rotations, and regions (core.query)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from foundation.errors import InputError
from retrieval_app.core import metrics
from retrieval_app.core import query as q
from retrieval_app.core.library import Library, LibraryError
from retrieval_app.core.vector_index import ExactIndex
from tests.imagegen import TURNS, original, write_collection
from tests.vectors import unit_vectors


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Eight generated scenes with a resized copy each, indexed with ImageNet Lite0 at 96 px."""
    root = tmp_path_factory.mktemp("query")
    sets = write_collection(root / "photos", originals=8, variants=("resized",))
    with Library.open(root / "lib", model="efficientnet-lite0", image_size=96) as lib:
        lib.index([root / "photos"])
        yield lib, sets, root


def slow_whitening(x: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, A) with A = Σ_shrunk^(-1/2) over every direction, from the vectors themselves: the top
    `components` eigenvalues and the mean of the rest each shrunk SHRINKAGE of the way toward the
    top ones' mean (what the Mahalanobis metric keeps, and what it drops at the variance left)."""
    mean = x.astype(np.float64).mean(axis=0)
    centred = x - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / len(x))
    values, vectors = values[::-1], vectors[:, ::-1]
    kept = values[:components]
    s = metrics.SHRINKAGE
    scales = np.full(len(values), (1 - s) * values[components:].mean() + s * kept.mean())
    scales[:components] = (1 - s) * kept + s * kept.mean()
    return mean, vectors @ np.diag(scales**-0.5) @ vectors.T


def moved_mean(positives: list[np.ndarray], negatives: list[np.ndarray]) -> np.ndarray:
    """Mean positive minus NEGATIVE_WEIGHT x mean negative, on the unit sphere (slow, obvious)."""
    mean = sum(v.astype(np.float64) for v in positives) / len(positives)
    if negatives:
        mean = mean - q.NEGATIVE_WEIGHT * sum(v.astype(np.float64) for v in negatives) / len(negatives)
    return mean / np.linalg.norm(mean)


def brute_force(lib: Library, vectors: q.QueryVectors, metric: str) -> list[tuple[str, float]]:
    """Every indexed image by its least distance to any orientation of the query point (slow, obvious):
    one example as it is; several averaged in the Mahalanobis metric's own space, or for Euclidean
    and cosine in the full-rank whitening of the library's vectors (`slow_whitening`), mapped back
    by the same matrix."""
    space = lib.metric_space(metric)
    ids, stored = lib.catalogue.vectors()
    paths = lib.catalogue.paths_for(ids)
    mean, whiten = slow_whitening(stored, lib.metric_space("mahalanobis").transform.shape[0])

    def whitened(v: np.ndarray) -> np.ndarray:
        w = whiten @ (v.astype(np.float64) - mean)
        return w / np.linalg.norm(w)

    several = len(vectors.positives) > 1 or len(vectors.negatives) > 0
    points = []
    for o in range(vectors.positives.shape[1]):
        positives = [v[o] for v in vectors.positives]
        negatives = [v[o] for v in vectors.negatives]
        if not several:
            points.append(space.apply(positives[0][None])[0])
        elif metric == "mahalanobis":
            points.append(
                moved_mean(
                    [space.apply(v[None])[0] for v in positives], [space.apply(v[None])[0] for v in negatives]
                )
            )
        else:
            raw = whiten @ moved_mean([whitened(v) for v in positives], [whitened(v) for v in negatives])
            points.append(raw / np.linalg.norm(raw))
    mapped = space.apply(stored)
    found = []
    for file_id, vector in zip(ids.tolist(), mapped, strict=True):
        if file_id in vectors.exclude:
            continue
        l2 = min(float(np.linalg.norm(vector.astype(np.float64) - point)) for point in points)
        found.append((float(space.report(np.array([l2]))[0]), paths[file_id]))
    return [(path, distance) for distance, path in sorted(found)]


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "mahalanobis"])
def test_one_positive_searches_exactly_like_a_single_image(library, metric):
    lib, sets, _ = library
    example = sets["scene03"][1]
    expected = lib.search(example, k=6, metric=metric)
    got = q.search(lib, q.Query((q.Example(example),)), k=6, metric=metric)
    assert [r.path for r in got] == [r.path for r in expected]
    assert np.allclose([r.distance for r in got], [r.distance for r in expected], atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "mahalanobis"])
@pytest.mark.parametrize("flips", [False, True])
def test_several_examples_and_negatives_match_brute_force(library, metric, flips):
    lib, sets, _ = library
    query = q.Query(
        (q.Example(sets["scene00"][0]), q.Example(sets["scene01"][1]), q.Example(original(77))),
        (q.Example(sets["scene02"][0]),),
        flips=flips,
    )
    vectors = q.embed_query(lib, query)
    assert vectors.positives.shape[:2] == (3, len(q.FLIP_ORIENTATIONS) if flips else 1)
    assert len(vectors.exclude) == 3  # the three example files of the library; the pasted image has no id
    expected = brute_force(lib, vectors, metric)
    got = q.search_vectors(lib, vectors, k=None, metric=metric)
    assert [r.path for r in got] == [path for path, _ in expected]
    assert np.allclose([r.distance for r in got], [d for _, d in expected], atol=1e-4)
    assert [r.rank for r in got] == list(range(1, len(got) + 1))


def test_moved_vector_is_the_normalised_weighted_mean(library):
    rng = np.random.default_rng(0)
    positives = unit_vectors(rng, 12, 16).reshape(3, 4, 16)
    negatives = unit_vectors(rng, 8, 16).reshape(2, 4, 16)
    moved = q.moved_vectors(positives, negatives, weight=0.5)
    for view in range(4):
        slow = (
            sum(positives[i, view] for i in range(3)) / 3
            - 0.5 * sum(negatives[i, view] for i in range(2)) / 2
        )
        assert np.allclose(moved[view], slow / np.linalg.norm(slow), atol=1e-6)
    alone = q.moved_vectors(positives[:1], negatives[:0])
    assert np.allclose(alone, positives[0], atol=1e-6)


def test_whitened_query_ranks_every_vector_like_the_whitened_discriminant():
    rng = np.random.default_rng(3)
    dim = 64
    stretch = np.diag(np.linspace(3.0, 0.2, dim))  # unequal variances, so whitening matters
    x = unit_vectors(rng, 400, dim) @ stretch
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    space = metrics.mahalanobis_space(x)
    components = space.transform.shape[0]
    assert components < dim  # 400 // 8 directions at most: some are dropped
    mean, whiten = slow_whitening(x, components)
    positives, negatives = x[:5, None], x[5:7, None]
    got = q.whitened_query(positives, negatives, space)[0]

    def z(v):
        w = whiten @ (v - mean)
        return w / np.linalg.norm(w)

    moved = moved_mean([z(v) for v in x[:5]], [z(v) for v in x[5:7]])
    expected = whiten @ moved
    assert np.allclose(got, expected / np.linalg.norm(expected), atol=1e-5)
    discriminant = np.array([float((whiten @ (v - mean)) @ moved) for v in x])
    by_distance = np.argsort(np.linalg.norm(x - got, axis=1), kind="stable")
    assert np.array_equal(by_distance, np.argsort(-discriminant, kind="stable"))


class VectorLibrary:
    """Just what `search_vectors` asks of a library, over given vectors (ids 0..n-1, exact search);
    without `whitening` it is one too small to fit the Mahalanobis metric."""

    def __init__(self, x: np.ndarray, whitening: bool = True) -> None:
        self.index = ExactIndex(x.shape[1])
        self.index.add(np.arange(len(x)), x)
        self.whitening = metrics.mahalanobis_space(x) if whitening else None
        self.catalogue = self

    def index_for(self, metric: str):
        return self.index, metrics.euclidean_space(metric)

    def metric_space(self, metric: str):
        if self.whitening is None:
            raise metrics.MetricError("too few images")
        return self.whitening

    def paths_for(self, ids):
        return {int(i): f"{int(i)}.jpg" for i in ids}

    nearest = Library.nearest  # the library's own ranking, over this catalogue


def map_at_r(results, relevant: set[int]) -> float:
    hits = np.array([r.id in relevant for r in results[: len(relevant)]], dtype=float)
    return float((np.cumsum(hits) / np.arange(1, len(hits) + 1) * hits).sum() / len(relevant))


def test_several_examples_rank_their_cluster_above_the_best_single_example():
    """12 generated clusters of 30 that all vary along the same 4 directions (as photos vary in
    light and background), 5 examples of each: MAP@R of the rest of the cluster."""
    rng = np.random.default_rng(0)
    classes, per, dim = 12, 30, 48
    centres = unit_vectors(rng, classes, dim)
    shared = np.linalg.qr(rng.normal(size=(dim, 4)))[0].T
    labels = np.repeat(np.arange(classes), per)
    x = 0.6 * centres[labels] + 0.5 * rng.normal(size=(len(labels), 4)) @ shared
    x = x + 0.15 * rng.normal(size=x.shape)
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    whitened, unwhitened = VectorLibrary(x), VectorLibrary(x, whitening=False)
    best_single, several, plain = [], [], []
    for label in range(classes):
        examples = rng.choice(np.flatnonzero(labels == label), 5, replace=False)
        relevant = set(np.flatnonzero(labels == label).tolist()) - set(examples.tolist())
        left_out = frozenset(examples.tolist())

        def ranked(lib, positives, left_out=left_out):
            return q.search_vectors(
                lib, q.QueryVectors(x[positives][:, None], x[:0][:, None], left_out), k=None
            )

        best_single.append(max(map_at_r(ranked(whitened, [e]), relevant) for e in examples))
        several.append(map_at_r(ranked(whitened, examples), relevant))
        plain.append(map_at_r(ranked(unwhitened, examples), relevant))
    assert np.mean(several) > np.mean(best_single) + 0.15  # measured 0.51 against 0.22
    assert np.mean(several) > np.mean(plain) + 0.1  # plain Rocchio on the raw vectors: 0.32


def test_max_distance_and_k_apply_to_the_combined_query(library):
    lib, sets, _ = library
    query = q.Query((q.Example(sets["scene00"][0]), q.Example(sets["scene05"][0])))
    everything = q.search(lib, query, k=None)
    assert len(everything) == 14  # 16 images, the two examples left out
    cutoff = everything[4].distance
    assert [r.path for r in q.search(lib, query, k=None, max_distance=cutoff)] == [
        r.path for r in everything if r.distance <= cutoff
    ]
    assert len(q.search(lib, query, k=3)) == 3
    with pytest.raises(LibraryError, match="at least 1"):
        q.search(lib, query, k=0)
    with pytest.raises(LibraryError, match="at least 1"):
        lib.search(sets["scene00"][0], k=-1)


def test_a_file_gone_from_the_catalogue_does_not_shorten_the_results(library, monkeypatch):
    lib, sets, _ = library
    vector = lib.embedder.embed_file(sets["scene00"][0])
    first = lib.search_vector(vector, k=3)
    real = lib.catalogue.paths_for
    monkeypatch.setattr(
        lib.catalogue, "paths_for", lambda ids: {i: p for i, p in real(ids).items() if i != first[0].id}
    )
    assert [r.path for r in lib.search_vector(vector, k=3)] == [
        r.path for r in lib.search_vector(vector, k=4)
    ][:3]
    assert len(lib.search_vector(vector, k=3)) == 3 and first[0].path not in {
        r.path for r in lib.search_vector(vector, k=3)
    }


def test_a_negative_pushes_its_images_down(library):
    lib, sets, _ = library
    positives = (q.Example(sets["scene00"][1]),)
    unwanted = set(map(str, sets["scene04"]))
    before = q.search(lib, q.Query(positives), k=None)
    after = q.search(lib, q.Query(positives, (q.Example(original(4)),)), k=None)

    def ranks(results):
        return [r.rank for r in results if r.path in unwanted]

    assert sum(ranks(after)) > sum(ranks(before))
    assert after[0].path == str(sets["scene00"][0])  # the positive's original stays first


@pytest.mark.parametrize("kind", list(TURNS))
def test_flipped_and_rotated_copies_find_their_original_with_flips(library, kind, tmp_path):
    lib, sets, _ = library
    found = 0
    for name, members in sets.items():
        copy = tmp_path / f"{name}-{kind}.jpg"
        Image.open(members[0]).transpose(TURNS[kind]).save(copy, quality=85)
        results = q.search(lib, q.Query((q.Example(copy),), flips=True), k=1)
        found += results[0].path in {str(p) for p in members}
    assert found / len(sets) >= 0.95


def test_rotated_copies_are_missed_without_flips(library, tmp_path):
    """The option is what finds them: the generated scenes are not rotation-invariant on their own."""
    lib, sets, _ = library
    distances = {}
    for flips in (False, True):
        total = 0.0
        for name, members in sets.items():
            copy = tmp_path / f"{name}.jpg"
            Image.open(members[0]).transpose(Image.Transpose.ROTATE_90).save(copy, quality=85)
            hits = q.search(lib, q.Query((q.Example(copy),), flips=flips), k=None)
            total += next(r.distance for r in hits if r.path == str(members[0]))
        distances[flips] = total / len(sets)
    assert distances[True] < 0.5 * distances[False]


def test_turning_the_preprocessed_square_equals_preprocessing_the_turned_photo(library):
    lib, _, _ = library
    photo = original(5, (160, 120))
    embedder = lib.embedder
    tensor = embedder.preprocess(photo)[None]
    views = q.oriented(tensor, q.ALL_ORIENTATIONS)
    assert views.shape == (8, *tensor.shape[1:])
    for row, (turns, mirror) in enumerate(q.ALL_ORIENTATIONS):
        turned = photo.rotate(90 * turns, expand=True)
        if mirror:
            turned = turned.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        direct = embedder.preprocess(turned)
        assert torch.mean(torch.abs(views[row] - direct)) < 0.05


def test_region_query_finds_the_object_the_whole_image_misses(library, tmp_path):
    lib, sets, _ = library
    scene = original(900, (640, 480))
    photo = Image.open(sets["scene06"][0]).convert("RGB").resize((192, 144))
    scene.paste(photo, (400, 300))
    composed = tmp_path / "composed.png"
    scene.save(composed)
    region = q.Query((q.Example(composed, (400, 300, 192, 144)),))
    whole = q.Query((q.Example(composed),))
    targets = {str(p) for p in sets["scene06"]}

    def distance_to_object(query):
        return min(r.distance for r in q.search(lib, query, k=None) if r.path in targets)

    assert q.search(lib, region, k=1)[0].path in targets
    assert distance_to_object(region) < distance_to_object(whole)


def test_a_region_of_a_decoded_image(library):
    lib, sets, _ = library
    scene = original(901, (640, 480))
    scene.paste(Image.open(sets["scene02"][0]).convert("RGB").resize((256, 192)), (10, 20))
    results = q.search(lib, q.Query((q.Example(scene, (10, 20, 256, 192)),)), k=1)
    assert results[0].path in {str(p) for p in sets["scene02"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3", "x,y,w,h"),
        ("a,b,c,d", "x,y,w,h"),
        ("1.5,2,30,40", "x,y,w,h"),
        ("-1,0,30,30", ">= 0"),
        ("0,0,4,30", "at least"),
    ],
)
def test_bad_regions_are_refused_with_a_reason(text, message):
    with pytest.raises(InputError, match=message):
        q.parse_crop(text)


def test_a_region_outside_the_image_is_refused(library, tmp_path):
    lib, sets, _ = library
    assert q.parse_crop(" 10, 20,30,40") == (10, 20, 30, 40)
    with pytest.raises(InputError, match="reaches outside the image, which is 256 x 192"):
        q.search(lib, q.Query((q.Example(sets["scene00"][0], (200, 100, 100, 50)),)))


def test_a_query_needs_a_positive_and_readable_files(library, tmp_path):
    lib, _, _ = library
    with pytest.raises(InputError, match="at least one example"):
        q.search(lib, q.Query(()))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="cannot use .*broken.jpg as a query"):
        q.search(lib, q.Query((q.Example(broken),)))


def test_region_fractions_become_a_pixel_crop_inside_the_image():
    assert q.region_crop((0.25, 0.5, 0.75, 1.0), (400, 300)) == (100, 150, 200, 150)
    assert q.region_crop((0.9, 0.2, 0.1, 0.6), (400, 300)) == (40, 60, 320, 120)  # drawn right to left
    assert q.region_crop((0.999, 0.999, 1.2, 1.5), (400, 300)) == (392, 292, 8, 8)  # tiny, at the edge


def test_a_region_by_fractions_equals_the_same_crop_in_pixels(library, tmp_path):
    lib, sets, _ = library
    path = sets["scene01"][0]  # 256 x 192
    by_pixels = q.embed_query(lib, q.Query((q.Example(path, crop=(64, 48, 128, 96)),)))
    by_fractions = q.embed_query(lib, q.Query((q.Example(path, region=(0.25, 0.25, 0.75, 0.75)),)))
    assert np.allclose(by_pixels.positives, by_fractions.positives, atol=1e-6)
    assert by_fractions.exclude == by_pixels.exclude != frozenset()
