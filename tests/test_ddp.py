"""Data-parallel training: the gathered batch gives the one-process gradient; torchrun end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.labelled_gratings import write_labelled_gratings
from trainer.checkpoint import load_model, read_info
from trainer.distributed import gather_embeddings
from trainer.losses import make_loss
from trainer.miners import make_miner

pytestmark = pytest.mark.slow

WORLD = 2
LOCAL = 6  # embeddings per rank
ROOT = Path(__file__).resolve().parent.parent


def _global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(WORLD * LOCAL, 5, generator=generator)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])[
        torch.randperm(WORLD * LOCAL, generator=generator)
    ]
    return inputs, labels


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(5, 4)


def _loss_of(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    embeddings = torch.nn.functional.normalize(embeddings, dim=1)
    triplets = make_miner("hardest")(embeddings.detach(), labels)
    loss = make_loss("triplet")(embeddings, labels, triplets).loss
    return loss, torch.stack([triplets.anchor, triplets.positive, triplets.negative])


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        inputs, labels = _global_batch()
        local = slice(rank * LOCAL, (rank + 1) * LOCAL)
        model = torch.nn.parallel.DistributedDataParallel(_net())
        embeddings, gathered_labels = gather_embeddings(model(inputs[local]), labels[local])
        loss, triplets = _loss_of(embeddings, gathered_labels)
        loss.backward()
        np.savez(
            Path(out_dir) / f"rank{rank}.npz",
            gathered_labels=gathered_labels.numpy(),
            triplets=triplets.numpy(),
            loss=loss.detach().numpy(),
            grad=model.module.weight.grad.numpy(),
        )
        dist.barrier()  # leave together: gloo aborts a rank whose peer tears down mid-exchange
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gathered_batch_gives_single_process_mining_and_gradient(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    inputs, labels = _global_batch()
    reference_model = _net()
    reference_loss, reference_triplets = _loss_of(reference_model(inputs), labels)
    reference_loss.backward()
    for rank in range(WORLD):
        result = np.load(tmp_path / f"rank{rank}.npz", allow_pickle=False)
        np.testing.assert_array_equal(result["gathered_labels"], labels.numpy())
        # mining saw the whole global batch: same triplets as one process, reaching other ranks' items
        np.testing.assert_array_equal(result["triplets"], reference_triplets.numpy())
        other = np.arange(WORLD * LOCAL)[np.arange(WORLD * LOCAL) // LOCAL != rank]
        assert np.isin(result["triplets"], other).any()
        np.testing.assert_allclose(result["loss"], reference_loss.item(), rtol=1e-5)
        # DDP's averaged gradient equals the gradient of the global-batch loss
        np.testing.assert_allclose(result["grad"], reference_model.weight.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_torchrun_two_processes_write_one_checkpoint(tmp_path):
    write_labelled_gratings(tmp_path / "data", classes=8, per_class=6, size=40)
    out = tmp_path / "run" / "model.safetensors"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD),
        "-m", "trainer", "train", str(tmp_path / "data"), "--out", str(out),
        "--backbone", "mobilenet_v3_small", "--no-pretrained", "--embedding-dim", "16", "--image-size", "32",
        "--epochs", "2", "--classes-per-batch", "2", "--images-per-class", "3", "--batches-per-epoch", "2",
        "--device", "cpu", "--workers", "0", "--json", "-q",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # torchrun and both workers
        process.communicate()
        pytest.fail("torchrun training did not finish in 240 s")
    assert process.returncode == 0, stderr[-3000:]
    printed = [line for line in stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1  # only rank 0 prints
    summary = json.loads(printed[0])
    assert summary["epochs_completed"] == 2 and not summary["cancelled"]
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "model.json",
        "model.safetensors",
        "model.state.safetensors",
    ]
    info = read_info(out)
    assert info["data"]["world_size"] == WORLD
    assert info["data"]["global_batch"] == WORLD * 2 * 3
    assert [entry["epoch"] for entry in info["history"]][0] == 0
    model = load_model(str(out))
    assert model.config.embedding_dim == 16
