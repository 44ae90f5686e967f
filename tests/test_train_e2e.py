"""Training end to end on generated classes: it learns, resumes exactly, saves safely, has a CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import trainer.train as train_module
from tests.labelled_gratings import write_labelled_gratings
from tests.tiny_training import tiny
from trainer.checkpoint import load_model, read_info
from trainer.cli import main
from trainer.data import scan_labelled_folder, split_by_class
from trainer.embedding import embed_images
from trainer.evaluation import retrieval_metrics
from trainer.model import build_model
from trainer.options import TrainSettings
from trainer.train import model_config, train
from trainer.train_state import load_train_state, save_train_state, state_path_for

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
ROOT = Path(__file__).resolve().parent.parent
EVALUATE_KEYS = ["recall@1", "recall@2", "recall@4", "recall@8", "map@r", "classes", "images"]


@pytest.fixture(scope="module")
def gratings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gratings")
    write_labelled_gratings(root, classes=16, per_class=10, size=48)
    return root


def test_training_beats_the_untrained_start_on_held_out_classes(gratings, tmp_path):
    steps, epochs = [], []
    settings = (
        TrainSettings(  # the product's defaults but the PCA start (pretrained Lite0, frozen BN), CPU-sized
            folder=str(gratings),
            out=str(tmp_path / "model.safetensors"),
            embedding_dim=32,
            head_init="pca",  # on gratings the default LDA start already scores what training reaches
            image_size=48,
            epochs=4,
            classes_per_batch=6,
            images_per_class=4,
            batches_per_epoch=8,
            lr=1e-3,
            device="cpu",
            workers=0,
            seed=0,
            val_split="classes",
        )
    )
    result = train(settings, on_step=steps.append, on_epoch=epochs.append)

    start, final = result.start_metrics, result.history[-1].metrics
    # the pretrained start already finds most gratings (Recall@1 about 0.88), so the ranking (MAP@R) shows it
    assert final["recall@1"] >= start["recall@1"], (start, final)
    assert final["map@r"] >= start["map@r"] + 0.15, (start, final)
    assert result.best_metrics["recall@1"] >= final["recall@1"]
    assert not result.cancelled and result.epochs_completed == 4
    assert [(s.epoch, s.step) for s in steps] == [(e, i) for e in range(1, 5) for i in range(1, 9)]
    assert all(s.steps == 8 and s.images_per_second > 0 and 0 <= s.active_fraction <= 1 for s in steps)
    assert [e.epoch for e in epochs] == [0, 1, 2, 3, 4]
    assert epochs[0].loss is None and epochs[0].is_best
    assert all(e.loss is not None and np.isfinite(e.loss) for e in epochs[1:])

    # the saved checkpoint is the best epoch's network and reproduces its held-out score
    model = load_model(str(result.out))
    assert model.config.embedding_dim == 32 and model.config.image_size == 48
    _, val = split_by_class(scan_labelled_folder(gratings), 0.5, seed=0)
    vectors, labels = embed_images(model, val, torch.device("cpu"))
    assert retrieval_metrics(vectors, labels)["recall@1"] == pytest.approx(result.best_metrics["recall@1"])
    info = read_info(result.out)
    assert info["best_epoch"] == result.best_epoch
    assert info["settings"]["backbone"] == "efficientnet-lite0"
    assert [h["epoch"] for h in info["history"]][: result.best_epoch + 1] == list(
        range(result.best_epoch + 1)
    )


def _stem_and_next_block_moved(
    settings: TrainSettings, trained: dict[str, torch.Tensor]
) -> tuple[bool, bool]:
    """Whether training changed the stem's first convolution, and the first block after the stem."""
    start = build_model(model_config(settings), seed=settings.seed).state_dict()
    stem, after = "backbone._conv_stem.weight", "backbone._blocks.3._expand_conv.weight"
    return not torch.equal(start[stem], trained[stem]), not torch.equal(start[after], trained[after])


@pytest.mark.parametrize("freeze", [True, False])
def test_pretrained_stem_keeps_its_weights_unless_told_otherwise(gratings, tmp_path, freeze):
    settings = tiny(  # the default pretrained network: the stem is frozen only when it starts pretrained
        gratings,
        tmp_path / "model.safetensors",
        backbone="efficientnet-lite0",
        pretrained=True,
        epochs=1,
        batches_per_epoch=2,
        warmup_fraction=0.0,
        freeze_stem=freeze,
    )
    result = train(settings)
    trained = load_train_state(result.state)["model"]
    assert _stem_and_next_block_moved(settings, trained) == (not freeze, True)


