"""Trainer building blocks: labelled-folder scanning, class split, decoding, head start, state, schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from foundation.errors import CheckpointError
from trainer.backbones import BACKBONES, backbone_spec
from trainer.data import scan_labelled_folder, split_by_class
from trainer.evaluation import retrieval_metrics
from trainer.head_init import init_head
from trainer.model import ModelConfig, build_model
from trainer.optim import warmup_cosine
from trainer.options import TrainSettings
from trainer.train import check_settings
from trainer.train_state import load_train_state, save_train_state
from trainer.transforms import train_transform


def _png(path, colour=(200, 30, 30), size=(24, 24)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_scan_reports_unreadable_files_and_small_classes(tmp_path):
    for name in (
        "a/1.png",
        "a/2.png",
        "a/3.PNG",
        "b/1.png",
        "b/2.png",
        "c/only.png",
        "d/e/1.png",
        "d/e/2.png",
    ):
        _png(tmp_path / name)
    (tmp_path / "a" / "text.jpg").write_text("not an image")
    good = tmp_path / "b" / "full.jpg"
    Image.new("RGB", (64, 64), (10, 120, 10)).save(good, quality=90)
    (tmp_path / "b" / "truncated.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _png(tmp_path / "loose.png")
    (tmp_path / "a" / "notes.txt").write_text("ignored: not an image extension")

    scanned = scan_labelled_folder(tmp_path)

    assert scanned.classes == ["a", "b", "d/e"]
    assert scanned.small_classes == ["c"]
    assert [scanned.classes[label] for label in scanned.labels] == ["a"] * 3 + ["b"] * 3 + ["d/e"] * 2
    reasons = {path.name: reason for path, reason in scanned.skipped}
    assert set(reasons) == {"text.jpg", "truncated.jpg", "loose.png"}
    assert "not an image" in reasons["text.jpg"]
    assert "corrupt" in reasons["truncated.jpg"]
    assert "sub-folder" in reasons["loose.png"]
    assert "3 unreadable files skipped" in scanned.summary()


def test_scan_without_classes_is_a_clear_error(tmp_path):
    _png(tmp_path / "lonely" / "1.png")
    with pytest.raises(ValueError, match="no classes"):
        scan_labelled_folder(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        scan_labelled_folder(tmp_path / "missing")


def test_split_by_class_is_disjoint_seeded_and_relabelled(tmp_path):
    for c in range(10):
        for i in range(2 + c % 3):
            _png(tmp_path / f"class{c}" / f"{i}.png")
    scanned = scan_labelled_folder(tmp_path)
    train, val = split_by_class(scanned, fraction=0.6, seed=1)
    assert len(train.classes) == 6 and len(val.classes) == 4
    assert set(train.classes).isdisjoint(val.classes)
    assert sorted(train.classes + val.classes) == scanned.classes
    for part in (train, val):
        for path, label in zip(part.paths, part.labels, strict=True):
            assert path.parent.name == part.classes[label]
    assert len(train) + len(val) == len(scanned)
    again, _ = split_by_class(scanned, fraction=0.6, seed=1)
    assert again.classes == train.classes
    others = {tuple(split_by_class(scanned, fraction=0.6, seed=s)[0].classes) for s in range(2, 8)}
    assert len(others) > 1
    with pytest.raises(ValueError, match="too few"):
        split_by_class(scanned.subset(scanned.classes[:3]), fraction=0.5)


def _pairwise(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)


def test_pca_head_keeps_the_geometry_of_centred_features():
    model = build_model(ModelConfig(backbone="mobilenet_v3_small", embedding_dim=8, pretrained=False))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 576)) @ rng.normal(size=(576, 576)) * 0.1 + 3.0

    init_head(model, torch.tensor(features, dtype=torch.float32))
    projected = model.head(torch.tensor(features, dtype=torch.float32)).detach().numpy()

    centred = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ vt[:8].T  # PCA by the textbook; signs of axes may differ
    np.testing.assert_allclose(_pairwise(projected), _pairwise(reference), rtol=1e-3, atol=1e-3)


def test_pca_head_with_few_images_reproduces_cosine_retrieval_of_features():
    model = build_model(ModelConfig(backbone="mobilenet_v3_small", embedding_dim=16, pretrained=False))
    features = torch.randn(6, 576, generator=torch.Generator().manual_seed(1)) + 2.0

    init_head(model, features)
    out = torch.nn.functional.normalize(model.head(features), dim=1).detach().numpy()

    centred = (features - features.mean(dim=0)).numpy()
    reference = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    np.testing.assert_allclose(_pairwise(out), _pairwise(reference), atol=1e-3)
    assert np.abs(model.head.weight[5:].detach().numpy()).max() < 1e-2  # spare rows: tiny but not zero
    assert np.abs(model.head.weight[5:].detach().numpy()).max() > 0


def _labelled_features(seed: int, classes: int = 6, per_class: int = 10, dim: int = 40) -> tuple:
    """Class means plus within-class noise with three dominant nuisance directions, as float64
    features of mobilenet_v3_small's width (576; the rest zero) and their labels."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    noise = rng.normal(size=(len(labels), dim)) * 0.5
    noise[:, :3] *= 12.0  # vary within every class far more than the classes differ
    features = np.zeros((len(labels), 576))
    features[:, :dim] = means[labels] + noise + 5.0
    return torch.tensor(features), torch.tensor(labels)


