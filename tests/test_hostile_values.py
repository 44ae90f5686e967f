"""Hostile numbers: NaN or collapsed models, metrics scaled out of float32, NaN options, sizes
declared in the tens of GB, and exact copies that must sit at distance exactly 0."""

from __future__ import annotations

import json
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from foundation.errors import CheckpointError
from retrieval_app.cli.main import build_parser as lookalike_parser
from retrieval_app.cli.main import main
from retrieval_app.core.embedder import NOT_FINITE, Embedder, ModelOutputError
from retrieval_app.core.vector_index import ExactIndex, HnswIndex
from tests.imagegen import write_collection
from tests.vectors import unit_vectors
from trainer.checkpoint import CONFIG_KEY, FORMAT_KEY, load_checkpoint, read_config, save_checkpoint
from trainer.cli import build_parser as trainer_parser
from trainer.linear_metric import MetricFileError, load_metric, save_metric
from trainer.model import ModelConfig, build_model
from trainer.options import MAX_EMBEDDING_DIM, MAX_IMAGE_SIZE


def tiny_network() -> torch.nn.Module:
    return build_model(ModelConfig(backbone="efficientnet-lite0", embedding_dim=32, image_size=64))


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line on stderr (a notice such as "created a new library" may precede it)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("lookalike: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# -- models that yield unusable vectors ------------------------------------------------------
def test_checkpoint_with_nan_weights_is_refused(tmp_path, capsys):
    network = tiny_network()
    with torch.no_grad():
        network.head.weight.fill_(float("nan"))
    checkpoint = save_checkpoint(tmp_path / "nan.safetensors", network)
    with pytest.raises(ModelOutputError, match="NaN"):
        Embedder(str(checkpoint), device="cpu")
    photos = tmp_path / "photos"
    write_collection(photos, originals=2)
    library = tmp_path / "lib"
    assert main(["--library", str(library), "index", str(photos), "--model", str(checkpoint), "-q"]) == 2
    assert "NaN" in one_error_line(capsys)


def test_collapsed_model_is_refused(tmp_path):
    network = tiny_network()
    with torch.no_grad():  # every image goes to the same point: the bias alone
        network.head.weight.zero_()
        network.head.bias.fill_(0.5)
    checkpoint = save_checkpoint(tmp_path / "flat.safetensors", network)
    with pytest.raises(ModelOutputError, match="same vector"):
        Embedder(str(checkpoint), device="cpu")


def test_a_non_finite_vector_is_never_stored(tiny_checkpoint, tmp_path):
    photos = write_collection(tmp_path / "photos", originals=3, variants=())
    embedder = Embedder(str(tiny_checkpoint), device="cpu")
    healthy = embedder.model

    def second_row_nan(batch: torch.Tensor) -> torch.Tensor:
        out = healthy(batch).clone()
        out[1] = float("nan")
        return out

    embedder.model = second_row_nan
    items = [(i, str(paths[0])) for i, paths in enumerate(photos.values())]
    (batch,) = list(embedder.embed_files(items))
    assert sorted(batch.vectors) == [0, 2] and batch.failures == {1: NOT_FINITE}
    assert all(np.isfinite(v).all() for v in batch.vectors.values())
    embedder.model = lambda batch: torch.full((len(batch), 32), float("nan"))
    with pytest.raises(ModelOutputError, match="NaN"):  # a query is refused, not searched with
        embedder.embed_file(items[0][1])


# -- learned metrics scaled out of float32 -----------------------------------------------------
def write_npz(path: Path, matrix: np.ndarray) -> Path:
    with open(path, "wb") as handle:  # as a hostile or buggy tool would, bypassing save_metric
        np.savez(handle, matrix=matrix, info=np.array(json.dumps({"method": "test"})))
    return path


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_metric_scaled_out_of_float32_is_refused(tmp_path, scale):
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(8, 8))
    good = factor @ factor.T + np.eye(8)
    assert load_metric(write_npz(tmp_path / "good.npz", good))[0].shape == (8, 8)
    with pytest.raises(MetricFileError, match="overflow or be 0"):
        load_metric(write_npz(tmp_path / "scaled.npz", good * scale))
    with pytest.raises(MetricFileError, match="overflow or be 0"):
        save_metric(tmp_path / "never.npz", good * scale, {"method": "test"})
    assert not (tmp_path / "never.npz").exists()


def test_use_metric_scaled_by_1e300_is_one_line(tmp_path, tiny_checkpoint, capsys):
    factor = np.random.default_rng(1).normal(size=(32, 32))
    metric = write_npz(tmp_path / "huge.npz", (factor @ factor.T + np.eye(32)) * 1e300)
    library = str(tmp_path / "lib")
    assert main(["--library", library, "index", "--model", str(tiny_checkpoint), "-q"]) == 0
    capsys.readouterr()
    assert main(["--library", library, "use-metric", str(metric)]) == 2
    assert "overflow" in one_error_line(capsys)


# -- options ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "-1", "-inf"])
def test_search_max_distance_must_be_a_number_at_least_0(tmp_path, capsys, value):
    photos = write_collection(tmp_path / "photos", originals=1, variants=())
    query = str(photos["scene00"][0])
    code = main(["--library", str(tmp_path / "lib"), "search", query, f"--max-distance={value}"])
    assert code == 2
    assert "--max-distance" in one_error_line(capsys)
    assert not (tmp_path / "lib").exists()  # refused before the library is even opened


