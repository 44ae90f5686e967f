"""P x K batch sampler: batch structure, replacement only for small classes, determinism, DDP shares."""

from __future__ import annotations

from collections import Counter

import pytest

from trainer.samplers import PKBatchSampler

# 12 classes; class c has 2 + c % 5 images (2..6), labels interleaved so indices are not sorted by class
SIZES = [2 + c % 5 for c in range(12)]
LABELS = [c for round_ in range(max(SIZES)) for c in range(12) if round_ < SIZES[c]]


def _classes_of(batch: list[int]) -> list[int]:
    return [LABELS[i] for i in batch]


def test_batches_hold_p_classes_of_k_images():
    sampler = PKBatchSampler(LABELS, classes_per_batch=3, images_per_class=4, seed=1, batches_per_epoch=20)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 20
    for batch in batches:
        assert len(batch) == 12
        counts = Counter(_classes_of(batch))
        assert len(counts) == 3 and set(counts.values()) == {4}
        for label in counts:
            members = [i for i in batch if LABELS[i] == label]
            if SIZES[label] >= 4:
                assert len(set(members)) == 4  # no repeats when the class is big enough
            else:
                assert set(members) == {
                    i for i, y in enumerate(LABELS) if y == label
                }  # all of it, then repeats


def test_classes_are_used_evenly():
    sampler = PKBatchSampler(LABELS, classes_per_batch=4, images_per_class=2, batches_per_epoch=30)
    counts = Counter(label for batch in sampler for label in set(_classes_of(batch)))
    # 30 batches x 4 classes = 10 full rounds over 12 classes: each class exactly 10 times
    assert set(counts.values()) == {10}


def test_same_seed_and_epoch_repeat_other_epochs_differ():
    a = PKBatchSampler(LABELS, 3, 2, seed=5, batches_per_epoch=6)
    b = PKBatchSampler(LABELS, 3, 2, seed=5, batches_per_epoch=6)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b) == list(a)
    b.set_epoch(3)
    assert list(a) != list(b)
    assert list(PKBatchSampler(LABELS, 3, 2, seed=6, batches_per_epoch=6)) != list(
        PKBatchSampler(LABELS, 3, 2, seed=5, batches_per_epoch=6)
    )


def test_default_epoch_shows_each_image_about_once():
    sampler = PKBatchSampler(LABELS, classes_per_batch=2, images_per_class=3, num_replicas=2)
    assert len(sampler) == len(LABELS) // (2 * 3 * 2)


def test_replicas_get_disjoint_classes_of_one_global_batch():
    world = 3
    samplers = [
        PKBatchSampler(LABELS, 2, 3, seed=9, num_replicas=world, rank=r, batches_per_epoch=8)
        for r in range(world)
    ]
    for sampler in samplers:
        sampler.set_epoch(4)
    per_rank = [list(sampler) for sampler in samplers]
    assert len({len(batches) for batches in per_rank}) == 1
    for step in range(8):
        class_sets = [set(_classes_of(per_rank[r][step])) for r in range(world)]
        assert all(len(classes) == 2 for classes in class_sets)
        assert len(set().union(*class_sets)) == 2 * world  # disjoint: 6 distinct classes per global batch
    single = PKBatchSampler(LABELS, 2 * world, 3, seed=9, batches_per_epoch=8)
    single.set_epoch(4)
    # the global batch is what one process with P x world classes would draw
    assert [sorted(sum((per_rank[r][s] for r in range(world)), [])) for s in range(8)] == [
        sorted(batch) for batch in single
    ]


def test_impossible_settings_are_clear_errors():
    with pytest.raises(ValueError, match="only 12"):
        PKBatchSampler(LABELS, classes_per_batch=5, images_per_class=2, num_replicas=3)
    with pytest.raises(ValueError, match="rank"):
        PKBatchSampler(LABELS, 2, 2, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="non-empty"):
        PKBatchSampler([], 2, 2)
