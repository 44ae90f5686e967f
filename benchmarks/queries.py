"""Queries beyond one image, measured on real labelled photos (`../shared/data`).

1. Scoring rules for several examples and counter-examples: for each class, 5 random positives;
   MAP@R of the rest of the class under the best single example (an oracle: the best of the 5,
   under the Euclidean and the Mahalanobis metric), the mean single example, and several rules for
   5 examples, each on the raw vectors and in the library's whitening: the nearest positive (minus
   `w` x the nearest negative), soft max fusion of the similarities, reciprocal rank fusion,
   Rocchio (mean positive minus `w` x mean negative), Rocchio plus one round of alpha query
   expansion, and the app's rule (`query.whitened_query`). Negatives: 2 images of the class the
   positives' query confuses most; reported is how much of the top R that class holds. Parameters
   are chosen on Caltech-101 and confirmed on Tiny-ImageNet (another set, other classes). Then
   the same in small libraries of a few classes, where the Mahalanobis metric keeps few directions.
2. Flips and rotations: 100 photos copied mirrored, turned 90/180/270 degrees, transposed and
   transversed, re-encoded as JPEG at 80 % size; rank of the original among the library when
   the copy is the query, with 1, 4 (quarter turns) or 8 (turns x mirror) orientations.
3. Regions: a photo pasted at 40 % width on an unrelated background (a Tiny-ImageNet photo);
   precision@10 and MAP@R of the photo's class (the photo itself left out) for the whole
   composed image and for its region.
4. Cost and similar sets: on 300 Caltech photos plus 35 turned copies of them (default model and
   size): query time of 5 positives + 2 negatives through `query.search` with and without flips
   (and of its scoring alone, the query already embedded),
   the one-off time to check every image for turned copies, and how many copies land in a
   similar set with their original (default threshold) with and without flips.

Embeddings are cached under /tmp. Torch runs on one thread unless `--threads`.

    python -m benchmarks.queries --per-class 25 --size 128
    python -m benchmarks.queries --only-rules     # part 1 alone, from the cached vectors
    python -m benchmarks.queries --skip-rules --skip-sets     # the query times
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from foundation.images import load_image
from retrieval_app.core import query as q
from retrieval_app.core.embedder import Embedder
from retrieval_app.core.metrics import mahalanobis_space

from .common import median, save, table

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CACHE = Path(tempfile.gettempdir()) / "lookalike-bench-queries"
T = Image.Transpose
COPIES = {
    "mirror": T.FLIP_LEFT_RIGHT,
    "rot90": T.ROTATE_90,
    "rot180": T.ROTATE_180,
    "rot270": T.ROTATE_270,
    "flip-vertical": T.FLIP_TOP_BOTTOM,
    "transpose": T.TRANSPOSE,
    "transverse": T.TRANSVERSE,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=25, help="images per class in each library")
    parser.add_argument("--size", type=int, default=128, help="model input size for the quality parts")
    parser.add_argument("--copies", type=int, default=100, help="photos copied flipped and rotated")
    parser.add_argument("--composites", type=int, default=100, help="composed region queries")
    parser.add_argument("--trials", type=int, default=3, help="random positive draws per class")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--only-rules", action="store_true", help="the scoring rules only (cached vectors)")
    parser.add_argument("--skip-rules", action="store_true", help="flips, regions and timing only")
    parser.add_argument("--skip-sets", action="store_true", help="time queries only, not the sets check")
    return parser.parse_args(argv)


# -- data and embeddings -------------------------------------------------------------------
def labelled_subset(folder: Path, per_class: int, seed: int = 0) -> tuple[list[Path], np.ndarray]:
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for label, sub in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        files = sorted(sub.iterdir())
        for i in sorted(rng.permutation(len(files))[:per_class]):
            paths.append(files[i])
            labels.append(label)
    return paths, np.asarray(labels)


def embed_images(embedder: Embedder, images: Sequence[Image.Image], views=((0, False),)) -> np.ndarray:
    """(images, views, dim) unit vectors."""
    out = []
    for start in range(0, len(images), 32):
        batch = torch.stack([embedder.preprocess(image) for image in images[start : start + 32]])
        out.append(embedder.embed_tensors(q.oriented(batch, views)))
    return np.concatenate(out).reshape(len(images), len(views), -1)


def cached(name: str, key: str, compute) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    value = compute()
    np.save(path, value, allow_pickle=False)
    return value


def library_vectors(embedder: Embedder, paths: Sequence[Path], size: int) -> np.ndarray:
    key = f"{size}|" + "|".join(map(str, paths))
    return cached(
        "library", key, lambda: embed_images(embedder, [load_image(p, min_side=size) for p in paths])[:, 0]
    )


# -- scoring -------------------------------------------------------------------------------
def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(2.0 - 2.0 * (a @ b.T), 0.0))


def map_at_r(scores: np.ndarray, relevant: np.ndarray, left_out: np.ndarray) -> float:
    scores = scores.astype(np.float64).copy()
    scores[left_out] = np.inf
    r = int(relevant.sum())
    hits = relevant[np.argsort(scores, kind="stable")[:r]]
    precision = np.cumsum(hits) / np.arange(1, r + 1)
    return float((precision * hits).sum() / r)


def top_share(scores: np.ndarray, members: np.ndarray, left_out: np.ndarray, r: int) -> float:
    scores = scores.astype(np.float64).copy()
    scores[left_out] = np.inf
    return float(members[np.argsort(scores, kind="stable")[:r]].mean())


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def rocchio(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float) -> np.ndarray:
    moved = q.moved_vectors(pos[:, None, :], neg[:, None, :], weight)[0]
    return distances(x, moved[None])[:, 0]


def nearest(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float) -> np.ndarray:
    scores = distances(x, pos).min(axis=1)
    return scores - weight * distances(x, neg).min(axis=1) if len(neg) else scores


def soft_max(temperature: float):
    """Soft fusion of the similarities to each example: T log mean exp(s / T), between the mean
    (large T) and the nearest example (small T); the negatives' fused similarity is subtracted."""

    def fused(x: np.ndarray, examples: np.ndarray) -> np.ndarray:
        s = (x @ examples.T).astype(np.float64) / temperature
        top = s.max(axis=1, keepdims=True)
        return temperature * (top[:, 0] + np.log(np.exp(s - top).mean(axis=1)))

    def rule(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float) -> np.ndarray:
        scores = fused(x, pos)
        return -(scores - weight * fused(x, neg)) if len(neg) else -scores

    return rule


