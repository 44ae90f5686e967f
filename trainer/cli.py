"""`train` and `evaluate` subcommands, shared by `lookalike` and `python -m trainer`.

(`lookalike train-metric` is the app's: it learns with the library's model, `retrieval_app.cli.metric_commands`.)

Handlers return an exit code: 0 done, 1 a bug (logged with its traceback; one line says where), 2 bad
input (a `UserError`: one line on stderr), 130 stopped by Ctrl+C.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tqdm import tqdm

from foundation.errors import InputError, UserError
from foundation.logs import unexpected_message

from .options import (
    BACKBONE_NAMES,
    DEFAULT_BACKBONE,
    DEVICE_CHOICES,
    HEAD_INITS,
    LOSSES,
    SAMPLINGS,
    SELECT_METRICS,
    VAL_SPLITS,
    TrainSettings,
    ensemble_alpha_arg,
    image_size_arg,
)

if TYPE_CHECKING:
    from .train import EpochReport, StepReport

PROG = "lookalike"
EVALUATE_KEYS = ("recall@1", "recall@2", "recall@4", "recall@8", "map@r")


def user_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A `UserError` becomes exit code 2 and one line on stderr; any other error is a bug: logged, exit 1."""

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except UserError as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            print(f"{PROG}: error: {message}", file=sys.stderr)
            return 2
        except Exception as exc:
            message = unexpected_message(exc, f"{PROG} {handler.__name__} failed")
            print(f"{PROG}: {message}", file=sys.stderr)
            return 1

    return wrapped


