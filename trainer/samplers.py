"""P x K batches for metric learning: P classes with K images each, so every batch has positives.

Under data-parallel training all ranks draw the same global sequence (same seed and epoch) and
each keeps its own P of the global P x world classes, so the gathered global batch holds
P x world distinct classes and P x K x world images.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class PKBatchSampler(Sampler[list[int]]):
    """Index batches of `classes_per_batch` classes x `images_per_class` images.

    Classes are visited in reshuffled rounds (each class once per round) so they are used evenly;
    images are drawn without replacement, repeating images only for classes smaller than K.
    The default epoch length shows each image about once across all ranks.
    """

    def __init__(
        self,
        labels: Sequence[int],
        classes_per_batch: int,
        images_per_class: int,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        batches_per_epoch: int | None = None,
    ) -> None:
        super().__init__()
        if classes_per_batch < 1 or images_per_class < 1:
            raise ValueError("classes_per_batch and images_per_class must be at least 1")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in 0..{num_replicas - 1}")
        if batches_per_epoch is not None and batches_per_epoch < 1:
            raise ValueError(f"batches_per_epoch must be at least 1, got {batches_per_epoch}")
        label_array = np.asarray(labels, dtype=np.int64)
        if label_array.ndim != 1 or len(label_array) == 0:
            raise ValueError("labels must be a non-empty sequence of class ids")
        classes, inverse = np.unique(label_array, return_inverse=True)
        global_classes = classes_per_batch * num_replicas
        if len(classes) < global_classes:
            raise ValueError(
                f"a global batch needs {global_classes} distinct classes ({classes_per_batch} per batch "
                f"x {num_replicas} processes) but there are only {len(classes)}"
            )
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse))[:-1]
        self.class_members: list[np.ndarray] = np.split(order, bounds)
        self.classes_per_batch = classes_per_batch
        self.images_per_class = images_per_class
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        global_batch = global_classes * images_per_class
        self.batches_per_epoch = batches_per_epoch or max(1, len(label_array) // global_batch)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose (deterministic) batches the next iteration yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        queue: deque[int] = deque()
        first = self.rank * self.classes_per_batch
        for _ in range(self.batches_per_epoch):
            global_classes = self._next_classes(rng, queue)
            batch: list[int] = []
            for position, class_index in enumerate(global_classes):
                images = self._draw_images(rng, self.class_members[class_index])
                if first <= position < first + self.classes_per_batch:
                    batch.extend(int(i) for i in images)
            yield batch

    def _next_classes(self, rng: np.random.Generator, queue: deque[int]) -> list[int]:
        """The next P x world distinct classes from reshuffled rounds over all classes."""
        wanted = self.classes_per_batch * self.num_replicas
        chosen: list[int] = []
        while len(chosen) < wanted:
            if not queue:
                round_order = rng.permutation(len(self.class_members)).tolist()
                taken = set(chosen)  # classes already in this batch wait until the end of the new round
                queue.extend(
                    [c for c in round_order if c not in taken] + [c for c in round_order if c in taken]
                )
            chosen.append(queue.popleft())
        return chosen

    def _draw_images(self, rng: np.random.Generator, members: np.ndarray) -> np.ndarray:
        """K images of one class: distinct when it has K or more, else all of them plus random repeats."""
        shuffled = rng.permutation(members)
        if len(members) >= self.images_per_class:
            return shuffled[: self.images_per_class]
        repeats = rng.choice(members, size=self.images_per_class - len(members), replace=True)
        return np.concatenate([shuffled, repeats])