def test_resume_continues_at_the_next_epoch_with_identical_results(gratings, tmp_path):
    whole = train(tiny(gratings, tmp_path / "whole" / "m.safetensors"))

    finished = []

    def stop_after_first_epoch() -> bool:
        return bool(finished)

    out = tmp_path / "parts" / "m.safetensors"
    first = train(
        tiny(gratings, out),
        on_epoch=lambda r: r.epoch == 1 and finished.append(r),
        should_stop=stop_after_first_epoch,
    )
    assert first.cancelled and first.epochs_completed == 1
    assert load_train_state(state_path_for(out))["epoch"] == 1
    assert out.is_file()  # the best so far is kept

    resumed_epochs = []
    second = train(tiny(gratings, out, resume=str(state_path_for(out))), on_epoch=resumed_epochs.append)
    assert [r.epoch for r in resumed_epochs] == [2]
    assert not second.cancelled and second.epochs_completed == 2
    assert [(h.epoch, h.loss, h.metrics) for h in second.history] == [
        (h.epoch, h.loss, h.metrics) for h in whole.history
    ]
    whole_state = load_train_state(whole.state)
    resumed_state = load_train_state(second.state)
    for name, tensor in whole_state["model"].items():
        assert torch.equal(tensor, resumed_state["model"][name]), name
    assert torch.equal(whole_state["rng"]["cpu"], resumed_state["rng"]["cpu"])


def test_margin_loss_learns_one_beta_per_class_unless_told_to_share_one(gratings, tmp_path):
    per_class = train(tiny(gratings, tmp_path / "a.safetensors", epochs=1))
    shared = train(tiny(gratings, tmp_path / "b.safetensors", epochs=1, class_beta=False))
    assert load_train_state(per_class.state)["loss"]["beta"].shape == (16,)  # every class trains
    assert load_train_state(shared.state)["loss"]["beta"].shape == (1,)


def test_resume_refuses_a_different_network(gratings, tmp_path):
    out = tmp_path / "m.safetensors"
    train(tiny(gratings, out, epochs=0))
    with pytest.raises(ValueError, match="embedding_dim 16 -> 8"):
        train(tiny(gratings, out, embedding_dim=8, resume=str(out)))
    with pytest.raises(ValueError, match="seed 7 -> 8"):  # another seed splits the classes otherwise
        train(tiny(gratings, out, seed=8, resume=str(out)))
    with pytest.raises(ValueError, match=r"head start \('lda', 0.3\) -> \('pca', None\)"):
        train(tiny(gratings, out, head_init="pca", resume=str(out)))
    with pytest.raises(ValueError, match=r"head start \('lda', 0.3\) -> \('lda', 0.5\)"):
        train(tiny(gratings, out, head_shrinkage=0.5, resume=str(out)))
    with pytest.raises(ValueError, match="freeze_stem True -> False"):
        train(tiny(gratings, out, freeze_stem=False, resume=str(out)))


def test_a_state_saved_before_the_stem_could_freeze_resumes_only_with_the_stem_trained(gratings, tmp_path):
    out = tmp_path / "m.safetensors"
    train(tiny(gratings, out, epochs=1))
    state_path = state_path_for(out)
    state = load_train_state(state_path)
    del state["settings"]["freeze_stem"]  # as saved by a version that always trained the stem
    save_train_state(state_path, state)
    with pytest.raises(ValueError, match="freeze_stem False -> True"):
        train(tiny(gratings, out, epochs=2, resume=str(state_path)))
    resumed = train(tiny(gratings, out, epochs=2, freeze_stem=False, resume=str(state_path)))
    assert resumed.epochs_completed == 2