def is_main_process() -> bool:
    """Only rank 0 of a torchrun job prints."""
    return int(os.environ.get("RANK", "0")) == 0


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """First Ctrl+C asks training to stop at the next batch (the last finished epoch is kept)."""
    requested = [False]
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        requested[0] = True
        signal.signal(signal.SIGINT, previous)
        print("\nstopping at the next batch (Ctrl+C again to abort)", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: requested[0]
    finally:
        signal.signal(signal.SIGINT, previous)


class TqdmTrainingProgress:
    """One tqdm bar per epoch (loss, active fraction, images/s), then a line with held-out Recall@1."""

    def __init__(self, enabled: bool = True, where: str = "") -> None:
        self.enabled = enabled
        self.where = where
        self.bar: tqdm | None = None
        self.epoch = -1
        self.losses: list[float] = []
        self.active: list[float] = []

    def on_step(self, report: StepReport) -> None:
        if not self.enabled:
            return
        if self.bar is None or report.epoch != self.epoch:
            self.close()
            self.epoch, self.losses, self.active = report.epoch, [], []
            self.bar = tqdm(total=report.steps, desc=f"epoch {report.epoch}", unit="batch", file=sys.stderr)
        if not report.skipped:
            self.losses.append(report.loss)
            self.active.append(report.active_fraction)
        self.bar.update(1)
        if self.losses:
            self.bar.set_postfix(
                loss=f"{sum(self.losses) / len(self.losses):.4f}",
                active=f"{sum(self.active) / len(self.active):.2f}",
                img_s=f"{report.images_per_second:.0f}",
                refresh=False,
            )

    def on_epoch(self, report: EpochReport) -> None:
        if not self.enabled:
            return
        self.close()
        best = "  (best)" if report.is_best else ""
        if report.epoch == 0:
            if self.where:
                tqdm.write(f"training on {self.where}", file=sys.stderr)
            line = f"start (no training): held-out R@1 {report.recall_at_1:.4f}  MAP@R {report.map_at_r:.4f}"
        else:
            line = (
                f"epoch {report.epoch}/{report.epochs}: loss {_fmt(report.loss)}  "
                f"active {_fmt(report.active_fraction, 2)}  {report.images_per_second or 0:.0f} img/s  "
                f"held-out R@1 {report.recall_at_1:.4f}  MAP@R {report.map_at_r:.4f}{best}"
            )
            if report.skipped_steps:
                line += f"  [{report.skipped_steps} steps skipped: loss not finite]"
        tqdm.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@user_errors
def cmd_train(args: argparse.Namespace) -> int:
    from foundation.devices import resolve_device

    from .devices import describe_device
    from .train import train
    from .train_state import state_path_for

    resume = args.resume
    if resume == "":
        resume = str(state_path_for(args.out))
    settings = TrainSettings(
        folder=args.folder,
        out=args.out,
        backbone=args.backbone,
        pretrained=args.pretrained,
        embedding_dim=args.embedding_dim or None,
        image_size=args.image_size,
        loss=args.loss,
        sampling=args.sampling,
        epochs=args.epochs,
        classes_per_batch=args.classes_per_batch,
        images_per_class=args.images_per_class,
        batches_per_epoch=args.batches_per_epoch,
        lr=args.lr,
        backbone_lr_factor=args.backbone_lr_factor,
        beta_lr=args.beta_lr,
        weight_decay=args.weight_decay,
        warmup_fraction=args.warmup_fraction,
        head_warmup_fraction=args.head_warmup_fraction,
        frozen_bn=args.frozen_bn,
        freeze_stem=args.freeze_stem,
        class_beta=args.class_beta,
        crop_scale=args.crop_scale,
        flip=args.flip,
        select_metric=args.select_metric,
        pooled_start=args.pooled_start,
        head_init=args.head_init,
        head_shrinkage=args.head_shrinkage,
        ensemble_alpha=args.ensemble_alpha,
        amp=args.amp,
        device=args.device,
        seed=args.seed,
        workers=args.workers,
        val_folder=args.val_folder,
        val_split=args.val_split,
        val_fraction=args.val_fraction,
        train_class_fraction=args.train_class_fraction,
        resume=resume,
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    where = describe_device(resolve_device(args.device), args.amp) + (
        f" x {world} processes" if world > 1 else ""
    )
    progress = TqdmTrainingProgress(enabled=not args.quiet and is_main_process(), where=where)
    with stop_on_interrupt() as should_stop:
        try:
            result = train(settings, progress.on_step, progress.on_epoch, should_stop)
        finally:
            progress.close()
    if is_main_process():
        if args.json:
            print(json.dumps(result.to_json()))
        else:
            state = "stopped early; resume with --resume" if result.cancelled else "done"
            for note in result.data.get("notes", []):
                print(note, file=sys.stderr)
            kept = f"kept epoch {result.best_epoch}" if result.best_epoch else "kept the untrained start"
            print(f"{state}: {result.payoff()}; {kept} -> {result.out}", file=sys.stderr)
    return 130 if result.cancelled else 0


def _embed_folder(args: argparse.Namespace):
    """Load the model named by --model and embed every image of the labelled folder."""
    from foundation.devices import resolve_device

    from .checkpoint import load_model
    from .data import scan_labelled_folder
    from .embedding import embed_images

    images = scan_labelled_folder(args.folder)
    if len(images.classes) < 2:
        raise InputError(f"{args.folder} has {len(images.classes)} class; retrieval needs at least 2")
    device = resolve_device(args.device)
    model = load_model(args.model, image_size=args.image_size).to(device)
    vectors, labels = embed_images(model, images, device, args.batch_size, args.workers)
    return model, images, vectors, labels


@user_errors
def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import retrieval_metrics

    _, images, vectors, labels = _embed_folder(args)
    metrics = retrieval_metrics(vectors, labels)
    payload = {key: float(metrics[key]) for key in EVALUATE_KEYS}
    payload.update(classes=len(images.classes), images=len(images))
    if args.json:
        print(json.dumps(payload))
    else:
        print(f"{args.folder}: {images.summary()}")
        print("  ".join(f"{key} {payload[key]:.4f}" for key in EVALUATE_KEYS))
    return 0


def _add_model_input_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="labelled folder: one sub-folder of images per class")
    parser.add_argument(
        "--model",
        default=DEFAULT_BACKBONE,
        help=f"backbone name (pretrained, pooled features) or a trained .safetensors checkpoint (default {DEFAULT_BACKBONE})",
    )
    parser.add_argument("--image-size", type=image_size_arg, help="input size (default: the model's own)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="decode processes (default 0: in-process)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` and `evaluate`, each with `handler(args) -> exit code`."""
    d = TrainSettings(folder="")
    train = subparsers.add_parser("train", help="fine-tune the embedding network on labelled folders")
    train.add_argument("folder", help="labelled folder: one sub-folder of images per class")
    train.add_argument("--out", default=d.out, help=f"best weights, a .safetensors path (default {d.out})")
    train.add_argument("--backbone", choices=sorted(BACKBONE_NAMES), default=d.backbone)
    train.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=d.pretrained)
    train.add_argument(
        "--embedding-dim", type=int, default=d.embedding_dim, help="projection size; 0 keeps pooled features"
    )
    train.add_argument("--image-size", type=image_size_arg, default=d.image_size)
    train.add_argument("--loss", choices=LOSSES, default=d.loss)
    train.add_argument("--sampling", choices=SAMPLINGS, default=d.sampling, help="triplet mining")
    train.add_argument("--epochs", type=int, default=d.epochs)
    train.add_argument(
        "--classes-per-batch", type=int, default=d.classes_per_batch, help="P of a P x K batch"
    )
    train.add_argument("--images-per-class", type=int, default=d.images_per_class, help="K of a P x K batch")
    train.add_argument("--batches-per-epoch", type=int, help="default: about one pass over the images")
    train.add_argument("--lr", type=float, default=d.lr, help="head learning rate")
    train.add_argument("--backbone-lr-factor", type=float, default=d.backbone_lr_factor)
    train.add_argument(
        "--beta-lr", type=float, default=d.beta_lr, help="learning rate of the margin loss's β"
    )
    train.add_argument("--weight-decay", type=float, default=d.weight_decay)
    train.add_argument("--warmup-fraction", type=float, default=d.warmup_fraction)
    train.add_argument(
        "--head-warmup-fraction",
        type=float,
        default=d.head_warmup_fraction,
        help="fraction of the steps that train the head only, before the backbone starts to learn",
    )
    train.add_argument("--frozen-bn", action=argparse.BooleanOptionalAction, default=d.frozen_bn)
    train.add_argument(
        "--freeze-stem",
        action=argparse.BooleanOptionalAction,
        default=d.freeze_stem,
        help="keep the pretrained layers up to stride 4 as they are "
        "(1.4-2x faster CPU steps; their BatchNorm follows --frozen-bn)",
    )
    train.add_argument(
        "--class-beta",
        action=argparse.BooleanOptionalAction,
        default=d.class_beta,
        help="margin loss: one learned boundary β per class (else one shared β)",
    )
    train.add_argument(
        "--crop-scale",
        type=float,
        default=d.crop_scale,
        help="smallest random crop, as a fraction of the image",
    )
    train.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=d.flip, help="random mirroring"
    )
    train.add_argument(
        "--select-metric",
        choices=SELECT_METRICS,
        default=d.select_metric,
        help="held-out measure that picks the epoch kept",
    )
    train.add_argument(
        "--pooled-start",
        action=argparse.BooleanOptionalAction,
        default=d.pooled_start,
        help="let the untrained pooled features (no head) compete as the start",
    )
    train.add_argument(
        "--head-init",
        choices=HEAD_INITS,
        default=d.head_init,
        help="start of the projection head: principal axes of the pretrained features (pca), "
        "or those whitened within your classes (lda)",
    )
    train.add_argument(
        "--head-shrinkage",
        type=float,
        default=d.head_shrinkage,
        help="lda start: how far each class's scatter is shrunk toward equal variances (above 0, at most 1)",
    )
    train.add_argument(
        "--ensemble-alpha",
        type=ensemble_alpha_arg,
        default=d.ensemble_alpha,
        help="keep start + ALPHA x (trained - start), from 0 (the start) to 1 (as trained): "
        "weight-space ensembling keeps generality on classes you did not label",
    )
    train.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=d.amp, help="mixed precision on CUDA"
    )
    train.add_argument("--device", choices=DEVICE_CHOICES, default=d.device)
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--workers", type=int, help="data loading processes (default: by device)")
    train.add_argument(
        "--resume",
        nargs="?",
        const="",
        help="continue from a training state (default: the one beside --out, NAME.state.safetensors)",
    )
    train.add_argument(
        "--val-folder", help="held-out labelled images to choose the epoch on (default: split FOLDER)"
    )
    train.add_argument(
        "--val-split",
        choices=VAL_SPLITS,
        default=d.val_split,
        help="images: hold out some photos of every class (default); classes: hold out whole classes",
    )
    train.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="images held out per class (at least 2; classes with fewer than 4 images train only)",
    )
    train.add_argument(
        "--train-class-fraction",
        type=float,
        default=d.train_class_fraction,
        help="with --val-split classes: the fraction of classes that train",
    )
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    train.set_defaults(handler=cmd_train)

    evaluate = subparsers.add_parser("evaluate", help="held-out retrieval quality: Recall@1/2/4/8, MAP@R")
    _add_model_input_flags(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Lookalike trainer: deep and linear metric learning."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m trainer`: the same subcommands as `lookalike`."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
