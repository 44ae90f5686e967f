"""Learning a metric from labelled folders: the held-out check, the file it writes, and that a
metric no better than Euclidean on held-out photos is not switched on (library and CLI)."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from retrieval_app.cli.main import main
from retrieval_app.core import metric_learning
from retrieval_app.core.library import Library
from retrieval_app.core.metric_learning import HeldOut, learn_metric, split_held_out
from retrieval_app.core.metrics import MetricError
from tests.imagegen import write_collection
from tests.labelled_gratings import write_labelled_gratings
from trainer.linear_metric import load_metric, save_metric


@pytest.fixture
def library(tmp_path, tiny_checkpoint):
    write_collection(tmp_path / "photos", originals=8, variants=("resized",))
    with Library.open(tmp_path / "lib", model=str(tiny_checkpoint), image_size=64) as opened:
        opened.index([tmp_path / "photos"])
        yield opened


@pytest.fixture
def labelled(tmp_path):
    write_labelled_gratings(tmp_path / "labelled", classes=4, per_class=8, size=64)
    return tmp_path / "labelled"


def test_held_out_split_is_per_class_seeded_and_spares_small_classes():
    labels = np.repeat([0, 1, 2], [10, 4, 3])
    fit, held = split_held_out(labels, fraction=0.3, seed=7)
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(17))
    assert np.bincount(labels[held], minlength=3).tolist() == [3, 2, 0]  # 3 images: too few to spare 2
    again = split_held_out(labels, fraction=0.3, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((fit, held), again, strict=True))
    assert not np.array_equal(held, split_held_out(labels, fraction=0.3, seed=8)[1])


def test_verdict_names_both_figures():
    assert HeldOut(0.95, 0.88, 40).verdict() == (
        "the learned metric is not better than Euclidean on your held-out photos: 0.88 vs 0.95"
    )
    assert not HeldOut(0.9, 0.9, 40).better
    assert "0.80 → 0.90 on 40 of your photos" in HeldOut(0.8, 0.9, 40).verdict()


def test_learn_metric_measures_on_held_out_photos_and_records_it(library, labelled, tmp_path):
    result = learn_metric(library, str(labelled), "lmnn")
    assert result.path.parent == library.root / "metrics" and result.path.suffix == ".npz"
    matrix, info = load_metric(result.path)
    assert matrix.shape == (library.embedder.dim,) * 2
    assert info["held_out"] == result.held_out.to_json()
    assert info["held_out"]["photos"] == 4 * 2  # 30 % of 8 per class, rounded, at least 2
    assert 0.0 <= result.held_out.euclidean <= 1.0 and 0.0 <= result.held_out.learned <= 1.0
    assert info["fitted_on"] == (32 if result.held_out.better else 24)
    assert datetime.fromisoformat(info["fitted_at"]).tzinfo is not None
    assert info["model_fingerprint"] == library.embedder.fingerprint and info["normalize"] is True
    assert (info["classes"], info["images"], info["method"]) == (4, 32, "lmnn")


def test_held_out_figures_are_recall_of_each_space(library, labelled, monkeypatch):
    """The check compares Euclidean on the raw vectors with the learned space's mapping."""
    seen = []
    real = metric_learning.recall_at_1

    def recording(vectors, labels):
        seen.append(np.linalg.norm(vectors, axis=1))
        return real(vectors, labels)

    monkeypatch.setattr(metric_learning, "recall_at_1", recording)
    result = learn_metric(library, str(labelled), "mmc")
    assert len(seen) == 2 and len(seen[0]) == result.held_out.photos
    np.testing.assert_allclose(seen[1], 1.0, rtol=1e-6)  # the learned space is normalised


def _file(tmp_path, library, euclidean, learned, name="m.npz"):
    dim = library.embedder.dim
    info = {"method": "lmnn", "held_out": {"euclidean": euclidean, "learned": learned, "photos": 40}}
    return save_metric(tmp_path / name, np.eye(dim), info, mean=np.zeros(dim))


def test_library_refuses_a_metric_that_lost_on_held_out_photos(library, tmp_path):
    worse = _file(tmp_path, library, 0.95, 0.88)
    with pytest.raises(MetricError, match="not better than Euclidean on your held-out photos: 0.88 vs 0.95"):
        library.use_learned_metric(worse)
    assert library.catalogue.get_meta("learned_metric") is None
    library.use_learned_metric(worse, force=True)
    assert library.catalogue.get_meta("learned_metric") == str(worse)
    better = _file(tmp_path, library, 0.80, 0.86, "better.npz")
    library.use_learned_metric(better)
    learned = {row["name"]: row for row in library.metrics_available()}["learned"]
    assert learned["held_out"] == {"euclidean": 0.80, "learned": 0.86, "photos": 40}


def _scripted_recall(monkeypatch, euclidean: float, learned: float) -> None:
    """The held-out check's two Recall@1 figures, in the order it measures them."""
    figures = iter([euclidean, learned])
    monkeypatch.setattr(metric_learning, "recall_at_1", lambda vectors, labels: next(figures))


def test_cli_train_metric_does_not_switch_to_a_worse_metric(library, labelled, monkeypatch, capsys):
    root = str(library.root)
    library.close()
    _scripted_recall(monkeypatch, 0.95, 0.88)
    assert main(["--library", root, "train-metric", str(labelled), "-q"]) == 0
    err = capsys.readouterr().err
    assert "the learned metric is not better than Euclidean on your held-out photos: 0.88 vs 0.95" in err
    assert "keeps its current metric" in err
    assert main(["--library", root, "status", "--json"]) == 0
    learned = {row["name"]: row for row in json.loads(capsys.readouterr().out)["metrics"]}["learned"]
    assert learned["available"] is False
    assert (
        main(["--library", root, "search", "--metric", "learned", str(sorted(labelled.rglob("*.png"))[0])])
        == 2
    )
    assert "no learned metric in use yet" in capsys.readouterr().err
    written = sorted((library.root / "metrics").iterdir())
    assert main(["--library", root, "use-metric", str(written[0])]) == 2
    assert "0.88 vs 0.95" in capsys.readouterr().err
    assert main(["--library", root, "use-metric", "--force", str(written[0])]) == 0


def test_cli_train_metric_switches_to_a_better_one_and_status_lists_it(
    library, labelled, monkeypatch, capsys
):
    root = str(library.root)
    library.close()
    _scripted_recall(monkeypatch, 0.80, 0.90)
    assert main(["--library", root, "train-metric", str(labelled), "--method", "mmc", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["used"] is True and payload["held_out"] == {"euclidean": 0.8, "learned": 0.9, "photos": 8}
    assert main(["--library", root, "status"]) == 0
    out = capsys.readouterr().out
    assert "learned: learned from your labelled folders" in out
    assert f"MMC; fitted {payload['fitted_at']}" in out and "0.80 → 0.90" in out
    photo = str(sorted(labelled.rglob("*.png"))[0])
    assert main(["--library", root, "search", "--metric", "learned", "-k", "3", photo]) == 0
    assert "learned metric: MMC; fitted" in capsys.readouterr().err


def test_search_help_describes_every_metric(capsys):
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = capsys.readouterr().out
    for line in (
        "euclidean    straight-line",
        "cosine       angle",
        "mahalanobis  Euclidean after whitening",
        "learned      learned from",
    ):
        assert line in out
