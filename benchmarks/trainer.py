"""Trainer step speed on CPU with the default backbone, and what distance-weighted sampling adds.

Times the parts of one optimisation step as `trainer.train` runs it (forward, mining, loss,
backward, clipping, optimizer) at the default settings on ready image tensors, so the figure
is the model's training speed, not the data loader's. The miner is timed on the same
embeddings inside each step, so its share of the step comes from one run. With `--reference`
every Lookalike step is followed by one step of the textbook recipe (pytorch-metric-learning's
distance-weighted miner and margin loss, BatchNorm in training mode, Adam; the `bench` extra) on
the same batch, so the two speeds are measured side by side, interleaved, in one process.

    python -m benchmarks.trainer --batch 128 --steps 3
    python -m benchmarks.trainer --batch 60 --image-size 96 --steps 8 --reference [--no-freeze-stem]
"""

from __future__ import annotations

import argparse
import time

import torch

from trainer.losses import make_loss
from trainer.miners import make_miner
from trainer.model import ModelConfig, build_model, freeze_stem
from trainer.optim import build_optimizer
from trainer.options import TrainSettings
from trainer.train import model_config

from .common import median, save, table
from .quality import REFERENCE_EMBEDDING_DIM, reference_recipe


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="images per step (P x K with K = 4)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--reference", action="store_true", help="interleave the reference recipe's steps")
    parser.add_argument(
        "--freeze-stem",
        action=argparse.BooleanOptionalAction,
        default=TrainSettings(folder="").freeze_stem,
        help="as the trainer does by default; --no-freeze-stem times the whole backbone's backward pass",
    )
    parser.add_argument("--name", default="trainer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    settings = TrainSettings(folder="", image_size=args.image_size)
    per_class = settings.images_per_class
    classes = args.batch // per_class
    model = build_model(model_config(settings)).train()
    if args.freeze_stem:
        freeze_stem(model)
    loss_fn = make_loss(settings.loss, num_classes=classes)
    miner = make_miner(settings.sampling)
    optimizer = build_optimizer(
        model,
        loss_fn,
        head_lr=settings.lr,
        backbone_lr=settings.lr * settings.backbone_lr_factor,
        loss_lr=settings.beta_lr,
        weight_decay=settings.weight_decay,
    )
    images = torch.randn(classes * per_class, 3, args.image_size, args.image_size)
    labels = torch.arange(classes).repeat_interleave(per_class)
    generator = torch.Generator().manual_seed(0)
    reference_step = make_reference_step(args.image_size) if args.reference else None
    step_s, mine_s, reference_s = [], [], []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        embeddings = model(images)
        mine_start = time.perf_counter()
        triplets = miner(embeddings.detach(), labels, generator=generator)
        mine_end = time.perf_counter()
        output = loss_fn(embeddings, labels, triplets)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        seconds = time.perf_counter() - start
        reference = reference_step(images, labels) if reference_step else None
        if step:  # the first step warms up allocators and kernels
            step_s.append(seconds)
            mine_s.append(mine_end - mine_start)
            if reference is not None:
                reference_s.append(reference)
        note = f", reference {reference:.2f} s" if reference is not None else ""
        print(f"step {step}{' (warm-up)' if not step else ''}: {seconds:.2f} s{note}")
    share = median(mine_s) / median(step_s)
    rate = len(images) / median(step_s)
    rows = [
        ["full step", step_s[-1], median(step_s)],
        [f"{settings.sampling} miner", mine_s[-1], median(mine_s)],
    ]
    if reference_s:
        rows.append(["reference recipe step", reference_s[-1], median(reference_s)])
    stem = "stem frozen" if args.freeze_stem else "stem trained"
    print(
        f"{settings.backbone}, batch {len(images)} ({classes} x {per_class}), {args.image_size} px, {stem}, CPU"
    )
    print(table(["seconds", "last step", f"median of {args.steps}"], rows))
    print(f"{rate:.1f} images/s per step; the miner is {share:.3%} of a step (target < 5 %)")
    if reference_s:
        print(f"reference recipe: {len(images) / median(reference_s):.1f} images/s, interleaved step by step")
    result = {
        "backbone": settings.backbone,
        "batch": len(images),
        "image_size": args.image_size,
        "step_s": step_s,
        "miner_s": mine_s,
        "images_per_s": rate,
        "miner_share": share,
        "threads": torch.get_num_threads(),
        "freeze_stem": args.freeze_stem,
    }
    if reference_s:
        result["reference_step_s"] = reference_s
        result["reference_images_per_s"] = len(images) / median(reference_s)
    save(args.name, result)
    return result


def make_reference_step(image_size: int):
    """One optimisation step of the reference recipe (as benchmarks.quality runs it), timed."""
    config = ModelConfig(embedding_dim=REFERENCE_EMBEDDING_DIM, image_size=image_size)
    model, reference_step = reference_recipe(config, seed=0)
    model.train()

    def step(images: torch.Tensor, labels: torch.Tensor) -> float:
        start = time.perf_counter()
        reference_step(images, labels)
        return time.perf_counter() - start

    return step


if __name__ == "__main__":
    main()
