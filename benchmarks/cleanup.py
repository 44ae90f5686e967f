"""Clean-up speed: 1,000 planted duplicates found, reviewed, moved to the trash and put back.

Writes N distinct photos and an exact copy of each in a backup folder, catalogues them with
vectors made for the occasion (each copy's vector is its original's: no model run, so the figure
is the clean-up's own cost), then times `find_sets` (grouping plus the review: file headers,
content hashes, pixel prints; without the one-time search for turned copies, which embeds), the journalled move of every copy to a temporary trash, and the
undo that puts them all back and re-catalogues them. The trash is a temporary folder's
(XDG_DATA_HOME, HOME), never the person's.

    python -m benchmarks.cleanup --count 1000
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval_app.core.cleanup import clean_up, plan_cleanup, undo_cleanup
from retrieval_app.core.keeper import KeepPolicy
from retrieval_app.core.library import Library
from retrieval_app.core.set_review import find_sets
from tests.imagegen import original

from .common import command_line, save, stamped


def write_photos(folder: Path, count: int) -> None:
    """`count` distinct JPEGs in `photos/`, and a byte-for-byte copy of each in `backup/`."""
    (folder / "photos").mkdir(parents=True)
    (folder / "backup").mkdir()
    for i in range(count):
        name = f"photo-{i:05d}.jpg"
        original(10_000 + i, (320, 240)).save(folder / "photos" / name, quality=88)
        shutil.copy2(folder / "photos" / name, folder / "backup" / name)


def catalogue_with_vectors(library: Library, rng: np.random.Generator) -> None:
    """Scan the folders and store one random unit vector per photo, the same for its copy."""
    library.scan()
    embedder = library.embedder  # its fingerprint and size; nothing is embedded
    pending = library.catalogue.pending()
    by_name: dict[str, np.ndarray] = {}
    vectors = {}
    for file_id, path in pending:
        name = os.path.basename(path)
        if name not in by_name:
            vector = rng.normal(size=embedder.dim).astype(np.float32)
            by_name[name] = vector / np.linalg.norm(vector)
        vectors[file_id] = by_name[name]
    library.catalogue.store_results(vectors, {}, embedder.fingerprint)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="planted duplicates (and as many originals)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lookalike-cleanup-") as tmp:
        root = Path(tmp)
        os.environ["HOME"] = str(root)
        os.environ["XDG_DATA_HOME"] = str(root / "data")
        write_photos(root, args.count)
        with Library.open(root / "lib") as library:
            for folder in ("photos", "backup"):
                library.add_folder(root / folder)
            catalogue_with_vectors(library, np.random.default_rng(args.seed))
            reference = (str(root / "photos"),)
            start = time.perf_counter()
            policy = KeepPolicy(reference_folders=reference)
            sets = find_sets(library, max_distance=0.05, policy=policy, flips=False)
            review_seconds = time.perf_counter() - start
            plan = plan_cleanup(sets, ["exact"])
            report = clean_up(library, plan)
            start = time.perf_counter()
            undone = undo_cleanup(library)
            undo_seconds = time.perf_counter() - start
            assert len(report.moved) == args.count and len(undone.restored) == args.count, (report, undone)
    result = {
        "command": command_line("benchmarks.cleanup", argv),
        "duplicates": args.count,
        "sets": len(sets),
        "find_sets_seconds": round(review_seconds, 2),
        "clean_up_seconds": round(report.seconds, 2),
        "undo_seconds": round(undo_seconds, 2),
    }
    print(
        f"{args.count} planted duplicates in {len(sets)} sets: find and review {review_seconds:.1f} s, "
        f"move to the trash {report.seconds:.1f} s, undo {undo_seconds:.1f} s"
    )
    save(stamped("cleanup"), result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
