"""Fine-tune the embedding network on labelled folders with a mined metric-learning loss.

Built so that training never leaves a person worse off than not training: the head starts
at PCA of the pretrained features, whitened within the labelled classes (`head_init`: step 0
keeps their geometry and already discounts each class's own variation), BatchNorm stays frozen,
the backbone learns slower than the head after a warm-up, every epoch's candidate is the
weight-space ensemble start + α (trained − start) (`weight_ensemble`, α = `ensemble_alpha`),
and the untrained start (epoch 0: the head start, or the plain pooled features when those score
higher) competes for the best held-out score that decides which weights become `out`.
Progress goes to plain callbacks, so the CLI shows tqdm bars and the GUI a live plot.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from foundation.errors import InputError

from . import distributed
from .checkpoint import save_checkpoint
from .data import ImageDataset, LabelledImages, scan_labelled_folder, split_by_class, split_by_images
from .devices import autocast, autocast_dtype
from .embedding import embed_images
from .evaluation import retrieval_metrics
from .head_init import init_head
from .losses import make_loss
from .miners import make_miner
from .model import EmbeddingNet, ModelConfig, build_model, freeze_stem
from .optim import build_optimizer, group_schedules
from .options import (
    HEAD_INITS,
    LOSSES,
    SAMPLINGS,
    SELECT_METRICS,
    TRAIN_MIN_IMAGES,
    VAL_MIN_IMAGES,
    VAL_SPLITS,
    TrainSettings,
)
from .samplers import PKBatchSampler
from .train_state import load_train_state, save_train_state, state_path_for
from .transforms import train_transform
from .weight_ensemble import ensembled, snapshot

PCA_MAX_IMAGES = 2048
# what a resumed run must share with the saved one: the network, and the class split (seed, fraction)
RESUME_FIXED = (
    "backbone",
    "embedding_dim",
    "image_size",
    "pretrained",
    "frozen_bn",
    "freeze_stem",
    "loss",
    "seed",
    "train_class_fraction",
    "val_folder",
    "val_split",
    "val_fraction",
)
# what states saved before a RESUME_FIXED setting existed did: they trained the stem too
RESUME_LEGACY = {"freeze_stem": False}


@dataclass
class StepReport:
    """One optimisation step; `skipped` when the loss or gradients were not finite."""

    epoch: int
    step: int
    steps: int
    loss: float
    active_fraction: float
    images_per_second: float
    skipped: bool = False


@dataclass
class EpochReport:
    """One epoch (epoch 0 is the untrained start, so it has no loss) and its held-out retrieval."""

    epoch: int
    epochs: int
    loss: float | None
    active_fraction: float | None
    images_per_second: float | None
    recall_at_1: float
    map_at_r: float
    is_best: bool
    metrics: dict[str, float] = field(default_factory=dict)
    skipped_steps: int = 0


@dataclass
class TrainResult:
    """What a run produced; `out` holds the best weights, `state` the last finished epoch."""

    out: Path
    state: Path
    best_epoch: int
    best_metrics: dict[str, float]
    start_metrics: dict[str, float]
    history: list[EpochReport]
    epochs_completed: int
    cancelled: bool
    skipped_steps: int
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)

    def payoff(self) -> str:
        """The before and after on the held-out images, and what training used, for people."""
        data = self.data
        start, best = self.start_metrics.get("recall@1"), self.best_metrics.get("recall@1")
        text = f"Recall@1 on your held-out photos: {_fmt(start)} → {_fmt(best)}"
        if data:
            text += (
                f" (trained on {data['train_images']} images of {data['train_classes']} classes, "
                f"measured on {data['val_images']} held-out images of {data['val_classes']} classes)"
            )
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "state": str(self.state),
            "best_epoch": self.best_epoch,
            "metrics": self.best_metrics,
            "start_metrics": self.start_metrics,
            "epochs_completed": self.epochs_completed,
            "cancelled": self.cancelled,
            "skipped_steps": self.skipped_steps,
            "seconds": round(self.seconds, 2),
            "data": self.data,
        }


@dataclass
class _Data:
    train: LabelledImages
    val: LabelledImages
    notes: list[str]


def check_settings(settings: TrainSettings) -> None:
    """Raise ValueError with a plain reason for settings that cannot work."""
    if settings.loss not in LOSSES:
        raise InputError(f"unknown loss {settings.loss!r}; choose one of: {', '.join(LOSSES)}")
    if settings.sampling not in SAMPLINGS:
        raise InputError(f"unknown sampling {settings.sampling!r}; choose one of: {', '.join(SAMPLINGS)}")
    if not str(settings.out).endswith(".safetensors"):
        raise InputError(f"--out must be a .safetensors path, got {settings.out}")
    if settings.classes_per_batch < 2 or settings.images_per_class < 2:
        raise InputError("a batch needs at least 2 classes and 2 images per class")
    if settings.epochs < 0:
        raise InputError(f"epochs must be 0 or more, got {settings.epochs}")
    if settings.lr <= 0 or settings.backbone_lr_factor < 0 or settings.beta_lr < 0:
        raise InputError("learning rates must be positive")
    if settings.select_metric not in SELECT_METRICS:
        raise InputError(
            f"unknown selection metric {settings.select_metric!r}; choose one of: {', '.join(SELECT_METRICS)}"
        )
    if not 0.0 < settings.crop_scale <= 1.0:
        raise InputError(f"crop scale must be in (0, 1], got {settings.crop_scale}")
    if not 0.0 <= settings.head_warmup_fraction < 1.0:
        raise InputError(f"head warm-up fraction must be in [0, 1), got {settings.head_warmup_fraction}")
    if settings.val_split not in VAL_SPLITS:
        raise InputError(
            f"unknown validation split {settings.val_split!r}; choose one of: {', '.join(VAL_SPLITS)}"
        )
    if settings.embedding_dim is not None and settings.embedding_dim < 2:
        raise InputError(f"embedding dim must be at least 2 (or none), got {settings.embedding_dim}")
    if settings.head_init not in HEAD_INITS:
        raise InputError(f"unknown head start {settings.head_init!r}; choose one of: {', '.join(HEAD_INITS)}")
    if not 0.0 < settings.head_shrinkage <= 1.0:
        raise InputError(f"head shrinkage must be above 0 and at most 1, got {settings.head_shrinkage}")
    if not 0.0 <= settings.ensemble_alpha <= 1.0:
        raise InputError(f"ensemble alpha must be from 0 to 1, got {settings.ensemble_alpha}")


def model_config(settings: TrainSettings) -> ModelConfig:
    """The network a run trains (and that its checkpoints describe)."""
    return ModelConfig(
        backbone=settings.backbone,
        embedding_dim=settings.embedding_dim,
        image_size=settings.image_size,
        pretrained=settings.pretrained,
        frozen_bn=settings.frozen_bn,
    )


def load_data(settings: TrainSettings) -> _Data:
    """Training and held-out sets: a class split of `folder`, or `folder` and `val_folder`."""
    scanned = scan_labelled_folder(settings.folder)
    notes = [f"{settings.folder}: {scanned.summary()}"]
    if settings.val_folder:
        val = scan_labelled_folder(settings.val_folder)
        notes.append(f"{settings.val_folder}: {val.summary()}")
        if len(val.classes) < 2:
            raise InputError(f"the validation folder needs at least 2 classes, found {len(val.classes)}")
        if len(scanned.classes) < 2:
            raise InputError(f"training needs at least 2 classes, found {len(scanned.classes)}")
        return _Data(scanned, val, notes)
    if settings.val_split == "classes":
        train, val = split_by_class(scanned, settings.train_class_fraction, settings.seed)
        notes.append(
            f"training on {len(train.classes)} classes, validating on {len(val.classes)} unseen classes"
        )
        return _Data(train, val, notes)
    split = split_by_images(scanned, settings.val_fraction, settings.seed)
    validated = len(scanned.classes) - len(split.train_only)
    notes.append(
        f"training on {len(split.train)} images of all {len(scanned.classes)} classes, validating on "
        f"{len(split.val)} other images of {validated} of them"
    )
    if split.train_only:
        notes.append(
            f"{len(split.train_only)} classes have fewer than {VAL_MIN_IMAGES + TRAIN_MIN_IMAGES} images, "
            "too few to hold some out, so they train "
            f"but are not validated: {', '.join(split.train_only)}"
        )
    return _Data(split.train, split.val, notes)


def default_workers(device: torch.device) -> int:
    """Decode workers: many to feed a GPU, few on a CPU, which also has to do the maths."""
    cores = os.cpu_count() or 1
    if device.type == "cuda":
        return max(1, min(8, cores - 1))
    return max(0, min(2, cores // 2))


def train(
    settings: TrainSettings,
    on_step: Callable[[StepReport], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Run (or resume) training; returns when done, or early and `cancelled` when should_stop() is true.

    The caller's global RNG state is left as it was.
    """
    check_settings(settings)
    context, device = distributed.setup(settings.device)
    try:
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return _Run(settings, context, device, on_step, on_epoch, should_stop).run()
    finally:
        distributed.teardown(context)


