"""Weight-space ensembling (WiSE-FT): the interpolation itself, and what the trainer keeps with it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

import trainer.train as train_module
from tests.labelled_gratings import write_labelled_gratings
from tests.tiny_training import tiny
from trainer.checkpoint import load_model
from trainer.cli import build_parser
from trainer.embedding import embed_images
from trainer.evaluation import retrieval_metrics
from trainer.model import ModelConfig, build_model
from trainer.train import load_data, train
from trainer.train_state import load_train_state, save_train_state
from trainer.weight_ensemble import ensembled, interpolate_state, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_pair():
    """Two networks of the same shape with different weights (a start and a 'trained' one)."""
    config = ModelConfig(backbone="mobilenet_v3_small", embedding_dim=8, image_size=32, pretrained=False)
    return build_model(config, seed=1).eval(), build_model(config, seed=2).eval()


def test_interpolation_is_the_start_at_0_the_trained_at_1_and_the_mean_at_half():
    start = {"w": torch.tensor([1.0, -2.0, 4.0]), "n": torch.tensor(3)}
    trained = {"w": torch.tensor([3.0, 2.0, 4.5]), "n": torch.tensor(9)}
    assert torch.equal(interpolate_state(start, trained, 0.0)["w"], start["w"])
    assert torch.equal(interpolate_state(start, trained, 1.0)["w"], trained["w"])
    assert interpolate_state(start, trained, 0.5)["w"].tolist() == [2.0, 0.0, 4.25]
    assert interpolate_state(start, trained, 0.25)["w"].tolist() == [1.5, -1.0, 4.125]
    assert interpolate_state(start, trained, 0.5)["n"].item() == 9  # counters are not averaged
    with pytest.raises(ValueError, match="different entries"):
        interpolate_state(start, {"w": trained["w"]}, 0.5)


def test_ensembled_network_reproduces_either_end_and_the_hand_averaged_weights():
    start_net, trained_net = small_pair()
    start = snapshot(start_net)
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ensembled(trained_net, start, 0.0)(images), start_net(images))
        assert torch.equal(ensembled(trained_net, start, 1.0)(images), trained_net(images))
        by_hand = copy.deepcopy(trained_net)
        trained_state = trained_net.state_dict()
        averaged = {}
        for name, value in trained_state.items():  # the slow obvious version, entry by entry
            if value.is_floating_point():
                averaged[name] = (start[name].double() + trained_state[name].double()).div(2).float()
            else:
                averaged[name] = value
        by_hand.load_state_dict(averaged)
        mixed = ensembled(trained_net, start, 0.5)(images)
        assert torch.allclose(mixed, by_hand(images), atol=1e-6)
        assert not torch.allclose(mixed, trained_net(images), atol=1e-3)
    for name, value in trained_net.state_dict().items():  # the trained network is left as it was
        assert torch.equal(value, trained_state[name]), name


@pytest.fixture(scope="module")
def gratings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gratings")
    write_labelled_gratings(root, classes=8, per_class=8, size=32)
    return root


def test_trainer_validates_and_saves_the_ensemble(gratings, tmp_path, monkeypatch):
    scores = iter(range(100))
    real_validate = train_module._Run.validate
    seen: list[dict[str, float]] = []

    def validate_then_rank_later_epochs_higher(self, model=None):
        metrics = real_validate(self, model)
        seen.append(metrics)
        rank = float(next(scores))  # every epoch beats the last, so the last one is saved
        return {**metrics, "map@r": rank, "recall@1": rank}

    monkeypatch.setattr(train_module._Run, "validate", validate_then_rank_later_epochs_higher)
    settings = tiny(gratings, tmp_path / "m.safetensors", epochs=2, ensemble_alpha=0.5, pooled_start=False)
    result = train(settings)
    assert result.best_epoch == 2
    state = load_train_state(result.state)
    expected = interpolate_state(state["start_model"], state["model"], 0.5)
    saved = load_model(str(result.out)).state_dict()
    assert saved.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.allclose(saved[name], value, atol=0, rtol=0), name
    assert any(not torch.equal(state["model"][n], saved[n]) for n in saved if saved[n].is_floating_point())

    # what the last epoch reported (the "after" of the payoff) is the saved ensemble's retrieval
    kept = load_model(str(result.out))
    vectors, labels = embed_images(kept, load_data(settings).val, torch.device("cpu"), 64, 0)
    measured = {k: float(v) for k, v in retrieval_metrics(vectors, labels).items()}
    assert seen[-1] == pytest.approx(measured, abs=1e-6)


def test_training_itself_does_not_depend_on_alpha_and_resume_keeps_the_start(gratings, tmp_path):
    plain = train(tiny(gratings, tmp_path / "a.safetensors", ensemble_alpha=1.0))
    mixed = train(tiny(gratings, tmp_path / "b.safetensors", ensemble_alpha=0.3))
    plain_state, mixed_state = load_train_state(plain.state), load_train_state(mixed.state)
    for name, value in plain_state["model"].items():  # α only chooses what is validated and kept
        assert torch.equal(value, mixed_state["model"][name]), name
        assert torch.equal(plain_state["start_model"][name], mixed_state["start_model"][name]), name
    assert plain.history[0].metrics == mixed.history[0].metrics  # epoch 0 is the start either way

    out = tmp_path / "parts" / "m.safetensors"
    finished: list[int] = []
    first = train(
        tiny(gratings, out, ensemble_alpha=0.3),
        on_epoch=lambda r: r.epoch == 1 and finished.append(1),
        should_stop=lambda: bool(finished),
    )
    assert first.cancelled and first.epochs_completed == 1
    resumed = train(tiny(gratings, out, ensemble_alpha=0.3, resume=str(out)))
    assert [h.metrics for h in resumed.history] == [h.metrics for h in mixed.history]


def test_cli_flag_is_parsed_and_bounded(capsys):
    parser = build_parser()
    assert parser.parse_args(["train", "f", "--ensemble-alpha", "0.4"]).ensemble_alpha == 0.4
    assert parser.parse_args(["train", "f"]).ensemble_alpha == train_module.TrainSettings("f").ensemble_alpha
    for bad in ("1.5", "-0.1", "half"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["train", "f", "--ensemble-alpha", bad])
        assert exit_info.value.code == 2
    assert "--ensemble-alpha" in capsys.readouterr().err
    with pytest.raises(ValueError, match="ensemble alpha must be from 0 to 1"):
        train_module.check_settings(train_module.TrainSettings("f", out="m.safetensors", ensemble_alpha=2.0))


def test_resuming_a_state_without_start_weights_needs_alpha_1(gratings, tmp_path):
    out = tmp_path / "m.safetensors"
    result = train(tiny(gratings, out, epochs=1, ensemble_alpha=1.0))
    state = load_train_state(result.state)
    del state["start_model"]  # as written before weight ensembling existed
    save_train_state(result.state, state)
    with pytest.raises(ValueError, match="--ensemble-alpha 1"):
        train(tiny(gratings, out, epochs=2, ensemble_alpha=0.5, resume=str(out)))
    resumed = train(tiny(gratings, out, epochs=2, ensemble_alpha=1.0, resume=str(out)))
    assert resumed.epochs_completed == 2
