"""Trainer quality: the person's protocol (their classes, new photos) and unseen classes.

Two protocols on each labelled set in ../shared/data (a fixed random subset of classes, at most
a fixed number of images each), every seed giving its own split:

- person ("seen"): per class, seeded training / validation / test images. Every trainer learns
  from the training images of all classes and chooses its epoch on the validation images; scored
  by Recall@1/4 and MAP@R of the test images searched among the test images plus as many
  distractors (unlabelled images of the set's other classes): the library a person searches.
- unseen: the classes are split in two halves; trainers learn from the first half and every
  method is scored among the unseen half (the guard against losing generality).

Methods:
- zero-shot: pretrained EfficientNet-Lite0, pooled features (what the app uses untrained).
- lookalike: `trainer.train.train` with its defaults, the weights it kept (person: validation
  images given as `val_folder`; unseen: its own validation split of the training half).
- reference: pytorch-metric-learning's DistanceWeightedMiner + MarginLoss on the same ImageNet
  Lite0 with a random 128-d head, Adam 1e-4 backbone / 1e-3 head, BatchNorm training; same image
  size, epochs, steps and P x K batches (person: the epoch best on validation; unseen: the last).
- mmc, lmnn (person only): the learned metric exactly as `lookalike train-metric` fits it
  (`trainer.linear_metric.fit_retrieval_metric`) and the library applies it, fitted on the
  zero-shot features of the training images; lookalike+mmc: MMC on the fine-tuned embeddings.
- lookalike@α (with --alphas): the same Lookalike run's last-epoch weights ensembled with its
  start, start + α (trained − start) (`trainer.weight_ensemble`), so several α cost one training
  run; its rows also carry the scores on the run's validation images (val_*), what a rule that
  chooses α on them would see.

    python -m benchmarks.quality                      # both protocols, all sets, seeds 0 1
    python -m benchmarks.quality --protocols person --sets omniglot --seeds 0 --set lr=1e-3
    python -m benchmarks.quality --sets caltech101 --seeds 0 --methods zero-shot lookalike --alphas 0.5 0.7
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from retrieval_app.core.metric_learning import mapped
from trainer.checkpoint import load_checkpoint
from trainer.data import ImageDataset, LabelledImages, scan_labelled_folder, split_by_class
from trainer.embedding import embed_images
from trainer.evaluation import retrieval_metrics
from trainer.linear_metric import fit_retrieval_metric
from trainer.model import EmbeddingNet, ModelConfig, build_model
from trainer.options import TrainSettings
from trainer.samplers import PKBatchSampler
from trainer.train import load_data, train
from trainer.train_state import load_train_state
from trainer.weight_ensemble import ensembled

from .common import command_line, save, stamped

DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared/data"
METHODS = ("zero-shot", "lookalike", "reference", "mmc", "lmnn", "lookalike+mmc")
UNSEEN_METHODS = ("zero-shot", "lookalike", "reference")
PROTOCOLS = ("person", "unseen")
PERSON_VAL_FRACTION = 0.2
PERSON_TEST_FRACTION = 0.4
PERSON_STEPS = 10
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
        # epochs since P48 (the stem frozen, less time per step): Omniglot 5 -> 6 and Tiny-ImageNet
        # 4 -> 6 in about the seconds the old ones took; Caltech-101 keeps 3 (4 lost unseen classes)
        SetSpec("omniglot", "omniglot/images_background_small1", 64, 60, 20, 6),
        SetSpec("tinyimagenet", "tinyimagenet-val-100", 96, 40, 30, 6),
        SetSpec("caltech101", "caltech101-train-half", 96, 40, 30, 3),
    )
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--epochs", type=int, help="override every set's epochs")
    parser.add_argument("--image-size", type=int, help="override every set's image size (all methods)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a Lookalike TrainSettings field (experiments), e.g. lr=1e-3",
    )
    parser.add_argument(
        "--alphas",
        type=float,
        nargs="+",
        default=[],
        help="also score each Lookalike run ensembled with its start at these α (lookalike@α rows)",
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
    return choose_subset(scan_labelled_folder(root / spec.folder), spec)


def choose_subset(scanned: LabelledImages, spec: SetSpec) -> LabelledImages:
    """`load_subset` of an already scanned set."""
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


def _pick(images: LabelledImages, indices: list[int]) -> LabelledImages:
    keep = sorted(indices)
    return LabelledImages([images.paths[i] for i in keep], [images.labels[i] for i in keep], images.classes)


def person_split(subset: LabelledImages, seed: int) -> tuple[LabelledImages, LabelledImages, LabelledImages]:
    """Per class, seeded: training, validation and test images (every class in all three)."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for label in range(len(subset.classes)):
        members = [i for i, lab in enumerate(subset.labels) if lab == label]
        order = [members[i] for i in rng.permutation(len(members))]
        n_test = max(2, round(len(members) * PERSON_TEST_FRACTION))
        n_val = max(2, round(len(members) * PERSON_VAL_FRACTION))
        test += order[:n_test]
        val += order[n_test : n_test + n_val]
        train += order[n_test + n_val :]
    return _pick(subset, train), _pick(subset, val), _pick(subset, test)