class _Run:
    """One training run's objects and loop (an object so the steps read as small methods)."""

    def __init__(
        self,
        settings: TrainSettings,
        context: distributed.DistContext,
        device: torch.device,
        on_step: Callable[[StepReport], None] | None,
        on_epoch: Callable[[EpochReport], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.settings = settings
        self.context = context
        self.device = device
        self.on_step = on_step if context.is_main else None
        self.on_epoch = on_epoch if context.is_main else None
        self.should_stop = should_stop or (lambda: False)
        self.out = Path(settings.out)
        self.state_path = state_path_for(self.out)
        self.workers = settings.workers if settings.workers is not None else default_workers(device)
        self.history: list[EpochReport] = []
        self.best_epoch = 0
        self.best_key: tuple[float, float] = (-1.0, -1.0)
        self.best_metrics: dict[str, float] = {}
        self.start_metrics: dict[str, float] = {}
        self.skipped_steps = 0
        self.pooled_start: tuple[EmbeddingNet, dict[str, float]] | None = None
        self.start_state: dict[str, torch.Tensor] | None = None  # the head start, rank 0

    # ----------------------------------------------------------------- setup
    def run(self) -> TrainResult:
        started = time.perf_counter()
        settings = self.settings
        torch.manual_seed(settings.seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.data = load_data(settings)
        self.config = model_config(settings)
        self.classes_per_batch = self._classes_per_batch()
        self.loss = make_loss(
            settings.loss, num_classes=len(self.data.train.classes) if settings.class_beta else None
        )
        self.miner = make_miner(settings.sampling)
        resume_state = self._load_resume_state(settings.resume) if settings.resume else None
        self._build(resume_state)
        start_epoch = (
            self._restore(resume_state) if resume_state is not None else self._start_from_pretrained()
        )
        self.train_model: torch.nn.Module = self.model
        if self.context.enabled:
            self.train_model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        cancelled = False
        epoch = start_epoch
        for epoch in range(start_epoch + 1, settings.epochs + 1):
            if not self._train_epoch(epoch):
                cancelled = True
                epoch -= 1
                break
            self._finish_epoch(epoch)
        return TrainResult(
            out=self.out,
            state=self.state_path,
            best_epoch=self.best_epoch,
            best_metrics=self.best_metrics,
            start_metrics=self.start_metrics,
            history=self.history,
            epochs_completed=epoch,
            cancelled=cancelled,
            skipped_steps=self.skipped_steps,
            seconds=time.perf_counter() - started,
            data=self._data_info(),
        )

    def _build(self, resume_state: dict[str, Any] | None) -> None:
        """Network, loss, optimizer, scaler, sampler and schedule, on the training device."""
        settings = self.settings
        if resume_state is None:
            self.model = build_model(self.config, seed=settings.seed)
        else:  # the weights come from the state: no pretrained download needed
            self.model = build_model(dataclasses.replace(self.config, pretrained=False), seed=settings.seed)
            self.model.config = self.config
            self.model.load_state_dict(resume_state["model"])
        if settings.freeze_stem and settings.pretrained:
            freeze_stem(self.model)
        self.model.to(self.device)
        self.loss.to(self.device)
        if self.device.type == "cuda":
            self.model.to(memory_format=torch.channels_last)
        self.amp_dtype = autocast_dtype(self.device, settings.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.optimizer = build_optimizer(
            self.model,
            self.loss,
            head_lr=settings.lr,
            backbone_lr=settings.lr * settings.backbone_lr_factor,
            loss_lr=settings.beta_lr,
            weight_decay=settings.weight_decay,
        )
        self.sampler = PKBatchSampler(
            self.data.train.labels,
            self.classes_per_batch,
            settings.images_per_class,
            seed=settings.seed,
            num_replicas=self.context.world_size,
            rank=self.context.rank,
            batches_per_epoch=settings.batches_per_epoch,
        )
        self.steps_per_epoch = len(self.sampler)
        total = self.steps_per_epoch * settings.epochs
        schedules = group_schedules(
            self.optimizer.param_groups,
            total,
            round(total * settings.warmup_fraction),
            round(total * settings.head_warmup_fraction),
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedules)

    def _classes_per_batch(self) -> int:
        """P, lowered when there are fewer training classes than a global batch needs."""
        available = len(self.data.train.classes) // self.context.world_size
        if available < 1:
            raise InputError(
                f"{len(self.data.train.classes)} training classes cannot fill batches on "
                f"{self.context.world_size} processes"
            )
        return min(self.settings.classes_per_batch, available)

    def _start_from_pretrained(self) -> int:
        """Head start, then epoch 0: the untrained start is validated and saved as the first best."""
        if self.context.is_main:
            self.pooled_start = self._pooled_candidate()
            self._init_head()
            self.start_state = snapshot(self.model)
        self._finish_epoch(0)
        return 0

    def _pooled_candidate(self) -> tuple[EmbeddingNet, dict[str, float]] | None:
        """The pretrained pooled features without head (zero-shot), scored as an epoch-0 candidate.

        A low-dimensional head fitted on few images can retrieve worse than the full pooled
        features; offering those too makes the "not training" fallback exactly zero-shot retrieval.
        """
        settings = self.settings
        has_head = not isinstance(self.model.head, torch.nn.Identity)
        if not (settings.pooled_start and settings.pretrained and has_head):
            return None
        config = dataclasses.replace(self.config, embedding_dim=None)
        pooled = EmbeddingNet(config, self.model.backbone)
        return pooled, self.validate(pooled)

    def _init_head(self) -> None:
        images = self.data.train
        if len(images) > PCA_MAX_IMAGES:
            chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.settings.seed))
            keep = sorted(chosen[:PCA_MAX_IMAGES].tolist())
            images = LabelledImages(
                [images.paths[i] for i in keep], [images.labels[i] for i in keep], images.classes
            )
        features, labels = embed_images(
            self.model, images, self.device, self.settings.eval_batch_size, self.workers, pooled=True
        )
        init_head(
            self.model,
            features,
            labels if self.settings.head_init == "lda" else None,
            self.settings.head_shrinkage,
            seed=self.settings.seed,
        )

    def _load_resume_state(self, resume: str) -> dict[str, Any]:
        path = Path(resume)
        if not path.name.endswith(".state.safetensors") and state_path_for(path).is_file():
            path = state_path_for(path)
        state = load_train_state(path)
        saved = state["settings"]
        different = [
            f"{name} {saved.get(name, RESUME_LEGACY.get(name))!r} -> {getattr(self.settings, name)!r}"
            for name in RESUME_FIXED
            if saved.get(name, RESUME_LEGACY.get(name)) != getattr(self.settings, name)
        ]
        here = dataclasses.asdict(self.settings)
        if _head_start(saved) != _head_start(here):
            different.append(f"head start {_head_start(saved)} -> {_head_start(here)}")
        if different:
            raise InputError(f"cannot resume {path} with different settings: {'; '.join(different)}")
        return state

    def _restore(self, state: dict[str, Any]) -> int:
        """Optimizer, schedule, scaler, loss, RNG and history of the last finished epoch."""
        self.loss.load_state_dict(state["loss"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:  # empty when saved without fp16 (CPU, bf16)
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["cpu"])
        cuda_states = state["rng"].get("cuda") or []
        if self.device.type == "cuda" and len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        self.history = [EpochReport(**entry) for entry in state["history"]]
        self.best_epoch = state["best_epoch"]
        self.best_metrics = state["best_metrics"]
        self.best_key = self._selection_key(self.best_metrics)
        self.start_metrics = state["start_metrics"]
        self.skipped_steps = state["skipped_steps"]
        start = state.get("start_model") or {}  # empty on other ranks and in older states
        self.start_state = {k: v.to(self.device) for k, v in start.items()} or None
        if self.start_state is None and self.context.is_main and self.settings.ensemble_alpha != 1.0:
            raise InputError(
                "this training state has no start weights to ensemble with; resume with --ensemble-alpha 1"
            )
        return int(state["epoch"])

    # ----------------------------------------------------------------- training
    def _train_epoch(self, epoch: int) -> bool:
        """Train one epoch; False when stopped early."""
        settings = self.settings
        self.sampler.set_epoch(epoch)
        dataset = ImageDataset(
            self.data.train,
            train_transform(self.config, settings.crop_scale, settings.flip),
            settings.image_size,
        )
        loader = DataLoader(
            dataset,
            batch_sampler=self.sampler,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(_mix(settings.seed, epoch, 1)),
        )
        mining = torch.Generator(device=self.device).manual_seed(_mix(settings.seed, epoch, 2))
        self.train_model.train()
        self.epoch_losses: list[float] = []
        self.epoch_active: list[float] = []
        self.epoch_skipped = 0
        epoch_images = 0
        epoch_started = tick = time.perf_counter()
        for step, (images, labels) in enumerate(loader, start=1):
            if distributed.any_rank(self.should_stop(), self.context, self.device):
                return False
            loss_value, active, skipped = self._step(images, labels, mining)
            now = time.perf_counter()
            global_images = images.shape[0] * self.context.world_size
            epoch_images += global_images
            if self.on_step:
                rate = global_images / max(now - tick, 1e-9)
                self.on_step(StepReport(epoch, step, self.steps_per_epoch, loss_value, active, rate, skipped))
            tick = now
        self.epoch_rate = epoch_images / max(time.perf_counter() - epoch_started, 1e-9)
        return True

    def _step(
        self, images: torch.Tensor, labels: torch.Tensor, mining: torch.Generator
    ) -> tuple[float, float, bool]:
        """One optimisation step on the global batch; not applied when anything is not finite."""
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.amp_dtype):
            embeddings = self.train_model(images)
        embeddings, labels = distributed.gather_embeddings(embeddings.float(), labels)
        triplets = self.miner(embeddings.detach(), labels, generator=mining)
        output = self.loss(embeddings, labels, triplets)
        loss_value = float(output.loss.detach())
        active = float(output.active_fraction)
        self.optimizer.zero_grad(set_to_none=True)
        skipped = not math.isfinite(loss_value)
        if not skipped:
            self.scaler.scale(output.loss).backward()
            self.scaler.unscale_(self.optimizer)
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            norm = torch.nn.utils.clip_grad_norm_(params, self.settings.max_grad_norm)
            if self.scaler.is_enabled():
                self.scaler.step(self.optimizer)  # skips the update itself on inf/nan gradients
            elif torch.isfinite(norm):
                self.optimizer.step()
            else:
                skipped = True
            self.scaler.update()
        self.scheduler.step()
        if skipped:
            self.optimizer.zero_grad(set_to_none=True)
            self.epoch_skipped += 1
            self.skipped_steps += 1
        else:
            self.epoch_losses.append(loss_value)
            self.epoch_active.append(active)
        return loss_value, active, skipped

    # ----------------------------------------------------------------- validation and saving
    def _finish_epoch(self, epoch: int) -> None:
        """Validate on held-out classes, keep the best weights, save the resumable state (rank 0)."""
        if self.context.is_main:
            model = self._candidate(epoch)
            metrics = self.validate(model)
            if epoch == 0 and self.pooled_start is not None:
                if self._selection_key(self.pooled_start[1]) > self._selection_key(metrics):
                    model, metrics = self.pooled_start
                self.pooled_start = None
            key = self._selection_key(metrics)
            is_best = key > self.best_key
            trained = epoch > 0
            report = EpochReport(
                epoch=epoch,
                epochs=self.settings.epochs,
                loss=_mean(self.epoch_losses) if trained else None,
                active_fraction=_mean(self.epoch_active) if trained else None,
                images_per_second=self.epoch_rate if trained else None,
                recall_at_1=metrics["recall@1"],
                map_at_r=metrics["map@r"],
                is_best=is_best,
                metrics=metrics,
                skipped_steps=self.epoch_skipped if trained else 0,
            )
            self.history.append(report)
            if epoch == 0:
                self.start_metrics = metrics
            if is_best:
                self.best_key, self.best_epoch, self.best_metrics = key, epoch, metrics
                save_checkpoint(self.out, model, self._checkpoint_info())
            self._save_state(epoch)
            if self.on_epoch:
                self.on_epoch(report)
        distributed.barrier(self.context)

    def _candidate(self, epoch: int) -> EmbeddingNet:
        """The network an epoch offers: the start + α (trained − start) ensemble (α = 1: as trained)."""
        alpha = self.settings.ensemble_alpha
        if epoch == 0 or alpha == 1.0 or self.start_state is None:
            return self.model
        return ensembled(self.model, self.start_state, alpha).eval()

    def _selection_key(self, metrics: dict[str, float]) -> tuple[float, float]:
        """Held-out score that ranks epochs: the chosen metric, ties broken by the other one."""
        first = self.settings.select_metric
        second = next(name for name in SELECT_METRICS if name != first)
        return metrics[first], metrics[second]

    def validate(self, model: EmbeddingNet | None = None) -> dict[str, float]:
        """Retrieval of `model` (default: the one training) among the held-out images: Recall@1/2/4/8, MAP@R."""
        vectors, labels = embed_images(
            model or self.model, self.data.val, self.device, self.settings.eval_batch_size, self.workers
        )
        if not torch.isfinite(vectors).all():  # a diverged network scores nothing, so it is never kept
            return dict.fromkeys(("recall@1", "recall@2", "recall@4", "recall@8", "map@r"), 0.0)
        return {k: float(v) for k, v in retrieval_metrics(vectors, labels).items()}

    def _checkpoint_info(self) -> dict[str, Any]:
        return {
            "settings": dataclasses.asdict(self.settings),
            "history": [dataclasses.asdict(report) for report in self.history],
            "metrics": self.best_metrics,
            "best_epoch": self.best_epoch,
            "start_metrics": self.start_metrics,
            "data": self._data_info(),
        }

    def _data_info(self) -> dict[str, Any]:
        """What the run trained and validated on (classes count those with images in the set)."""
        return {
            "train_classes": len(set(self.data.train.labels)),
            "train_images": len(self.data.train),
            "val_classes": len(set(self.data.val.labels)),
            "val_images": len(self.data.val),
            "val_split": "folder" if self.settings.val_folder else self.settings.val_split,
            "world_size": self.context.world_size,
            "global_batch": self.classes_per_batch * self.settings.images_per_class * self.context.world_size,
            "notes": self.data.notes,
        }

    def _save_state(self, epoch: int) -> None:
        rng: dict[str, Any] = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        save_train_state(
            self.state_path,
            {
                "epoch": epoch,
                "settings": dataclasses.asdict(self.settings),
                "model": self.model.state_dict(),
                "loss": self.loss.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": rng,
                "history": [dataclasses.asdict(report) for report in self.history],
                "best_epoch": self.best_epoch,
                "best_metrics": self.best_metrics,
                "start_metrics": self.start_metrics,
                "skipped_steps": self.skipped_steps,
                "start_model": self.start_state or {},
            },
        )


def _head_start(settings: dict[str, Any]) -> tuple[str, float | None]:
    """What decided a run's head start (states saved before `head_init` existed started from PCA)."""
    method = settings.get("head_init", "pca")
    return method, settings.get("head_shrinkage") if method == "lda" else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mix(seed: int, epoch: int, stream: int) -> int:
    """A distinct, reproducible seed per (run seed, epoch, purpose)."""
    return (seed * 1_000_003 + epoch * 7_919 + stream) % (2**63)
