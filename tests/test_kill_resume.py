"""SIGKILL the indexer again and again at chosen points after the model is loaded; each restarted
run resumes where the last one died, and in the end catalogue and indexes agree.

The kills land at exact places (tests/kill_at.py), never by the clock, so every kill is a real
one that happens mid-work: a run that finished instead fails the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval_app.core.catalogue import Catalogue
from retrieval_app.core.embedder import DEFAULT_BATCH_SIZE
from retrieval_app.core.library import Library
from retrieval_app.core.vector_index import load_index
from tests.imagegen import write_collection

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
BATCH = DEFAULT_BATCH_SIZE
TOTAL = 240
# (point, its Nth occurrence, batches the killed run stores before dying)
KILLS = [
    ("embed", 3, 2),  # in the model, on the third batch
    ("commit", 2, 1),  # inside the second batch's transaction, before COMMIT
    ("replace:.npz", 2, 2),  # renaming the exact index into place after the second batch
    ("replace:.meta.json", 1, 1),  # the index in place after the first batch, its meta not yet
    ("embed", 4, 3),  # in the model again, on the fourth batch
]
# (kills while an HNSW graph is saved: tests/test_kill_points.py, on a library that already has one)


def indexed(library: Path) -> int:
    if not (library / "catalogue.sqlite").exists():
        return 0
    catalogue = Catalogue(str(library / "catalogue.sqlite"))
    try:
        return len(catalogue.indexed_ids())
    finally:
        catalogue.close()


def test_killed_indexer_resumes_consistently(tmp_path, tiny_checkpoint):
    folder = tmp_path / "photos"
    write_collection(folder, originals=TOTAL // 2, variants=("resized",))
    library = tmp_path / "lib"
    args = ["--library", str(library), "index", str(folder), "--model", str(tiny_checkpoint), "-q"]
    stored = []
    for point, count, batches in KILLS:
        before = indexed(library)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.kill_at",
                point,
                str(count),
                "--",
                *args,
            ],
            env=ENV,
            cwd=ROOT,
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr.decode()[-2000:])
        stored.append(indexed(library) - before)
        assert stored[-1] == batches * BATCH, (point, stored)  # resumed: earlier batches not redone
    assert indexed(library) < TOTAL, "the kills left nothing to resume; make the collection larger"

    left = TOTAL - indexed(library)
    with Library.open(library) as reopened:
        assert reopened.index([folder]).embedded == left  # nothing lost, nothing embedded twice
        report = reopened.check()
        assert report.consistent, (report.missing_from_index, report.extra_in_index)
        status = reopened.status()
        assert (status.indexed, status.pending, len(status.skipped)) == (TOTAL, 0, 0)
        ids, _ = reopened.catalogue.vectors()
        assert len(set(reopened.catalogue.paths_for(ids).values())) == TOTAL
        index, _ = reopened.index_for("euclidean")
        assert sorted(index.ids().tolist()) == sorted(ids.tolist())
        query = folder / "scene07-resized.jpg"
        assert reopened.search(query, k=1)[0].path == str(folder / "scene07.jpg")


def test_check_repair_fixes_drift(tmp_path, tiny_checkpoint):
    folder = tmp_path / "photos"
    sets = write_collection(folder, originals=6, variants=("resized",))
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint)) as library:
        library.index([folder])
    indexes = tmp_path / "lib" / "indexes"
    saved = indexes / json.loads((indexes / "euclidean.meta.json").read_text())["file"]
    index = load_index(saved)
    index.remove(index.ids()[:3])  # drift: the saved index lacks three catalogued vectors
    index.save(saved)
    sets["scene05"][0].unlink()  # and a file vanished behind the library's back
    with Library.open(tmp_path / "lib") as library:
        report = library.check()
        assert report.missing_from_index["euclidean"] == 3 and report.vanished_files == 1
        library.check(repair=True)
        after = library.check()
        assert after.consistent and after.vanished_files == 0
        assert library.status().indexed == 11