def distractor_pool(scanned: LabelledImages, subset: LabelledImages, count: int, seed: int) -> LabelledImages:
    """`count` images of the set's classes outside the subset, each its own class (never relevant)."""
    chosen = set(subset.classes)
    others = [i for i, label in enumerate(scanned.labels) if scanned.classes[label] not in chosen]
    picked = np.random.default_rng(seed + 1).choice(others, size=min(count, len(others)), replace=False)
    return LabelledImages(
        [scanned.paths[i] for i in sorted(picked)], [-1 - j for j in range(len(picked))], []
    )


def embed(model: EmbeddingNet, images: LabelledImages) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors and labels on the CPU."""
    return embed_images(model, images, torch.device("cpu"), batch_size=64, workers=0)


def score_library(
    test: tuple[torch.Tensor, torch.Tensor],
    distractors: tuple[torch.Tensor, torch.Tensor],
    linear: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """Recall@1/4 and MAP@R of the test images searched among test images plus distractors."""
    vectors = torch.cat([test[0], distractors[0]]).double()
    if linear is not None:
        vectors = torch.from_numpy(linear(vectors.numpy()))
    labels = torch.cat([test[1], distractors[1]])
    metrics = retrieval_metrics(vectors, labels, ks=(1, 4))
    return {k: round(float(v), 4) for k, v in metrics.items()}


def fit_linear(
    method: str, features: tuple[torch.Tensor, torch.Tensor]
) -> Callable[[np.ndarray], np.ndarray]:
    """The learned metric exactly as `lookalike train-metric` fits and the library applies it
    (`fit_retrieval_metric`, then x ↦ normalise(L (x − mean))), fitted on the training features."""
    matrix, mean = fit_retrieval_metric(method, features[0].double().numpy(), features[1].numpy())
    return lambda vectors: mapped(vectors, matrix, mean)


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
    spec: SetSpec,
    folder: Path,
    out: Path,
    epochs: int,
    steps: int,
    seed: int,
    overrides: dict[str, Any],
    val_folder: Path | None = None,
) -> tuple[EmbeddingNet, dict[str, Any]]:
    """Lookalike's trainer with its defaults (plus `overrides`); returns the weights it kept."""
    values: dict[str, Any] = dict(
        val_folder=str(val_folder) if val_folder else None,
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
    rates = [h.images_per_second for h in result.history if h.images_per_second]
    extra = {"best_epoch": result.best_epoch, "history": history, "state": str(result.state)}
    if rates:
        extra["train_images_per_second"] = round(statistics.mean(rates), 1)
    return load_checkpoint(result.out), extra


def ensemble_variants(
    kept: EmbeddingNet, state_path: str, alphas: list[float]
) -> list[tuple[float, EmbeddingNet]]:
    """The run's last-epoch weights ensembled with its head start at each α (same network shape)."""
    state = load_train_state(state_path)
    last = copy.deepcopy(kept)
    last.load_state_dict(state["model"])
    return [(alpha, ensembled(last, state["start_model"], alpha).eval()) for alpha in alphas]


def ensemble_rows(
    base: dict[str, Any],
    variants: list[tuple[float, EmbeddingNet]],
    scorer: Callable[[EmbeddingNet], dict[str, float]],
    val: LabelledImages | None = None,
) -> list[dict[str, Any]]:
    """One lookalike@α row per variant; with `val`, its validation scores too (val_*)."""
    rows = []
    for alpha, model in variants:
        started = time.perf_counter()
        row = {**base, "method": f"lookalike@{alpha:g}", "alpha": alpha, **scorer(model)}
        if val is not None:
            row |= {f"val_{k}": round(float(v), 4) for k, v in retrieval_metrics(*embed(model, val)).items()}
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print_row(row)
    return rows


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


def reference_recipe(
    config: ModelConfig, seed: int
) -> tuple[EmbeddingNet, Callable[[torch.Tensor, torch.Tensor], None]]:
    """The textbook recipe's network and one optimisation step of it on a batch (labels by class)."""
    from pytorch_metric_learning import losses, miners

    model = build_model(config, seed=seed)
    optimizer = torch.optim.Adam(
        [
            {"params": model.backbone.parameters(), "lr": 1e-4},
            {"params": model.head.parameters(), "lr": 1e-3},
        ]
    )
    miner = miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    loss_fn = losses.MarginLoss(margin=0.2, beta=1.2)

    def step(images: torch.Tensor, labels: torch.Tensor) -> None:
        embeddings = model(images)
        loss = loss_fn(embeddings, labels, miner(embeddings, labels))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return model, step


def run_reference(
    spec: SetSpec,
    images: LabelledImages,
    epochs: int,
    steps: int,
    seed: int,
    val: LabelledImages | None = None,
) -> tuple[EmbeddingNet, dict[str, Any]]:
    """The textbook recipe through pytorch-metric-learning: the final weights, or with `val` the
    epoch with the best validation MAP@R (Recall@1 breaks ties)."""
    torch.manual_seed(seed)
    config = ModelConfig(embedding_dim=REFERENCE_EMBEDDING_DIM, image_size=spec.image_size)
    model, step = reference_recipe(config, seed)
    sampler = PKBatchSampler(
        images.labels, CLASSES_PER_BATCH, IMAGES_PER_CLASS, seed, batches_per_epoch=steps
    )
    dataset = ImageDataset(images, reference_transform(config), spec.image_size)
    best: tuple[tuple[float, float], int, dict[str, torch.Tensor]] | None = None
    training_seconds, trained_images = 0.0, 0
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        epoch_started = time.perf_counter()
        for batch, labels in DataLoader(dataset, batch_sampler=sampler, num_workers=0):
            trained_images += len(batch)
            step(batch, labels)
        training_seconds += time.perf_counter() - epoch_started
        if val is not None:
            metrics = retrieval_metrics(*embed(model, val))
            key = (metrics["map@r"], metrics["recall@1"])
            if best is None or key > best[0]:
                best = (key, epoch, copy.deepcopy(model.state_dict()))
    extra: dict[str, Any] = {
        "train_images_per_second": round(trained_images / max(training_seconds, 1e-9), 1)
    }
    if best is not None:
        model.load_state_dict(best[2])
        extra["best_epoch"] = best[1]
    return model.eval(), extra


def print_row(row: dict[str, Any]) -> None:
    """One finished method, as the run goes."""
    kept = f"  kept epoch {row['best_epoch']}" if "best_epoch" in row else ""
    if "train_images_per_second" in row:
        kept += f"  training {row['train_images_per_second']:.0f} img/s"
    print(
        f"  {row['protocol']:6} {row['set']:12} seed {row['seed']} {row['method']:13}  R@1 {row['recall@1']:.4f}"
        f"  R@4 {row['recall@4']:.4f}  MAP@R {row['map@r']:.4f}  ({row['seconds']:.0f} s){kept}",
        flush=True,
    )


def run_person(
    args: argparse.Namespace, spec: SetSpec, seed: int, overrides: dict[str, Any], tmp: Path
) -> list[dict[str, Any]]:
    """Every chosen method in the person's protocol on one set and one seeded image split."""
    scanned = scan_labelled_folder(args.data_root / spec.folder)
    subset = choose_subset(scanned, spec)
    train_images, val_images, test_images = person_split(subset, seed)
    pool = distractor_pool(scanned, subset, len(test_images), seed)
    epochs = args.epochs if args.epochs is not None else spec.epochs
    base = {"protocol": "person", "set": spec.name, "seed": seed, "epochs": epochs}
    base |= {
        "steps_per_epoch": PERSON_STEPS,
        "image_size": spec.image_size,
        "classes": len(subset.classes),
        "train_images": len(train_images),
        "val_images": len(val_images),
        "test_images": len(test_images),
        "distractors": len(pool),
    }
    zero = zero_shot(spec)
    zero_test, zero_pool = embed(zero, test_images), embed(zero, pool)
    rows = []
    tuned: EmbeddingNet | None = None
    for method in args.methods:
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        linear = None
        if method == "zero-shot":
            test, distractors = zero_test, zero_pool
        elif method in ("mmc", "lmnn"):
            linear = fit_linear(method, embed(zero, train_images))
            test, distractors = zero_test, zero_pool
        elif method == "reference":
            model, extra = run_reference(spec, train_images, epochs, PERSON_STEPS, seed, val_images)
            test, distractors = embed(model, test_images), embed(model, pool)
        else:  # lookalike, lookalike+mmc
            if tuned is None:
                folder = link_folder(train_images, tmp / f"{spec.name}-{seed}-train")
                val_folder = link_folder(val_images, tmp / f"{spec.name}-{seed}-val")
                out = tmp / f"{spec.name}-{seed}-person.safetensors"
                tuned, tuned_extra = run_lookalike(
                    spec, folder, out, epochs, PERSON_STEPS, seed, overrides, val_folder
                )
            extra = tuned_extra
            if method == "lookalike+mmc":
                linear = fit_linear("mmc", embed(tuned, train_images))
            test, distractors = embed(tuned, test_images), embed(tuned, pool)
        row = {**base, "method": method, **score_library(test, distractors, linear)}
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row | extra)
        print_row(rows[-1])
        if method == "lookalike" and args.alphas and tuned is not None:
            variants = ensemble_variants(tuned, tuned_extra["state"], args.alphas)
            rows += ensemble_rows(
                {**base, "best_epoch": tuned_extra["best_epoch"]},
                variants,
                lambda m: score_library(embed(m, test_images), embed(m, pool)),
                val_images,
            )
    return rows


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
    for method in [m for m in args.methods if m in UNSEEN_METHODS]:
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if method == "zero-shot":
            model = zero_shot(spec)
        elif method == "lookalike":
            folder = link_folder(seen, tmp / f"{spec.name}-{seed}")
            out = tmp / f"{spec.name}-{seed}.safetensors"
            model, extra = run_lookalike(spec, folder, out, epochs, steps, seed, overrides)
        else:
            model, extra = run_reference(spec, seen, epochs, steps, seed)
        row = {**base, "protocol": "unseen", "method": method, **score(model, unseen)}
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row | extra)
        print_row(rows[-1])
        if method == "lookalike" and args.alphas:
            variants = ensemble_variants(model, extra["state"], args.alphas)
            ensemble_base = {**base, "protocol": "unseen", "best_epoch": extra["best_epoch"]}
            val = load_data(TrainSettings(**{"folder": str(folder), "seed": seed, **overrides})).val
            rows += ensemble_rows(ensemble_base, variants, lambda m: score(m, unseen), val)
    return rows


