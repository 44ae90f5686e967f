"""Sampling and loss comparison at equal budget: held-out Recall@1 and MAP@R per setting and seed.

Trains with the product's own `trainer.train.train` on half the classes of a real labelled set
and measures retrieval among the unseen half (zero-shot protocol); epoch 0 is the untrained
start (pretrained backbone, head start), so each row also shows what training added.

    python -m benchmarks.sampling --epochs 3 --image-size 64 --max-classes 40 --seeds 0 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from trainer.data import scan_labelled_folder
from trainer.options import TrainSettings
from trainer.train import train

from .common import command_line, save, stamped

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared/data/omniglot/images_background_small1"
DEFAULT_SETTINGS = (
    "margin:random",
    "margin:semihard",
    "margin:distance",
    "triplet:random",
    "triplet:semihard",
    "triplet:distance",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="labelled folder (class = sub-folder)"
    )
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS), help="LOSS:SAMPLING pairs")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--max-classes", type=int, default=40, help="classes used (a fixed random subset)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--classes-per-batch", type=int, default=8)
    parser.add_argument("--images-per-class", type=int, default=4)
    parser.add_argument("--batches-per-epoch", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    return parser.parse_args(argv)


def class_subset(data: Path, max_classes: int, into: Path) -> int:
    """Link the images of a fixed random subset of classes under `into`; returns the class count."""
    scanned = scan_labelled_folder(data)
    chosen = scanned.classes
    if len(chosen) > max_classes:
        picks = np.random.default_rng(12345).choice(len(chosen), size=max_classes, replace=False)
        chosen = sorted(chosen[i] for i in picks)
    subset = scanned.subset(chosen)
    for path, label in zip(subset.paths, subset.labels, strict=True):
        folder = into / subset.classes[label].replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.name).symlink_to(path.resolve())
    return len(chosen)


def run_one(args: argparse.Namespace, folder: Path, out_dir: Path, setting: str, seed: int) -> dict:
    loss, sampling = setting.split(":")
    settings = TrainSettings(
        folder=str(folder),
        out=str(out_dir / f"{loss}-{sampling}-{seed}.safetensors"),
        backbone=args.backbone,
        embedding_dim=args.embedding_dim,
        image_size=args.image_size,
        loss=loss,
        sampling=sampling,
        epochs=args.epochs,
        classes_per_batch=args.classes_per_batch,
        images_per_class=args.images_per_class,
        batches_per_epoch=args.batches_per_epoch,
        device=args.device,
        seed=seed,
        workers=args.workers,
    )
    result = train(settings)
    start, last = result.history[0], result.history[-1]
    return {
        "loss": loss,
        "sampling": sampling,
        "seed": seed,
        "start_recall@1": start.recall_at_1,
        "start_map@r": start.map_at_r,
        "recall@1": last.recall_at_1,
        "map@r": last.map_at_r,
        "best_epoch": result.best_epoch,
        "best_recall@1": result.best_metrics["recall@1"],
        "final_loss": last.loss,
        "active_fraction": last.active_fraction,
        "images_per_second": last.images_per_second,
        "seconds": round(result.seconds, 1),
        "history": [{"epoch": h.epoch, "loss": h.loss, **h.metrics} for h in result.history],
    }


def print_table(rows: list[dict]) -> None:
    header = f"{'loss':8} {'sampling':9} {'seed':>4} {'R@1 start':>9} {'R@1':>6} {'MAP@R start':>11} {'MAP@R':>6} {'active':>6} {'s':>5}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['loss']:8} {r['sampling']:9} {r['seed']:>4} {r['start_recall@1']:>9.4f} {r['recall@1']:>6.4f} "
            f"{r['start_map@r']:>11.4f} {r['map@r']:>6.4f} {r['active_fraction'] or 0:>6.2f} {r['seconds']:>5.0f}"
        )
    if len({r["seed"] for r in rows}) > 1:
        print("\nmean over seeds")
        for setting in dict.fromkeys((r["loss"], r["sampling"]) for r in rows):
            chosen = [r for r in rows if (r["loss"], r["sampling"]) == setting]
            print(
                f"{setting[0]:8} {setting[1]:9} R@1 {statistics.mean(r['recall@1'] for r in chosen):.4f}  "
                f"MAP@R {statistics.mean(r['map@r'] for r in chosen):.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: labelled data not found at {args.data} (see ../shared/data/README.md)")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder, out_dir = Path(tmp) / "data", Path(tmp) / "runs"
        classes = class_subset(args.data, args.max_classes, folder)
        print(
            f"{args.data}: {classes} classes, half for training; {args.epochs} epochs at {args.image_size} px"
        )
        for seed in args.seeds:
            for setting in args.settings:
                row = run_one(args, folder, out_dir, setting, seed)
                rows.append(row)
                print(
                    f"  {setting} seed {seed}: R@1 {row['start_recall@1']:.4f} -> {row['recall@1']:.4f}",
                    flush=True,
                )
    print()
    print_table(rows)
    report = {
        "command": command_line("benchmarks.sampling", argv),
        "data": str(args.data),
        "classes": classes,
        "args": vars(args),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    save(stamped("sampling"), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