def rank_fusion(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float, k: int = 60) -> np.ndarray:
    """Reciprocal rank fusion of the examples' own rank lists (Cormack et al. 2009, k 60)."""

    def fused(examples: np.ndarray) -> np.ndarray:
        ranks = np.argsort(np.argsort(-(x @ examples.T), axis=0), axis=0)
        return (1.0 / (k + ranks)).sum(axis=1)

    return -(fused(pos) - weight * fused(neg)) if len(neg) else -fused(pos)


def expanded(rule, count: int = 10):
    """One round of alpha query expansion (Radenović et al., alpha 1): the query vector plus the
    top `count` results' vectors weighted by their similarity, per positive, searched again."""

    def expand(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float) -> np.ndarray:
        first = rule(x, pos, neg, weight)
        moved = q.moved_vectors(pos[:, None], neg[:, None], weight)[0]
        first[(x @ np.concatenate([pos, neg]).T).max(axis=1) > 1 - 1e-5] = np.inf  # the examples themselves
        top = x[np.argsort(first, kind="stable")[:count]]
        weights = np.maximum(top @ moved, 0.0)
        return distances(x, unit(moved + (weights[:, None] * top).sum(axis=0) / len(pos))[None])[:, 0]

    return expand


def in_space(rule, mapping):
    """`rule` applied to the vectors after `mapping` (a whitening)."""
    return lambda x, pos, neg, weight: rule(mapping(x), mapping(pos), mapping(neg), weight)