def _textbook_pca(features: torch.Tensor, axes: int) -> torch.Tensor:
    """Centred float64 features on their top principal axes, by SVD."""
    centred = features.double() - features.double().mean(dim=0)
    return centred @ torch.linalg.svd(centred, full_matrices=False)[2][:axes].T


def test_lda_head_distances_are_mahalanobis_under_scikit_learns_shrunk_within_class_covariance():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    features, labels = _labelled_features(0)
    model = build_model(ModelConfig(backbone="mobilenet_v3_small", embedding_dim=8, pretrained=False))
    init_head(model, features, labels, shrinkage=0.3)
    projected = model.head(features.float()).detach().double().numpy()

    pca = _textbook_pca(features, 8).numpy()  # the PCA head's output, by the textbook
    labels = labels.numpy()
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.3).fit(pca, labels)
    inverse = np.linalg.inv(lda.covariance_)  # priors-weighted shrunk class covariances
    differences = pca[:, None, :] - pca[None, :, :]
    reference = np.sqrt(np.einsum("ijk,kl,ijl->ij", differences, inverse, differences))
    ours = _pairwise(projected)
    scale = ours.sum() / reference.sum()
    np.testing.assert_allclose(ours, scale * reference, rtol=1e-3, atol=1e-4)
    # the same total variance as the PCA head, so the head's learning rate means the same step
    np.testing.assert_allclose((projected - projected.mean(0)).var(0).sum(), pca.var(0).sum(), rtol=1e-3)


def test_lda_head_retrieves_classes_a_dominant_nuisance_hides_from_the_pca_head():
    features, labels = _labelled_features(1)
    recalls = {}
    for name, given in (("pca", None), ("lda", labels)):
        model = build_model(ModelConfig(backbone="mobilenet_v3_small", embedding_dim=16, pretrained=False))
        init_head(model, features, given, shrinkage=0.3)
        vectors = model.head(features.float()).detach()
        recalls[name] = float(retrieval_metrics(vectors, labels)["recall@1"])
    assert recalls["pca"] < 0.8 and recalls["lda"] > 0.95, recalls


