"""SIGKILL the indexer at random points; the restarted run resumes and catalogue and index agree."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from retrieval_app.core.library import Library
from retrieval_app.core.vector_index import load_index
from tests.imagegen import write_collection

pytestmark = pytest.mark.slow


def _index_command(library, folder, model):
    return [
        sys.executable,
        "-m",
        "retrieval_app.cli.main",
        "--library",
        str(library),
        "index",
        str(folder),
        "--model",
        str(model),
        "-q",
    ]


def test_killed_indexer_resumes_consistently(tmp_path, tiny_checkpoint):
    folder = tmp_path / "photos"
    write_collection(folder, originals=120, variants=("resized",))
    library = tmp_path / "lib"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    rng = random.Random(1234)
    killed_after = []
    for _ in range(4):
        process = subprocess.Popen(_index_command(library, folder, tiny_checkpoint), env=env)
        delay = rng.uniform(2.0, 7.0)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_after.append(round(delay, 1))
        time.sleep(0.1)
    assert killed_after, "the indexer finished before any kill; make the collection larger"
    final = subprocess.run(_index_command(library, folder, tiny_checkpoint), env=env, timeout=300)
    assert final.returncode == 0

    with Library.open(library) as reopened:
        report = reopened.check()
        assert report.consistent, (report.missing_from_index, report.extra_in_index)
        status = reopened.status()
        assert (status.indexed, status.pending, len(status.skipped)) == (240, 0, 0)
        ids, _ = reopened.catalogue.vectors()
        assert len(set(reopened.catalogue.paths_for(ids).values())) == 240
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