def test_non_finite_loss_skips_the_step_and_reports_it(gratings, tmp_path, monkeypatch):
    real_make_loss = train_module.make_loss
    calls = []

    def make_loss_with_one_nan(name, **kwargs):
        loss = real_make_loss(name, **kwargs)
        forward = loss.forward

        def patched(embeddings, labels, triplets):
            output = forward(embeddings, labels, triplets)
            calls.append(1)
            if len(calls) == 2:
                return output._replace(loss=output.loss * float("nan"))
            return output

        loss.forward = patched
        return loss

    monkeypatch.setattr(train_module, "make_loss", make_loss_with_one_nan)
    steps = []
    result = train(tiny(gratings, tmp_path / "m.safetensors", epochs=1), on_step=steps.append)
    assert [s.skipped for s in steps] == [False, True, False]
    assert result.skipped_steps == 1 and result.history[-1].skipped_steps == 1
    state = load_train_state(result.state)
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_pooled_features_compete_as_the_untrained_start(gratings, tmp_path):
    settings = TrainSettings(  # a 2-d PCA head loses most of what the pooled Lite0 features hold
        folder=str(gratings),
        out=str(tmp_path / "pooled.safetensors"),
        embedding_dim=2,
        head_init="pca",
        image_size=48,
        epochs=0,
        device="cpu",
        workers=0,
    )
    result = train(settings)
    assert result.best_epoch == 0 and result.best_metrics == result.start_metrics
    assert load_model(str(result.out)).config.embedding_dim is None

    head_only = train(
        dataclasses.replace(settings, out=str(tmp_path / "head.safetensors"), pooled_start=False)
    )
    assert load_model(str(head_only.out)).config.embedding_dim == 2
    assert head_only.start_metrics["map@r"] < result.start_metrics["map@r"]


def test_stop_before_any_step_keeps_the_untrained_start(gratings, tmp_path):
    result = train(tiny(gratings, tmp_path / "m.safetensors"), should_stop=lambda: True)
    assert result.cancelled and result.epochs_completed == 0 and result.best_epoch == 0
    assert load_model(str(result.out)).config.embedding_dim == 16


def test_cli_train_and_evaluate(gratings, tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    argv = [
        "train", str(gratings), "--out", str(out), "--backbone", "mobilenet_v3_small", "--no-pretrained",
        "--embedding-dim", "16", "--image-size", "32", "--epochs", "1", "--classes-per-batch", "3",
        "--images-per-class", "3", "--batches-per-epoch", "2", "--device", "cpu", "--workers", "0",
        "--loss", "triplet", "--sampling", "semihard", "--head-init", "pca", "--head-shrinkage", "0.6",
        "--json", "-q",
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and summary["epochs_completed"] == 1
    saved = read_info(out)["settings"]
    assert (saved["loss"], saved["head_init"], saved["head_shrinkage"]) == ("triplet", "pca", 0.6)

    assert main(["evaluate", str(gratings), "--model", str(out), "--json"]) == 0
    printed = capsys.readouterr().out
    payload = json.loads(printed)
    assert list(payload) == EVALUATE_KEYS
    assert (payload["classes"], payload["images"]) == (16, 160)
    assert all(0.0 <= payload[k] <= 1.0 for k in EVALUATE_KEYS[:5])
    assert payload["recall@1"] <= payload["recall@2"] <= payload["recall@4"] <= payload["recall@8"]

    module_run = subprocess.run(
        [sys.executable, "-m", "trainer", "evaluate", str(gratings), "--model", str(out), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert module_run.returncode == 0, module_run.stderr
    assert json.loads(module_run.stdout) == payload


def test_cli_bad_input_exits_2_with_one_line(gratings, tmp_path, capsys):
    one_class = tmp_path / "one"
    write_labelled_gratings(one_class, classes=1, per_class=3, size=32)
    pickled = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2)}, pickled)
    disguised = tmp_path / "disguised.safetensors"
    disguised.write_bytes(pickled.read_bytes())
    cases = [
        (["train", str(tmp_path / "missing")], "not a folder"),
        (["train", str(gratings), "--out", str(tmp_path / "model.pt")], ".safetensors"),
        (
            ["train", str(gratings), "--out", str(tmp_path / "m.safetensors"), "--resume", str(pickled)],
            "safetensors",
        ),
        (["evaluate", str(one_class), "--model", "efficientnet-lite0"], "at least 2"),
        (["evaluate", str(gratings), "--model", str(pickled)], "pickle"),
        (["evaluate", str(gratings), "--model", str(disguised)], "pickle"),
        (["evaluate", str(gratings), "--model", "no-such-backbone"], "unknown backbone"),
    ]
    for argv, reason in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("lookalike: error:") and "\n" not in err, err
        assert reason in err, (argv, err)
    with pytest.raises(SystemExit) as usage:
        main(["train", str(gratings), "--loss", "nonsense"])
    assert usage.value.code == 2