def rules_for(x: np.ndarray) -> dict:
    """The compared rules for the library `x`, given its Mahalanobis whitening fitted as the app does."""
    space = mahalanobis_space(x)
    mean, directions, gains = q.full_whitening(space)

    def whiten(v: np.ndarray) -> np.ndarray:  # the app's full-rank whitening, as vectors
        centred = v.astype(np.float64) - mean
        return unit(centred + ((centred @ directions.T) * gains) @ directions).astype(np.float32)

    def app(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float) -> np.ndarray:
        return distances(x, q.whitened_query(pos[:, None], neg[:, None], space, weight))[:, 0]

    def kept_only(x: np.ndarray, pos: np.ndarray, neg: np.ndarray, weight: float) -> np.ndarray:
        """Rocchio in the Mahalanobis metric's own space (its kept directions only)."""
        return rocchio(space.apply(x), space.apply(pos), space.apply(neg), weight)

    return {
        "nearest positive": nearest,
        "soft max fusion, T 0.1": soft_max(0.1),
        "reciprocal rank fusion": rank_fusion,
        "Rocchio": rocchio,
        "Rocchio + query expansion": expanded(rocchio),
        "whitened: nearest positive": in_space(nearest, whiten),
        "whitened: soft max fusion, T 0.1": in_space(soft_max(0.1), whiten),
        "whitened: reciprocal rank fusion": in_space(rank_fusion, whiten),
        "whitened: Rocchio, kept directions only (the Mahalanobis metric)": kept_only,
        "whitened: Rocchio (the app's rule)": app,
        "whitened: Rocchio + query expansion": in_space(expanded(rocchio), whiten),
    }


WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
SWEPT = ("Rocchio", "whitened: Rocchio (the app's rule)")  # the rules whose negative weight is swept


def compare_rules(x: np.ndarray, labels: np.ndarray, trials: int, seed: int = 1) -> dict:
    """Mean over classes and draws of each rule's MAP@R, with 5 positives, and with 2 negatives
    (at NEGATIVE_WEIGHT, and the share of their class in the top R, for every weight of SWEPT)."""
    rng = np.random.default_rng(seed)
    full = distances(x, x)
    whitened = mahalanobis_space(x).apply(x)
    rules = rules_for(x)
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    none = np.zeros((0, x.shape[1]), dtype=np.float32)
    for _ in range(trials):
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            if len(members) < 7:
                continue
            pos = rng.choice(members, 5, replace=False)
            relevant = labels == label
            relevant[pos] = False
            singles = [map_at_r(full[p], relevant, pos) for p in pos]
            add("one example, mean over the 5", float(np.mean(singles)))
            add("one example, the best of the 5 (oracle)", max(singles))
            add(
                "one example, the best of the 5 (oracle), Mahalanobis metric",
                max(map_at_r(distances(whitened, whitened[p][None])[:, 0], relevant, pos) for p in pos),
            )
            for name, rule in rules.items():
                add(f"5 examples: {name}", map_at_r(rule(x, x[pos], none, 0.0), relevant, pos))
            plain = rocchio(x, x[pos], none, 0.0)
            plain[pos] = np.inf
            wrong = [i for i in np.argsort(plain) if labels[i] != label][:20]
            confused = int(np.bincount(labels[wrong]).argmax())
            neg = rng.choice(np.flatnonzero(labels == confused), 2, replace=False)
            left_out = np.concatenate([pos, neg])
            confused_members = labels == confused
            confused_members[neg] = False
            r = int(relevant.sum())
            for name, rule in rules.items():
                for weight in WEIGHTS if name in SWEPT else (q.NEGATIVE_WEIGHT,):
                    scores = rule(x, x[pos], x[neg], weight)
                    add(f"+2 negatives w={weight}: {name}", map_at_r(scores, relevant, left_out))
                    if name in SWEPT:
                        add(
                            f"+2 negatives w={weight}: {name}, negative class in top R",
                            top_share(scores, confused_members, left_out, r),
                        )
    return {name: float(np.mean(values)) for name, values in rows.items()}


SMALL_RULES = (
    "Rocchio",
    "whitened: Rocchio, kept directions only (the Mahalanobis metric)",
    SWEPT[1],
    "whitened: Rocchio + query expansion",
)


