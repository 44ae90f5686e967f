"""Trainer quality on unseen classes: zero-shot vs Lookalike's trainer vs the reference recipe.

For each labelled set in ../shared/data the classes (a fixed random subset, at most a fixed
number of images each) are split in two halves per seed; both trainers learn from the first
half and every method is scored by retrieval (Recall@1/4, MAP@R) among the unseen half.

- zero-shot: pretrained EfficientNet-Lite0, pooled features (what the app uses untrained).
- lookalike: `trainer.train.train` with its defaults (its own validation classes come out of
  the training half), then the weights it kept.
- reference: pytorch-metric-learning's DistanceWeightedMiner + MarginLoss on the same ImageNet
  Lite0 with a random 128-d head, Adam 1e-4 backbone / 1e-3 head, BatchNorm training, the
  final weights; same image size, epochs, steps and P x K batches.

    python -m benchmarks.quality                      # all sets, seeds 0 1, writes results/quality-*.json
    python -m benchmarks.quality --sets omniglot --seeds 0 --methods lookalike --set lr=1e-3
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from trainer.checkpoint import load_checkpoint
from trainer.data import ImageDataset, LabelledImages, scan_labelled_folder, split_by_class
from trainer.embedding import embed_images
from trainer.evaluation import retrieval_metrics
from trainer.model import EmbeddingNet, ModelConfig, build_model
from trainer.options import TrainSettings
from trainer.samplers import PKBatchSampler
from trainer.train import train

from .common import command_line, save, stamped

DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared/data"
METHODS = ("zero-shot", "lookalike", "reference")
SUBSET_SEED = 12345
CLASSES_PER_BATCH = 12
IMAGES_PER_CLASS = 5
REFERENCE_EMBEDDING_DIM = 128


@dataclass(frozen=True)
class SetSpec:
    """One labelled set and the CPU-sized budget both trainers get on it."""

    name: str
    folder: str
    image_size: int
    max_classes: int
    max_images_per_class: int
    epochs: int


SETS = {
    spec.name: spec
    for spec in (
        SetSpec("omniglot", "omniglot/images_background_small1", 64, 60, 20, 5),
        SetSpec("tinyimagenet", "tinyimagenet-val-100", 64, 40, 30, 4),
        SetSpec("caltech101", "caltech101-train-half", 96, 40, 30, 3),
    )
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--epochs", type=int, help="override every set's epochs")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a Lookalike TrainSettings field (experiments), e.g. lr=1e-3",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    parser.add_argument("--jobs", type=int, default=2, help="(set, seed) runs in parallel processes")
    parser.add_argument("--tag", default="", help="suffix of the results file name")
    return parser.parse_args(argv)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """FIELD=VALUE pairs for TrainSettings; values are Python literals, else strings."""
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    overrides: dict[str, Any] = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in fields:
            raise SystemExit(f"--set {item}: TrainSettings has no field {name!r}")
        try:
            overrides[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[name] = text
    return overrides


def load_subset(spec: SetSpec, root: Path) -> LabelledImages:
    """A fixed random subset of classes, each cut to a fixed random subset of its images."""
    scanned = scan_labelled_folder(root / spec.folder)
    rng = np.random.default_rng(SUBSET_SEED)
    names = scanned.classes
    if len(names) > spec.max_classes:
        names = sorted(names[i] for i in rng.choice(len(names), size=spec.max_classes, replace=False))
    subset = scanned.subset(names)
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(subset.labels):
        by_class.setdefault(label, []).append(index)
    keep = sorted(
        i
        for members in by_class.values()
        for i in rng.permutation(members)[: spec.max_images_per_class].tolist()
    )
    return LabelledImages([subset.paths[i] for i in keep], [subset.labels[i] for i in keep], subset.classes)


def link_folder(images: LabelledImages, into: Path) -> Path:
    """Symlink a LabelledImages set as a class-per-folder tree (what `train` reads)."""
    for path, label in zip(images.paths, images.labels, strict=True):
        folder = into / images.classes[label].replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.name).symlink_to(path.resolve())
    return into


def score(model: EmbeddingNet, images: LabelledImages) -> dict[str, float]:
    """Recall@1/4 and MAP@R among `images` (the unseen half)."""
    vectors, labels = embed_images(model, images, torch.device("cpu"), batch_size=64, workers=0)
    metrics = retrieval_metrics(vectors, labels, ks=(1, 4))
    return {k: round(float(v), 4) for k, v in metrics.items()}


def zero_shot(spec: SetSpec) -> EmbeddingNet:
    """Pretrained Lite0 with no head: L2-normalised pooled features."""
    return build_model(ModelConfig(image_size=spec.image_size))


def run_lookalike(
    spec: SetSpec, folder: Path, out: Path, epochs: int, steps: int, seed: int, overrides: dict[str, Any]
) -> tuple[EmbeddingNet, dict[str, Any]]:
    """Lookalike's trainer with its defaults (plus `overrides`); returns the weights it kept."""
    values: dict[str, Any] = dict(
        folder=str(folder),
        out=str(out),
        image_size=spec.image_size,
        epochs=epochs,
        classes_per_batch=CLASSES_PER_BATCH,
        images_per_class=IMAGES_PER_CLASS,
        batches_per_epoch=steps,
        device="cpu",
        workers=0,
        seed=seed,
    )
    values.update(overrides)
    result = train(TrainSettings(**values))
    history = [{"epoch": h.epoch, "loss": h.loss, **h.metrics} for h in result.history]
    return load_checkpoint(result.out), {"best_epoch": result.best_epoch, "history": history}


