"""The metric benchmark's data: capped subsets of the shared sets, per-seed splits, cached vectors.

The network's forward pass is the slow part of a run on a shared CPU, so vectors are cached on
disk per (model, image size, network source) and served to the library through `CachedEmbedder`;
everything after the forward pass (catalogue, indexes, metric spaces, search) is the library's own.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.imagetypes import is_supported
from retrieval_app.core.embedder import EmbeddedBatch, Embedder
from retrieval_app.core.progress import CancelToken

DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared/data"
CACHE_ROOT = Path(os.environ.get("LOOKALIKE_BENCH_CACHE", "/tmp/lookalike-metric-bench"))
NETWORK_SOURCE = Path(__file__).resolve().parent.parent / "trainer" / "efficientnet_lite.py"


@dataclass(frozen=True)
class SetSpec:
    """One shared labelled set, the image size it is embedded at and how many images per class."""

    name: str
    folder: str
    image_size: int
    per_class: int


SETS = {
    spec.name: spec
    for spec in (
        SetSpec("caltech101", "caltech101-train-half", 128, 40),
        SetSpec("tinyimagenet", "tinyimagenet-val-100", 64, 40),
        SetSpec("omniglot", "omniglot/images_background_small1", 96, 20),
    )
}


def class_files(spec: SetSpec, root: Path = DATA_ROOT) -> dict[str, list[Path]]:
    """Each class (a folder holding images, relative to the set) and its first `per_class` files."""
    base = root / spec.folder
    if not base.is_dir():
        raise SystemExit(f"shared set not found: {base}")
    classes: dict[str, list[Path]] = {}
    for folder, dirs, files in os.walk(base):
        dirs.sort()
        images = sorted(Path(folder) / f for f in files if is_supported(f))
        if len(images) >= 4 and Path(folder) != base:
            classes[Path(folder).relative_to(base).as_posix()] = images[: spec.per_class]
    return classes


def split_person(
    classes: dict[str, list[Path]], seed: int
) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Per class, a seeded half for the person's labelled folders and the other half for the library."""
    rng = np.random.default_rng(seed)
    labelled, library = {}, {}
    for name, paths in classes.items():
        order = rng.permutation(len(paths))
        half = len(paths) // 2
        labelled[name] = [paths[i] for i in order[:half]]
        library[name] = [paths[i] for i in order[half:]]
    return labelled, library


def link_tree(classes: dict[str, list[Path]], into: Path) -> dict[str, str]:
    """Symlink the files as one sub-folder per class; returns {linked path: class}."""
    where = {}
    for name, paths in classes.items():
        folder = into / name.replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        for path in paths:
            link = folder / path.name
            if not link.exists():
                link.symlink_to(path)
            where[os.path.abspath(link)] = name
    return where


def cache_key(embedder: Embedder) -> str:
    """Changes with the model, its input size and the network's code (a padding fix re-embeds)."""
    digest = hashlib.sha256(embedder.fingerprint.encode())
    digest.update(str(embedder.config.image_size).encode())
    digest.update(NETWORK_SOURCE.read_bytes())
    return digest.hexdigest()[:16]


class CachedEmbedder:
    """An Embedder whose `embed_files` serves vectors cached by resolved file path."""

    def __init__(self, embedder: Embedder, cache_dir: Path = CACHE_ROOT) -> None:
        self.inner = embedder
        self.path = cache_dir / f"vectors-{cache_key(embedder)}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as data:
                self.vectors = dict(zip(data["paths"].tolist(), data["vectors"], strict=True))
        self.misses = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def embed_files(
        self, items: Iterable[tuple[int, str]], cancel: CancelToken | None = None
    ) -> Iterator[EmbeddedBatch]:
        items = list(items)
        known = {
            i: self.vectors[os.path.realpath(p)] for i, p in items if os.path.realpath(p) in self.vectors
        }
        if known:
            yield EmbeddedBatch(known, {})
        todo = [(i, p) for i, p in items if i not in known]
        for batch in self.inner.embed_files(todo, cancel):
            paths = dict(todo)
            for file_id, vector in batch.vectors.items():
                self.vectors[os.path.realpath(paths[file_id])] = vector
            self.misses += len(batch.vectors)
            yield batch

    def save(self) -> None:
        """Write the cache (only when something new was embedded)."""
        if not self.misses:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        paths = sorted(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, paths=np.array(paths), vectors=np.stack([self.vectors[p] for p in paths]))
        os.replace(tmp, self.path)
        self.misses = 0
