"""SIGKILL at the dangerous moments (mid-embedding, mid-commit, mid-save), then resume.

Complements the random-time kills of test_kill_resume: here each kill lands exactly where a
non-atomic write would corrupt something (see tests/kill_at.py for the injection points).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval_app.core.catalogue import Catalogue
from retrieval_app.core.embedder import DEFAULT_BATCH_SIZE
from retrieval_app.core.library import Library
from tests.imagegen import write_collection
from tests.labelled_gratings import write_labelled_gratings
from trainer.checkpoint import load_model
from trainer.train_state import load_train_state, state_path_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
HALF = 48  # the library holds one folder; the killed run adds a second, in several batches
BATCH = DEFAULT_BATCH_SIZE


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("photos")
    write_collection(root / "first", originals=HALF // 2, variants=("resized",), seed=0)
    write_collection(root / "second", originals=HALF // 2, variants=("resized",), seed=1)
    return root / "first", root / "second"


def run_killed(point: str, count: int, *command: str, exact_limit: int | None = None) -> None:
    limit = ["--exact-limit", str(exact_limit)] if exact_limit is not None else []
    done = subprocess.run(
        [sys.executable, "-m", "tests.kill_at", *limit, point, str(count), "--", *command],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr.decode()[-2000:])


def indexed_in_catalogue(library: Path) -> int:
    catalogue = Catalogue(str(library / "catalogue.sqlite"))
    try:
        return len(catalogue.indexed_ids())
    finally:
        catalogue.close()


@pytest.mark.parametrize(
    ("point", "count", "exact_limit"),
    [
        ("embed", 2, None),  # the second batch dies in the model: the first is kept
        ("commit", 2, None),  # batch 1 is committed, batch 2's writes roll back
        ("replace:.npz", 1, None),  # the exact index's save after batch 1: the old file stays
        ("replace:.hnsw", 1, 40),  # the HNSW graph's save after batch 1: the old graph stays
        ("replace:.meta.json", 1, 40),  # the graph is renamed into place, its meta not yet
    ],
)
def test_killed_at_a_dangerous_moment_resumes_without_loss_or_duplicates(
    tmp_path, photos, tiny_checkpoint, monkeypatch, point, count, exact_limit
):
    import retrieval_app.core.index_store as index_store

    monkeypatch.setattr(index_store, "EXACT_LIMIT", exact_limit or index_store.EXACT_LIMIT)
    first, second = photos
    library = tmp_path / "lib"
    with Library.open(library, model=str(tiny_checkpoint)) as opened:
        opened.index([first])
    args = ["--library", str(library), "index", str(second), "-q"]
    run_killed(point, count, *args, exact_limit=exact_limit)
    assert indexed_in_catalogue(library) == HALF + BATCH

    with Library.open(library) as reopened:
        report = reopened.index()
        assert report.embedded == HALF - BATCH  # nothing embedded twice, nothing lost
        check = reopened.check()
        assert check.consistent, (check.missing_from_index, check.extra_in_index)
        status = reopened.status()
        assert (status.indexed, status.pending, status.skipped) == (2 * HALF, 0, [])
        ids, vectors = reopened.catalogue.vectors()
        paths = reopened.catalogue.paths_for(ids)
        assert len(set(paths.values())) == 2 * HALF
        stored = {paths[i]: v for i, v in zip(ids.tolist(), vectors, strict=True)}
        for folder in (first, second):  # each vector belongs to its own file
            for name in ("scene00.jpg", "scene07-resized.jpg"):
                path = str(folder / name)
                fresh = reopened.embedder.embed_file(path)
                np.testing.assert_allclose(stored[path], fresh, atol=1e-5)
                hit = reopened.search_vector(fresh, k=1)[0]  # and the index holds it under its id
                assert hit.path == path and hit.distance < 1e-3


def train_command(folder: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        str(folder),
        "--out",
        str(out),
        "--backbone",
        "mobilenet_v3_small",
        "--no-pretrained",
        "--embedding-dim",
        "16",
        "--image-size",
        "32",
        "--epochs",
        "3",
        "--classes-per-batch",
        "3",
        "--images-per-class",
        "3",
        "--batches-per-epoch",
        "3",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--seed",
        "5",
        "--json",
        "-q",
        *extra,
    ]


def test_trainer_killed_while_saving_its_state_resumes_to_the_same_model(tmp_path):
    folder = tmp_path / "labelled"
    write_labelled_gratings(folder, classes=8, per_class=8, size=40)
    whole_out = tmp_path / "whole" / "m.safetensors"
    whole = subprocess.run(
        [sys.executable, "-m", "retrieval_app.cli.main", *train_command(folder, whole_out)],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert whole.returncode == 0, whole.stderr.decode()[-2000:]

    out = tmp_path / "killed" / "m.safetensors"
    state = state_path_for(out)
    # states are saved after epochs 0 (the untrained start), 1, 2 and 3: die writing epoch 2's
    run_killed("replace:.state.safetensors", 3, *train_command(folder, out))
    assert load_train_state(state)["epoch"] == 1

    resumed = subprocess.run(
        [sys.executable, "-m", "retrieval_app.cli.main", *train_command(folder, out, "--resume", str(state))],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert json.loads(resumed.stdout)["epochs_completed"] == 3

    whole_state, resumed_state = load_train_state(state_path_for(whole_out)), load_train_state(state)
    for name, tensor in whole_state["model"].items():
        assert torch.equal(tensor, resumed_state["model"][name]), name

    def outcome(state: dict) -> list[tuple]:
        return [(h["epoch"], h["loss"], h["metrics"]) for h in state["history"]]

    assert outcome(whole_state) == outcome(resumed_state)
    load_model(str(out))  # the best checkpoint is whole and loads