def reference_transform(config: ModelConfig) -> v2.Compose:
    """The usual metric-learning augmentation: random resized crop and horizontal flip."""
    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.RandomResizedCrop(config.image_size, scale=(0.35, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(config.mean, config.std),
        ]
    )


def run_reference(spec: SetSpec, images: LabelledImages, epochs: int, steps: int, seed: int) -> EmbeddingNet:
    """The textbook recipe through pytorch-metric-learning; returns the final weights."""
    from pytorch_metric_learning import losses, miners

    torch.manual_seed(seed)
    config = ModelConfig(embedding_dim=REFERENCE_EMBEDDING_DIM, image_size=spec.image_size)
    model = build_model(config, seed=seed)
    optimizer = torch.optim.Adam(
        [
            {"params": model.backbone.parameters(), "lr": 1e-4},
            {"params": model.head.parameters(), "lr": 1e-3},
        ]
    )
    miner = miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    loss_fn = losses.MarginLoss(margin=0.2, beta=1.2)
    sampler = PKBatchSampler(
        images.labels, CLASSES_PER_BATCH, IMAGES_PER_CLASS, seed, batches_per_epoch=steps
    )
    dataset = ImageDataset(images, reference_transform(config), spec.image_size)
    model.train()
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        for batch, labels in DataLoader(dataset, batch_sampler=sampler, num_workers=0):
            embeddings = model(batch)
            loss = loss_fn(embeddings, labels, miner(embeddings, labels))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


def run_set(
    args: argparse.Namespace, spec: SetSpec, seed: int, overrides: dict[str, Any], tmp: Path
) -> list[dict[str, Any]]:
    """Every chosen method on one set and one class split; a result row each."""
    subset = load_subset(spec, args.data_root)
    seen, unseen = split_by_class(subset, 0.5, seed)
    epochs = args.epochs if args.epochs is not None else spec.epochs
    steps = max(1, len(seen) // (CLASSES_PER_BATCH * IMAGES_PER_CLASS))
    base = {"set": spec.name, "seed": seed, "epochs": epochs, "steps_per_epoch": steps}
    base |= {
        "image_size": spec.image_size,
        "seen_classes": len(seen.classes),
        "unseen_classes": len(unseen.classes),
    }
    rows = []
    for method in args.methods:
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if method == "zero-shot":
            model = zero_shot(spec)
        elif method == "lookalike":
            folder = link_folder(seen, tmp / f"{spec.name}-{seed}")
            out = tmp / f"{spec.name}-{seed}.safetensors"
            model, extra = run_lookalike(spec, folder, out, epochs, steps, seed, overrides)
        else:
            model = run_reference(spec, seen, epochs, steps, seed)
        row = {**base, "method": method, **score(model, unseen)}
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row | extra)
        print(
            f"  {spec.name:12} seed {seed} {method:9}  R@1 {row['recall@1']:.4f}  R@4 {row['recall@4']:.4f}"
            f"  MAP@R {row['map@r']:.4f}  ({row['seconds']:.0f} s)"
            + (f"  kept epoch {extra['best_epoch']}" if extra else ""),
            flush=True,
        )
    return rows


def run_job(
    args: argparse.Namespace, spec: SetSpec, seed: int, overrides: dict[str, Any]
) -> list[dict[str, Any]]:
    """One (set, seed) in a worker process with its own thread budget and scratch folder."""
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        return run_set(args, spec, seed, overrides, Path(tmp))


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per set and method: each seed's R@1, R@4, MAP@R and their means."""
    seeds = sorted({r["seed"] for r in rows})
    header = f"{'set':12} {'method':9} " + " ".join(f"{'seed ' + str(s):>20}" for s in seeds)
    header += f" {'mean R@1':>8} {'mean R@4':>8} {'mean MAP@R':>10}"
    print(header)
    print(" " * 23 + "  R@1 / R@4 / MAP@R" * len(seeds))
    print("-" * len(header))
    for name in dict.fromkeys(r["set"] for r in rows):
        for method in dict.fromkeys(r["method"] for r in rows):
            chosen = [r for r in rows if r["set"] == name and r["method"] == method]
            if not chosen:
                continue
            by_seed = {r["seed"]: r for r in chosen}
            cells = " ".join(
                f"{by_seed[s]['recall@1']:.3f}/{by_seed[s]['recall@4']:.3f}/{by_seed[s]['map@r']:.3f}"
                if s in by_seed
                else f"{'-':>20}"
                for s in seeds
            )
            means = [statistics.mean(r[k] for r in chosen) for k in ("recall@1", "recall@4", "map@r")]
            print(f"{name:12} {method:9} {cells} {means[0]:>8.4f} {means[1]:>8.4f} {means[2]:>10.4f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = parse_overrides(args.overrides)
    missing = [name for name in args.sets if not (args.data_root / SETS[name].folder).is_dir()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found under {args.data_root} (see its README.md)")
        return 0
    started = time.perf_counter()
    jobs = [(args, SETS[name], seed, overrides) for seed in args.seeds for name in args.sets]
    with multiprocessing.get_context("spawn").Pool(min(args.jobs, len(jobs))) as pool:
        rows = [row for rows in pool.starmap(run_job, jobs) for row in rows]
    print()
    print_table(rows)
    defaults = dataclasses.asdict(TrainSettings(folder=""))
    report = {
        "command": command_line("benchmarks.quality", argv),
        "sets": {name: dataclasses.asdict(SETS[name]) for name in args.sets},
        "lookalike_settings": defaults | overrides,
        "threads": args.threads,
        "jobs": args.jobs,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    suffix = f"-{args.tag}" if args.tag else ""
    save(stamped("quality") + suffix, report)
    print(f"{report['seconds']:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