def run_job(
    args: argparse.Namespace, protocol: str, spec: SetSpec, seed: int, overrides: dict[str, Any]
) -> list[dict[str, Any]]:
    """One (protocol, set, seed) in a worker process with its own thread budget and scratch folder."""
    torch.set_num_threads(args.threads)
    run = run_person if protocol == "person" else run_set
    with tempfile.TemporaryDirectory() as tmp:
        return run(args, spec, seed, overrides, Path(tmp))


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per set and method: each seed's R@1, R@4, MAP@R and their means."""
    seeds = sorted({r["seed"] for r in rows})
    header = f"{'set':12} {'method':13} " + " ".join(f"{'seed ' + str(s):>20}" for s in seeds)
    header += f" {'mean R@1':>8} {'mean R@4':>8} {'mean MAP@R':>10}"
    print(header)
    print(" " * 27 + "  R@1 / R@4 / MAP@R" * len(seeds))
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
            print(f"{name:12} {method:13} {cells} {means[0]:>8.4f} {means[1]:>8.4f} {means[2]:>10.4f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = parse_overrides(args.overrides)
    missing = [name for name in args.sets if not (args.data_root / SETS[name].folder).is_dir()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found under {args.data_root} (see its README.md)")
        return 0
    started = time.perf_counter()
    sets = {
        name: dataclasses.replace(spec, image_size=args.image_size or spec.image_size)
        for name, spec in SETS.items()
    }
    jobs = [
        (args, protocol, sets[name], seed, overrides)
        for protocol in args.protocols
        for seed in args.seeds
        for name in args.sets
    ]
    with multiprocessing.get_context("spawn").Pool(min(args.jobs, len(jobs))) as pool:
        # the biggest images first, one job at a time: the two processes finish together
        order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2].image_size)
        done = pool.starmap(run_job, [jobs[i] for i in order], chunksize=1)
        by_job = dict(zip(order, done, strict=True))
        rows = [row for i in range(len(jobs)) for row in by_job[i]]
    titles = {
        "person": "Person's protocol: their classes, new photos, searched among as many distractors",
        "unseen": "Unseen classes: trained on half of the classes, searched among the other half",
    }
    for protocol in args.protocols:
        print(f"\n{titles[protocol]}")
        print_table([r for r in rows if r["protocol"] == protocol])
    defaults = dataclasses.asdict(TrainSettings(folder=""))
    report = {
        "command": command_line("benchmarks.quality", argv),
        "sets": {name: dataclasses.asdict(sets[name]) for name in args.sets},
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
