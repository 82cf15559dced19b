"""Few-shot splits, batch streams and batched augmentation."""

from __future__ import annotations

import math

import pytest
import torch

from gantransfer.data import AffineAugment, BatchStream, per_class_indices, random_affine
from gantransfer.errors import ConfigError, DataError


def test_k_per_class_is_seeded_disjoint_and_complete():
    labels = torch.arange(100) % 10
    labelled, unlabelled = per_class_indices(labels, k=3, seed=7)
    assert torch.bincount(labels[labelled], minlength=10).tolist() == [3] * 10
    assert sorted(torch.cat([labelled, unlabelled]).tolist()) == list(range(100))
    again, _ = per_class_indices(labels, k=3, seed=7)
    other, _ = per_class_indices(labels, k=3, seed=8)
    assert torch.equal(labelled, again) and not torch.equal(labelled, other)


def test_k_zero_and_too_few_examples():
    labels = torch.tensor([0, 0, 1])
    labelled, unlabelled = per_class_indices(labels, k=0, seed=0)
    assert len(labelled) == 0 and len(unlabelled) == 3
    with pytest.raises(DataError, match="class 1 has only 1 examples"):
        per_class_indices(labels, k=2, seed=0)


def test_stream_cycles_small_sets_and_resumes_exactly():
    data = torch.arange(10)
    stream = BatchStream((data,), batch_size=64, seed=3)
    (first,) = next(stream)
    assert len(first) == 64 and torch.bincount(first, minlength=10).min() >= 6
    state = stream.state_dict()
    expected = [next(stream)[0] for _ in range(3)]
    resumed = BatchStream((data,), batch_size=64, seed=3)
    resumed.load_state_dict(state)
    assert all(torch.equal(a, next(resumed)[0]) for a in expected)


def test_stream_covers_each_epoch_once_and_shards_by_rank():
    data = torch.arange(12)
    stream = BatchStream((data,), batch_size=4, seed=0)
    epoch = torch.cat([next(stream)[0] for _ in range(3)])
    assert sorted(epoch.tolist()) == list(range(12))
    ranks = [BatchStream((data,), batch_size=2, seed=0, rank=r, world_size=2) for r in range(2)]
    combined = torch.cat([next(s)[0] for s in ranks])
    assert torch.equal(combined, BatchStream((data,), batch_size=4, seed=0).__next__()[0])


def test_affine_identity_and_background():
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    assert torch.equal(random_affine(images, AffineAugment()), images)
    background = -torch.ones(2, 1, 28, 28)
    moved = random_affine(background, AffineAugment(degrees=30, translate=0.2, scale=0.2))
    assert torch.allclose(moved, background, atol=1e-6)


def test_affine_translation_moves_a_dot():
    image = -torch.ones(1, 1, 28, 28)
    image[0, 0, 14, 14] = 1
    generator = torch.Generator().manual_seed(0)
    moved = random_affine(image.repeat(8, 1, 1, 1), AffineAugment(translate=0.2), generator)
    centres = [divmod(int(m.flatten().argmax()), 28) for m in moved]
    assert len(set(centres)) > 1
    assert all(abs(r - 14) <= math.ceil(0.2 * 28) + 1 and abs(c - 14) <= math.ceil(0.2 * 28) + 1 for r, c in centres)


def test_affine_rejects_bad_ranges():
    with pytest.raises(ConfigError):
        AffineAugment(degrees=-1)
    with pytest.raises(ConfigError):
        AffineAugment(translate=1.5)