def small_libraries(x: np.ndarray, labels: np.ndarray, sizes, draws: int = 10, seed: int = 7) -> dict:
    """MAP@R of the rest of a class for 5 of its images (4 when it has 8 or fewer in the library),
    in libraries of few classes, where the Mahalanobis metric keeps few directions (one per 8 images)."""
    rng = np.random.default_rng(seed)
    result: dict = {}
    for classes, per_class in sizes:
        rows: dict[str, list[float]] = {}
        for _ in range(draws):
            picked = rng.choice(np.unique(labels), classes, replace=False)
            idx = np.concatenate(
                [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in picked]
            )
            lib, lib_labels = x[idx], labels[idx]
            rules = rules_for(lib)
            none = np.zeros((0, lib.shape[1]), dtype=np.float32)
            for label in picked:
                members = np.flatnonzero(lib_labels == label)
                pos = rng.choice(members, 5 if per_class > 8 else 4, replace=False)
                relevant = lib_labels == label
                relevant[pos] = False
                full = distances(lib, lib[pos])
                rows.setdefault("one example, the best (oracle)", []).append(
                    max(map_at_r(full[:, i], relevant, pos) for i in range(len(pos)))
                )
                for name in SMALL_RULES:
                    scores = rules[name](lib, lib[pos], none, 0.0)
                    rows.setdefault(name, []).append(map_at_r(scores, relevant, pos))
        key = f"{classes} classes x {per_class} ({classes * per_class} images)"
        result[key] = {name: float(np.mean(v)) for name, v in rows.items()}
    return result


# -- flips and rotations -------------------------------------------------------------------
def jpeg_copy(image: Image.Image, transform: Image.Transpose | None) -> Image.Image:
    """A copy as people make them: turned (or not), resized to 80 % and re-encoded as JPEG 85."""
    copy = image.transpose(transform) if transform is not None else image.copy()
    copy = copy.resize(
        (max(1, int(copy.width * 0.8)), max(1, int(copy.height * 0.8))), Image.Resampling.LANCZOS
    )
    buffer = io.BytesIO()
    copy.save(buffer, format="JPEG", quality=85)
    buffer.seek(0)
    with Image.open(buffer) as decoded:  # written here: no EXIF orientation to apply
        return decoded.convert("RGB")


def flips(embedder: Embedder, paths: Sequence[Path], x: np.ndarray, count: int, size: int) -> dict:
    rng = np.random.default_rng(2)
    chosen = np.sort(rng.choice(len(paths), min(count, len(paths)), replace=False))
    views = q.ALL_ORIENTATIONS
    subsets = {
        "1 (as is)": [0],
        "4 (quarter turns)": [views.index(v) for v in q.FLIP_ORIENTATIONS],
        "8": list(range(8)),
    }

    def compute() -> np.ndarray:
        originals = [load_image(paths[i]) for i in chosen]
        copies = [jpeg_copy(image, t) for t in COPIES.values() for image in originals]
        return embed_images(embedder, copies, views).reshape(len(COPIES), len(chosen), len(views), -1)

    key = f"{size}|{count}|" + "|".join(str(paths[i]) for i in chosen)
    copies = cached("flip-copies", key, compute)
    result: dict = {}
    for name, subset in subsets.items():
        row = {}
        for t, kind in enumerate(COPIES):
            d = np.min(np.stack([distances(copies[t, :, v], x) for v in subset]), axis=0)
            row[kind] = float(np.mean(d.argmin(axis=1) == chosen))
            if name == "1 (as is)" or kind == "rot90":
                row[f"{kind} distance to original (median)"] = float(
                    np.median(d[np.arange(len(chosen)), chosen])
                )
        row["all"] = float(np.mean([row[kind] for kind in COPIES]))
        result[name] = row
    return result


# -- regions -------------------------------------------------------------------------------
def composites(
    embedder: Embedder, paths: Sequence[Path], x: np.ndarray, labels: np.ndarray, count: int, size: int
) -> dict:
    rng = np.random.default_rng(3)
    backgrounds, _ = labelled_subset(DATA / "tinyimagenet-val-100", 2, seed=4)
    chosen = np.sort(rng.choice(len(paths), min(count, len(paths)), replace=False))
    placements = []
    for _ in chosen:
        placements.append(
            (int(rng.integers(len(backgrounds))), float(rng.uniform(0, 1)), float(rng.uniform(0, 1)))
        )

    def compute() -> np.ndarray:
        wholes, regions = [], []
        for i, (b, fx, fy) in zip(chosen, placements, strict=True):
            scene = load_image(backgrounds[b]).resize((480, 360), Image.Resampling.BICUBIC)
            photo = load_image(paths[i])
            width = int(scene.width * 0.4)
            height = max(8, int(photo.height * width / photo.width))
            photo = photo.resize((width, min(height, scene.height)), Image.Resampling.LANCZOS)
            left, top = int(fx * (scene.width - photo.width)), int(fy * (scene.height - photo.height))
            scene.paste(photo, (left, top))
            wholes.append(scene)
            regions.append(q.crop_image(scene, (left, top, photo.width, photo.height)))
        return np.stack([embed_images(embedder, wholes)[:, 0], embed_images(embedder, regions)[:, 0]])

    key = f"{size}|{count}|" + "|".join(str(paths[i]) for i in chosen)
    vectors = cached("composites", key, compute)
    result: dict = {}
    for name, queries in (("whole image", vectors[0]), ("region", vectors[1])):
        p10, maps = [], []
        for query, source in zip(queries, chosen, strict=True):
            relevant = labels == labels[source]
            relevant[source] = False
            scores = distances(x, query[None])[:, 0]
            left_out = np.array([source])
            p10.append(top_share(scores, relevant, left_out, 10))
            maps.append(map_at_r(scores, relevant, left_out))
        result[name] = {"precision@10": float(np.mean(p10)), "MAP@R": float(np.mean(maps))}
    return result


