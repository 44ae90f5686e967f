"""GPU smoke test: a few hundred mixed-precision training steps on generated data, images/s and loss.

Runs the product's own training loop (`trainer.train.train`: DataLoader workers, pinned
memory, channels-last, bf16/fp16 autocast) on CUDA and prints throughput and loss.

    python -m benchmarks.gpu_check --steps 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from tests.labelled_gratings import write_labelled_gratings
from trainer.devices import autocast_dtype
from trainer.options import TrainSettings
from trainer.train import StepReport, train


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--classes-per-batch", type=int, default=8)
    parser.add_argument("--images-per-class", type=int, default=8)
    parser.add_argument(
        "--classes", type=int, default=16, help="generated classes, at most 16 (half held out)"
    )
    parser.add_argument("--per-class", type=int, default=40, help="generated images per class")
    parser.add_argument("--workers", type=int, default=8)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU visible to torch; run it on a machine with an NVIDIA GPU", file=sys.stderr
        )
        return 1
    device = torch.device("cuda")
    print(
        f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, autocast {autocast_dtype(device)}"
    )
    steps: list[StepReport] = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        write_labelled_gratings(Path(tmp) / "data", classes=args.classes, per_class=args.per_class, size=256)
        print(f"generated {args.classes * args.per_class} images in {time.perf_counter() - started:.1f} s")
        settings = TrainSettings(
            folder=str(Path(tmp) / "data"),
            out=str(Path(tmp) / "gpu-check.safetensors"),
            backbone=args.backbone,
            image_size=args.image_size,
            epochs=1,
            batches_per_epoch=args.steps,
            classes_per_batch=args.classes_per_batch,
            images_per_class=args.images_per_class,
            device="cuda",
            amp=True,
            workers=args.workers,
        )
        torch.cuda.reset_peak_memory_stats(device)
        result = train(settings, on_step=steps.append)
    warm = steps[min(20, len(steps) // 4) :]
    losses = [s.loss for s in steps if not s.skipped]
    head = statistics.mean(losses[:20]) if losses else float("nan")
    tail = statistics.mean(losses[-20:]) if losses else float("nan")
    print(f"steps {len(steps)}, batch {args.classes_per_batch * args.images_per_class}, {args.image_size} px")
    print(f"images/s: median {statistics.median(s.images_per_second for s in warm):.0f} (after warm-up)")
    print(f"loss: first 20 steps {head:.4f}, last 20 steps {tail:.4f}; skipped steps {result.skipped_steps}")
    print(
        f"held-out R@1: start {result.start_metrics['recall@1']:.4f}, "
        f"after training {result.history[-1].recall_at_1:.4f}"
    )
    print(
        f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB; total {result.seconds:.1f} s"
    )
    ok = bool(losses) and tail < head
    print("OK" if ok else "FAILED: loss did not fall or was not finite")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
