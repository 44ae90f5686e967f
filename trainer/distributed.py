"""Data-parallel training under `torchrun --nproc-per-node N`.

Each process embeds its own P x K batch; embeddings and labels are gathered so that mining
and the loss see the global batch, with gradients flowing back to each process's own part.
Only rank 0 writes checkpoints and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from foundation.devices import resolve_device
from foundation.errors import InputError


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job; a single process is rank 0 of a world of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when torchrun (or another launcher) set up a multi-process environment."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_name: str = "auto") -> tuple[DistContext, torch.device]:
    """Join the process group from torchrun's environment (nccl on CUDA, gloo on CPU)."""
    device = resolve_device(device_name)
    if not launched_by_torchrun():
        return DistContext(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise InputError("multi-process training needs CUDA or the CPU, not MPS")
    initialised_here = not dist.is_initialized()
    if initialised_here:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    context = DistContext(dist.get_rank(), dist.get_world_size(), local_rank, initialised_here)
    return context, device


def teardown(context: DistContext) -> None:
    """Leave the process group if `setup` created it."""
    if context.initialised_here and dist.is_initialized():
        dist.destroy_process_group()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every process's gradient for this process's slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rank, ctx.size = dist.get_rank(), tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.size : (ctx.rank + 1) * ctx.size]


def gather_embeddings(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch, identical on every rank; gradients reach the local embeddings.

    Every rank computes the same loss on the global batch; the backward all-reduce gives each
    rank the full gradient of its slice, and DDP's averaging of parameter gradients then yields
    the gradient of that one loss, as if one process had embedded the whole global batch.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return embeddings, labels
    gathered = _GatherWithGrad.apply(embeddings)
    label_parts = [torch.empty_like(labels) for _ in range(dist.get_world_size())]
    dist.all_gather(label_parts, labels.contiguous())
    return gathered, torch.cat(label_parts)


def any_rank(flag: bool, context: DistContext, device: torch.device) -> bool:
    """True on every rank when `flag` is true on at least one (e.g. a stop request)."""
    if not context.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(context: DistContext) -> None:
    """Wait for every rank (a no-op for one process)."""
    if context.enabled:
        dist.barrier()