# -- cost, and turned copies in similar sets -----------------------------------------------
def timing(paths: Sequence[Path], runs: int = 9, copies: int = 35, sets: bool = True) -> dict:
    """On a library of 300 photos plus turned copies of `copies` of them (default model and size):
    query time through `query.search`, the one-off cost of checking every image for turned copies,
    and how many copies join a similar set with their original, with and without flips."""
    import shutil

    from retrieval_app.core import turned_copies
    from retrieval_app.core.groups import DEFAULT_MAX_DISTANCE, find_groups
    from retrieval_app.core.library import Library

    rng = np.random.default_rng(5)
    picked = rng.choice(len(paths), 300, replace=False)
    kinds = list(COPIES)
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        photos.mkdir()
        for i in picked:
            shutil.copyfile(paths[i], photos / f"{i:05d}{paths[i].suffix}")
        pairs = {}
        for n, i in enumerate(picked[:copies]):
            kind = kinds[n % len(kinds)]
            jpeg_copy(load_image(paths[i]), COPIES[kind]).save(photos / f"{i:05d}-{kind}.jpg", quality=90)
            pairs[str((photos / f"{i:05d}-{kind}.jpg").resolve())] = str(
                (photos / f"{i:05d}{paths[i].suffix}").resolve()
            )
        upright = {}  # the control: copies made the same way, not turned
        for i in picked[copies : 2 * copies]:
            jpeg_copy(load_image(paths[i]), None).save(photos / f"{i:05d}-copy.jpg", quality=90)
            upright[str((photos / f"{i:05d}-copy.jpg").resolve())] = str(
                (photos / f"{i:05d}{paths[i].suffix}").resolve()
            )
        outside = [paths[i] for i in np.setdiff1d(np.arange(len(paths)), picked)[:7]]
        with Library.open(Path(tmp) / "lib") as library:
            started = time.perf_counter()
            library.index([photos])
            result = {
                "library images": len(picked) + 2 * copies,
                "indexing seconds": time.perf_counter() - started,
            }
            queries = {
                flipped: q.Query(
                    tuple(q.Example(p) for p in outside[:5]),
                    tuple(q.Example(p) for p in outside[5:]),
                    flipped,
                )
                for flipped in (False, True)
            }
            single = q.Query((q.Example(outside[0]),))
            started = time.perf_counter()
            library.metric_space("mahalanobis")  # the whitening several examples are scored in
            result["fitting the whitening (once, then saved), ms"] = 1000 * (time.perf_counter() - started)
            seconds: dict[str, list[float]] = {"off": [], "on": [], "single": []}
            for query in (*queries.values(), single):
                q.search(library, query)
            for _ in range(runs):  # interleaved, so load changes hit all three alike
                for name, query in (("off", queries[False]), ("on", queries[True]), ("single", single)):
                    started = time.perf_counter()
                    q.search(library, query, k=24)
                    seconds[name].append(time.perf_counter() - started)
            result["one example, flips off, ms"] = 1000 * median(seconds["single"])
            result["5 positives + 2 negatives, flips off, ms"] = 1000 * median(seconds["off"])
            result["5 positives + 2 negatives, flips on, ms"] = 1000 * median(seconds["on"])
            result["flips on / off (median of per-run ratios)"] = median(
                [a / b for a, b in zip(seconds["on"], seconds["off"], strict=True)]
            )
            for flipped, label in ((False, "off"), (True, "on")):
                vectors = q.embed_query(library, queries[flipped])
                scoring = []
                for _ in range(runs):
                    started = time.perf_counter()
                    q.search_vectors(library, vectors, k=24)
                    scoring.append(time.perf_counter() - started)
                result[f"of which scoring and index query (embedded), flips {label}, ms"] = 1000 * median(
                    scoring
                )
            if not sets:
                return result
            started = time.perf_counter()
            found = turned_copies.find_turned_copies(library)
            result["checking every image for turned copies (once), seconds"] = time.perf_counter() - started
            cache = library.root / "indexes" / turned_copies.CACHE_NAME
            result["turned-copies cache, bytes"] = cache.stat().st_size
            result["images kept with their 8 vectors"] = len(found.view_ids)
            for flipped in (False, True):
                started = time.perf_counter()
                groups = find_groups(library, max_distance=DEFAULT_MAX_DISTANCE, flips=flipped)
                seconds = time.perf_counter() - started
                sets = [{m.path for m in g.members} for g in groups]
                joined = sum(any(c in s and o in s for s in sets) for c, o in pairs.items())
                label = "on" if flipped else "off"
                kept = sum(any(c in s and o in s for s in sets) for c, o in upright.items()) / len(upright)
                result[
                    f"similar sets, flips {label}: upright copies (control) in a set with their original"
                ] = kept
                result[f"similar sets, flips {label}: copies in a set with their original"] = joined / len(
                    pairs
                )
                result[f"similar sets, flips {label}: seconds (after the check)"] = seconds
    return result


