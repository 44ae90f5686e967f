"""Turn image files into vectors: decoding in a thread pool overlaps batched inference.

Pillow and torch release the GIL while they work, so decode threads and the inference thread
share the cores; torch's intra-op threads and the decode workers are sized together once so
they do not oversubscribe a small machine.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.fx.experimental.optimization import fuse

from foundation.devices import resolve_device
from foundation.errors import UserError
from foundation.images import ImageLoadError, load_image
from foundation.pixels import to_rgb
from trainer.checkpoint import load_model, model_fingerprint
from trainer.model import EmbeddingNet
from trainer.transforms import eval_transform

from .progress import CancelToken

DEFAULT_BATCH_SIZE = 16  # as fast as 32 on a CPU, ~200 MB less peak memory (PERFORMANCE.md)
PROBE_IMAGES = 4  # distinct synthetic images every model must tell apart before it is used
PROBE_SIZE = 64  # pixels: the networks pool globally, and at 64 px the probe costs ~0.1 s, not ~1 s
COLLAPSE_DISTANCE = 1e-3  # on the unit sphere (0 ... 2): probes all closer than this = one point
NOT_FINITE = "the model gave a vector with NaN or infinite values"


class ModelOutputError(UserError, ValueError):
    """The model yields vectors no search can use (NaN or infinite values, or one point for all)."""


@dataclass
class EmbeddedBatch:
    """One batch of results: vectors for the files that decoded, reasons for those that did not."""

    vectors: dict[int, np.ndarray]
    failures: dict[int, str]

    def __len__(self) -> int:
        return len(self.vectors) + len(self.failures)


def configure_threads(decode_workers: int | None = None) -> int:
    """Give torch the cores and return the decode pool size (set once per process)."""
    cores = os.cpu_count() or 1
    workers = decode_workers or max(1, min(4, cores))
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
    return workers


def fold_batchnorm(network: EmbeddingNet) -> nn.Module:
    """The same function with each BatchNorm folded into the convolution before it, one pass
    fewer over every feature map: about 1.4 x the images per second on a CPU (PERFORMANCE.md).
    A network torch.fx cannot trace is returned unchanged, since folding only saves time."""
    try:
        return fuse(network.eval(), inplace=True)
    except (
        ValueError,
        TypeError,
        AttributeError,
        RuntimeError,
        NotImplementedError,
    ):  # TraceError is a ValueError
        return network


class Embedder:
    """A loaded model plus the preprocessing it was trained with."""

    def __init__(
        self,
        spec: str,
        image_size: int | None = None,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        decode_workers: int | None = None,
    ) -> None:
        self.spec = spec
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.workers = configure_threads(decode_workers)
        network = load_model(spec, image_size=image_size)
        self.config = network.config
        self.fingerprint = model_fingerprint(spec, self.config)
        self.model = fold_batchnorm(network).to(self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self._transform = eval_transform(self.config)
        self._check_outputs()

    def _check_outputs(self) -> None:
        """Refuse a model whose vectors are not finite (NaN weights) or do not tell images apart."""
        small = eval_transform(dataclasses.replace(self.config, image_size=PROBE_SIZE))
        probes = torch.stack([small(image) for image in probe_images(PROBE_SIZE)])
        vectors = self.embed_tensors(probes).astype(np.float64)
        if not np.isfinite(vectors).all():
            raise ModelOutputError(f"{NOT_FINITE} (are its weights NaN?); it cannot be used")
        spread = np.sqrt(((vectors[:, None, :] - vectors[None, :, :]) ** 2).sum(axis=2)).max()
        if spread < COLLAPSE_DISTANCE:
            raise ModelOutputError(
                f"the model gives {PROBE_IMAGES} clearly different images the same vector "
                f"(all within {spread:.2g}); it cannot tell images apart"
            )

    @property
    def dim(self) -> int:
        return self.config.output_dim

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self._transform(image)

    def load_tensor(self, path: str) -> torch.Tensor:
        """Decode (draft mode, EXIF-rotated, RGB) and preprocess one file."""
        return self.preprocess(load_image(path, min_side=self.config.image_size))

    @torch.inference_mode()
    def embed_tensors(self, batch: torch.Tensor) -> np.ndarray:
        """Vectors for a batch of preprocessed images (the model alone, for benchmarks too)."""
        if self.device.type == "cuda":
            batch = batch.pin_memory()  # page-locked: the copy to the GPU runs at full speed
        batch = batch.to(self.device, non_blocking=True)
        if self.device.type == "cpu":
            batch = batch.contiguous(memory_format=torch.channels_last)
        return self.model(batch).cpu().numpy().astype(np.float32)

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """One vector for an already decoded image (a pasted query)."""
        return _finite(self.embed_tensors(self.preprocess(to_rgb(image)).unsqueeze(0))[0])

    def embed_file(self, path: str) -> np.ndarray:
        """One vector for one file; raises ImageLoadError with a reason."""
        return _finite(self.embed_tensors(self.load_tensor(path).unsqueeze(0))[0])

    def embed_files(
        self, items: Iterable[tuple[int, str]], cancel: CancelToken | None = None
    ) -> Iterator[EmbeddedBatch]:
        """Embed (id, path) pairs in batches; decoding runs ahead in the pool while the model works."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="decode") as pool:
            window: deque[tuple[int, Future]] = deque()
            source = iter(items)
            ahead = self.batch_size * 2
            exhausted = False
            while True:
                while not exhausted and len(window) < ahead:
                    try:
                        file_id, path = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    window.append((file_id, pool.submit(self.load_tensor, path)))
                if not window:
                    return
                if cancel is not None and cancel.cancelled:
                    for _, future in window:
                        future.cancel()
                    return
                yield self._next_batch(window)

    def _next_batch(self, window: deque[tuple[int, Future]]) -> EmbeddedBatch:
        ids: list[int] = []
        tensors: list[torch.Tensor] = []
        failures: dict[int, str] = {}
        while window and len(ids) + len(failures) < self.batch_size:
            file_id, future = window.popleft()
            try:
                tensors.append(future.result())
                ids.append(file_id)
            except ImageLoadError as exc:
                failures[file_id] = str(exc)
            except (RuntimeError, ValueError, OSError, MemoryError) as exc:
                failures[file_id] = f"could not be prepared for the model ({type(exc).__name__})"
        vectors: dict[int, np.ndarray] = {}
        if tensors:
            matrix = self.embed_tensors(torch.stack(tensors))
            for file_id, vector in zip(ids, matrix, strict=True):
                if np.isfinite(vector).all():
                    vectors[file_id] = vector
                else:  # never stored: one NaN would make every distance to it NaN
                    failures[file_id] = NOT_FINITE
        return EmbeddedBatch(vectors, failures)


def _finite(vector: np.ndarray) -> np.ndarray:
    if not np.isfinite(vector).all():
        raise ModelOutputError(NOT_FINITE)
    return vector


def probe_images(size: int) -> list[Image.Image]:
    """`PROBE_IMAGES` deterministic RGB images that any useful model maps to different vectors:
    a horizontal and a vertical colour ramp, a checkerboard and seeded noise."""
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    x = np.broadcast_to(ramp[None, :], (size, size))
    y = x.T
    checks = ((np.indices((size, size)) // max(1, size // 8)).sum(axis=0) % 2) * 255.0
    noise = np.random.default_rng(0).uniform(0, 255, (size, size, 3))
    planes = [
        np.stack([x, 255 - x, np.full_like(x, 64)], axis=2),
        np.stack([np.full_like(y, 200), y, 255 - y], axis=2),
        np.repeat(checks[:, :, None], 3, axis=2),
        noise,
    ]
    return [Image.fromarray(plane.astype(np.uint8), "RGB") for plane in planes]