@pytest.mark.parametrize("parser", [lookalike_parser, trainer_parser])
@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("size", ["100000", "0", "31"])
def test_image_size_out_of_range_is_a_usage_error(tmp_path, capsys, parser, command, size):
    with pytest.raises(SystemExit) as stopped:  # argparse: before any model or image is touched
        parser().parse_args([command, str(tmp_path), "--image-size", size])
    assert stopped.value.code == 2
    assert f"{MAX_IMAGE_SIZE} pixels" in capsys.readouterr().err
    assert parser().parse_args([command, str(tmp_path), "--image-size", "224"]).image_size == 224


# -- sizes declared in files -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"), [("embedding_dim", 10**9), ("embedding_dim", 2.5), ("image_size", 100_000)]
)
def test_checkpoint_declaring_huge_sizes_is_refused_before_building(tmp_path, key, value):
    network = tiny_network()
    config = {**json.loads(network.config.to_json()), key: value}
    path = tmp_path / "huge.safetensors"
    state = {k: v.contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(path), metadata={CONFIG_KEY: json.dumps(config), FORMAT_KEY: "1"})
    with pytest.raises(CheckpointError, match=key):
        read_config(path)
    with pytest.raises(CheckpointError, match=key):
        load_checkpoint(path)


def test_largest_allowed_embedding_dim_still_loads(tmp_path):
    config = ModelConfig(backbone="efficientnet-lite0", embedding_dim=MAX_EMBEDDING_DIM, image_size=64)
    path = save_checkpoint(tmp_path / "wide.safetensors", build_model(config))
    assert read_config(path).embedding_dim == MAX_EMBEDDING_DIM


def npz_declaring(path: Path, shape: tuple[int, ...], payload: bytes = b"") -> Path:
    """An npz whose matrix.npy header declares `shape` (float64) but holds only `payload`."""
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("matrix.npy", header.getvalue() + payload)
    return path


def test_metric_declaring_a_huge_matrix_is_refused_without_allocating(tmp_path):
    path = npz_declaring(tmp_path / "huge.npz", (100_000, 100_000))
    assert path.stat().st_size < 1000
    tracemalloc.start()
    try:
        with pytest.raises(MetricFileError, match="at most"):
            load_metric(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # numpy reports its allocations to tracemalloc: nothing near 80 GB


def test_metric_shorter_than_its_header_is_refused(tmp_path):
    path = npz_declaring(tmp_path / "cut.npz", (8, 8), payload=np.eye(8).tobytes()[:100])
    with pytest.raises(MetricFileError, match="shorter than its header"):
        load_metric(path)


# -- exact copies at distance exactly 0 -------------------------------------------------------
@pytest.mark.parametrize("index_type", [ExactIndex, HnswIndex])
def test_identical_vectors_are_at_distance_exactly_0(index_type):
    rng = np.random.default_rng(3)
    data = unit_vectors(rng, 300, 1280)  # 1280-d like the pooled default model
    index = index_type(1280)
    index.add(np.arange(300), data)
    ids, distances = index.query(data[:60], 2)
    assert (ids[:, 0] == np.arange(60)).all()
    assert (distances[:, 0] == 0.0).all(), distances[:, 0].max()


def test_exact_index_matches_float64_brute_force():
    rng = np.random.default_rng(4)
    data = unit_vectors(rng, 500, 64) * rng.uniform(0.5, 3.0, (500, 1))
    queries = np.concatenate([data[:10], unit_vectors(rng, 30, 64)])
    index = ExactIndex(64)
    index.add(np.arange(1000, 1500), data)
    truth = np.sqrt(((queries[:, None, :].astype(np.float64) - data[None].astype(np.float64)) ** 2).sum(-1))
    order = np.argsort(truth, axis=1, kind="stable")
    for k in (1, 7, 500):
        ids, distances = index.query(queries, k)
        assert (ids == order[:, :k] + 1000).all()
        np.testing.assert_allclose(distances, np.take_along_axis(truth, order[:, :k], axis=1), atol=1e-6)


def test_byte_identical_images_group_and_search_at_distance_0(tmp_path, capsys):
    photos = tmp_path / "photos"
    sets = write_collection(photos, originals=3, variants=("resized",))
    original = sets["scene01"][0]
    shutil.copy(original, photos / "copy.jpg")
    library = str(tmp_path / "lib")
    # the pooled default model (1280-d), small input: where float32 cancellation showed 0.0005
    index = ["index", str(photos), "--model", "efficientnet-lite0", "--image-size", "64", "-q"]
    assert main(["--library", library, *index]) == 0
    capsys.readouterr()
    assert main(["--library", library, "groups", "--max-distance", "0", "--json", "-q"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert [sorted(m["path"] for m in g["members"]) for g in groups] == [
        sorted([str(original), str(photos / "copy.jpg")])
    ]
    assert all(m["distance_to_representative"] == 0.0 for m in groups[0]["members"])
    assert (
        main(["--library", library, "search", str(photos / "copy.jpg"), "--max-distance", "0", "--json"]) == 0
    )
    results = json.loads(capsys.readouterr().out)["results"]
    assert [(r["path"], r["distance"]) for r in results] == [(str(original), 0.0)]