def rules(
    report: dict,
    x_caltech: np.ndarray,
    caltech_labels: np.ndarray,
    x_tiny: np.ndarray,
    tiny_labels: np.ndarray,
    trials: int,
) -> None:
    """Part 1: the scoring rules on both sets, and in small libraries; printed and kept in `report`."""
    report["rules"] = {
        "caltech101": compare_rules(x_caltech, caltech_labels, trials),
        "tinyimagenet": compare_rules(x_tiny, tiny_labels, trials),
    }
    print(
        table(
            ["MAP@R", "Caltech-101", "Tiny-ImageNet"],
            [
                [name, value, report["rules"]["tinyimagenet"][name]]
                for name, value in report["rules"]["caltech101"].items()
            ],
        )
    )
    sizes = ((2, 10), (4, 5), (5, 8), (20, 10), (40, 7))
    report["small libraries"] = {
        "caltech101": small_libraries(x_caltech, caltech_labels, sizes),
        "tinyimagenet": small_libraries(x_tiny, tiny_labels, sizes),
    }
    for name, rows in report["small libraries"].items():
        names = list(next(iter(rows.values())))
        print(table([name, *names], [[size, *(row[n] for n in names)] for size, row in rows.items()]))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    embedder = Embedder("efficientnet-lite0", image_size=args.size, device="cpu")
    torch.set_num_threads(args.threads)
    report: dict = {"args": vars(args)}
    caltech, caltech_labels = labelled_subset(DATA / "caltech101-train-half", args.per_class)
    tiny, tiny_labels = labelled_subset(DATA / "tinyimagenet-val-100", args.per_class)
    x_caltech = library_vectors(embedder, caltech, args.size)
    x_tiny = library_vectors(embedder, tiny, args.size)
    if not args.skip_rules:
        rules(report, x_caltech, caltech_labels, x_tiny, tiny_labels, args.trials)
    if args.only_rules:
        save("queries-rules", report)
        return
    report["flips"] = flips(embedder, caltech, x_caltech, args.copies, args.size)
    kinds = [*COPIES, "all"]
    print(
        table(
            ["orientations", *kinds],
            [[name, *(row[k] for k in kinds)] for name, row in report["flips"].items()],
        )
    )
    report["regions"] = composites(embedder, caltech, x_caltech, caltech_labels, args.composites, args.size)
    print(
        table(
            ["query", "precision@10", "MAP@R"],
            [[n, r["precision@10"], r["MAP@R"]] for n, r in report["regions"].items()],
        )
    )
    if not args.skip_timing:
        torch.set_num_threads(args.threads)
        report["timing"] = timing(caltech, sets=not args.skip_sets)
        print(table(["measure", "value"], list(report["timing"].items())))
    save("queries", report)


if __name__ == "__main__":
    main()