def test_lda_head_with_fewer_images_than_outputs_whitens_what_they_span_and_fills_the_rest():
    features = torch.randn(9, 576, generator=torch.Generator().manual_seed(3)) + 1.0
    labels = torch.tensor([4, 4, 4, 7, 7, 7, 9, 9, 9])  # any label values; 6 within-class dof < 8 axes
    model = build_model(ModelConfig(backbone="mobilenet_v3_small", embedding_dim=16, pretrained=False))
    init_head(model, features, labels, shrinkage=0.3)
    weight = model.head.weight.detach()
    assert torch.isfinite(weight).all() and torch.isfinite(model.head.bias.detach()).all()
    assert weight[8:].abs().max() < 1e-2 < weight[:8].abs().max()  # 8 axes span 9 images; the rest fill
    pca = _textbook_pca(features, 8)
    out = model.head(features).detach()[:, :8].double()
    turn = torch.linalg.lstsq(pca, out - out.mean(dim=0)).solution  # out = pca @ turn (+ constant)
    index = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    within = pca - torch.stack([pca[index == c].mean(dim=0) for c in range(3)])[index]
    scatter = within.T @ within / 9
    shrunk = 0.7 * scatter + 0.3 * scatter.trace() / 8 * torch.eye(8, dtype=torch.float64)
    variances = torch.linalg.eigvalsh(turn.T @ shrunk @ turn)  # whitened: a multiple of I
    assert variances.max() / variances.min() < 1.01


def test_lda_head_without_within_class_variation_is_the_pca_head():
    features = torch.randn(6, 576, generator=torch.Generator().manual_seed(2))
    heads = []
    for given in (None, torch.arange(6)):  # one image per class: nothing to whiten
        model = build_model(ModelConfig(backbone="mobilenet_v3_small", embedding_dim=4, pretrained=False))
        init_head(model, features, given)
        heads.append(model.head.weight.detach().clone())
    torch.testing.assert_close(heads[0], heads[1])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("head_init", "random", "unknown head start"),
        ("head_shrinkage", 1.5, "head shrinkage"),
        ("head_shrinkage", 0.0, "head shrinkage"),
    ],
)
def test_head_start_settings_are_checked(field, value, reason):
    with pytest.raises(ValueError, match=reason):
        check_settings(TrainSettings(folder="x", **{field: value}))


def test_warmup_then_cosine_schedule():
    factor = warmup_cosine(total_steps=100, warmup_steps=10)
    values = [factor(step) for step in range(100)]
    assert values[10] == 1.0
    assert all(a < b for a, b in zip(values[:10], values[1:11], strict=True))
    assert all(a >= b for a, b in zip(values[10:], values[11:], strict=False))
    assert 0 < values[0] <= 0.1 and values[-1] < 0.01
    assert math.isclose(values[55], 0.5, abs_tol=1e-9)  # half-way through the cosine part


def test_train_state_round_trip_restores_optimizer_scheduler_and_rng(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(
        [
            {"name": "a", "params": model[0].parameters(), "lr": 0.01},
            {"name": "b", "params": model[1].parameters(), "lr": 0.1, "weight_decay": 0.0},
        ]
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(20, 5))
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).sum().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    state = {
        "epoch": 3,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"cpu": torch.get_rng_state()},
        "history": [{"epoch": 0, "loss": None, "metrics": {"recall@1": 0.5}}],
    }
    path = save_train_state(tmp_path / "run.state.safetensors", state)

    loaded = load_train_state(path)
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    fresh.load_state_dict(loaded["model"])
    fresh_optimizer = torch.optim.AdamW(
        [{"params": fresh[0].parameters()}, {"params": fresh[1].parameters()}], lr=1.0
    )
    fresh_scheduler = torch.optim.lr_scheduler.LambdaLR(fresh_optimizer, warmup_cosine(20, 5))
    fresh_optimizer.load_state_dict(loaded["optimizer"])  # in this order, as training does
    fresh_scheduler.load_state_dict(loaded["scheduler"])

    assert loaded["epoch"] == 3 and loaded["history"] == state["history"]
    assert torch.equal(loaded["rng"]["cpu"], state["rng"]["cpu"])
    assert [g["lr"] for g in fresh_optimizer.param_groups] == [g["lr"] for g in optimizer.param_groups]
    assert fresh_optimizer.param_groups[0]["betas"] == optimizer.param_groups[0]["betas"]
    assert fresh_optimizer.param_groups[1]["name"] == "b"
    for key, value in optimizer.state_dict()["state"].items():
        for name, tensor in value.items():
            assert torch.equal(fresh_optimizer.state_dict()["state"][key][name], tensor)
    # continuing gives the same next update as the original
    batch = torch.randn(5, 4)
    for m, opt, sched in ((model, optimizer, scheduler), (fresh, fresh_optimizer, fresh_scheduler)):
        m(batch).pow(2).sum().backward()
        opt.step()
        sched.step()
    for a, b in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)


