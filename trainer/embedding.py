"""Embed a labelled image set with a frozen network: batched, without autograd."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from .data import ImageDataset, LabelledImages
from .devices import autocast, autocast_dtype
from .model import EmbeddingNet
from .transforms import eval_transform


def embed_images(
    model: EmbeddingNet,
    images: LabelledImages,
    device: torch.device,
    batch_size: int = 64,
    workers: int = 0,
    pooled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(vectors, labels) on the CPU in float32; `pooled=True` gives backbone features before the head."""
    dataset = ImageDataset(images, eval_transform(model.config), model.config.image_size)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    was_training = model.training
    model.eval()
    dtype = autocast_dtype(device)
    chunks, labels = [], []
    try:
        with torch.inference_mode():
            for batch, batch_labels in loader:
                batch = batch.to(device, non_blocking=True)
                if device.type == "cuda":
                    batch = batch.contiguous(memory_format=torch.channels_last)
                with autocast(device, dtype):
                    out = model.features(batch) if pooled else model(batch)
                chunks.append(out.float().cpu())
                labels.append(batch_labels)
    finally:
        model.train(was_training)
    return torch.cat(chunks), torch.cat(labels)