def test_train_state_refuses_pickles_and_foreign_files(tmp_path):
    pickled = tmp_path / "run.state.safetensors"
    torch.save({"model": torch.zeros(2)}, pickled)
    with pytest.raises(CheckpointError, match="not a safetensors training state"):
        load_train_state(pickled)
    with pytest.raises(CheckpointError, match="not found"):
        load_train_state(tmp_path / "missing.state.safetensors")


def test_train_transform_crop_scale_and_flip_are_settings():
    config = ModelConfig(image_size=32, pretrained=False)
    image = Image.new("RGB", (48, 40), (10, 200, 30))
    for flip in (True, False):
        transform = train_transform(config, min_scale=0.8, flip=flip)
        assert transform(image).shape == (3, 32, 32)
        assert any(isinstance(t, v2.RandomHorizontalFlip) for t in transform.transforms) == flip
    with pytest.raises(ValueError, match="crop scale"):
        check_settings(TrainSettings(folder="x", crop_scale=0.0))


def test_backbone_names_offered_without_torch_are_exactly_the_registry():
    from trainer.options import BACKBONE_NAMES

    assert sorted(BACKBONE_NAMES) == sorted(BACKBONES)


def test_head_warmup_holds_the_backbone_then_runs_its_own_schedule():
    from trainer.optim import group_schedules, warmup_cosine

    groups = [{"name": "backbone"}, {"name": "backbone-no-decay"}, {"name": "head"}, {"name": "loss"}]
    backbone, backbone_nd, head, loss = group_schedules(
        groups, total_steps=40, warmup_steps=4, head_only_steps=10
    )
    shared, later = warmup_cosine(40, 4), warmup_cosine(30, 4)
    for step in range(45):
        assert head(step) == loss(step) == shared(step)
        expected = 0.0 if step < 10 else later(step - 10)
        assert backbone(step) == backbone_nd(step) == expected
    assert backbone(10) > 0.0
    plain = group_schedules(groups, 40, 4, 0)
    assert all(f(step) == shared(step) for f in plain for step in range(45))


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_stem_is_every_layer_before_stride_8_and_nothing_after(name):
    """The stem ends where the stride-4 feature maps do: no stride-4 block is left out, none later is in."""
    spec = backbone_spec(name)
    backbone = spec.build(False).eval()
    stem_params = {id(p) for layer in spec.stem(backbone) for p in layer.parameters()}
    assert stem_params
    weighted: list[tuple[bool, int]] = []  # (in the stem, output height) of each conv / linear, as run

    def record(module, inputs, output):
        height = output.shape[1] if isinstance(module, torch.nn.Linear) else output.shape[2]  # NHWC / NCHW
        weighted.append((id(module.weight) in stem_params, height))

    hooks = [
        m.register_forward_hook(record)
        for m in backbone.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.weight is not None
    ]
    with torch.no_grad():
        backbone(torch.zeros(1, 3, 64, 64))
    for hook in hooks:
        hook.remove()
    in_stem = [inside for inside, _ in weighted]
    last = max(i for i, inside in enumerate(in_stem) if inside)
    assert all(in_stem[: last + 1]) and not any(in_stem[last + 1 :])  # a prefix of the network
    assert weighted[last][1] == 16  # its last layer computes stride-4 maps (64 px in)
    after = [height for _, height in weighted[last + 1 :]]
    # at most the next block's 1x1 expansion still runs at stride 4 before its stride-2 layer
    assert after.index(8) <= 1, after[:6]
