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


# --- DiffAugment ---------------------------------------------------------------------------------------


def test_diff_augment_shifts_brightness_cuts_out_half_the_side_and_passes_gradients():
    from gantransfer.data.augment import diff_augment

    images = torch.zeros(8, 1, 28, 28, requires_grad=True)
    out = diff_augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    # A flat image keeps its mean (contrast does nothing) and gets one brightness shift in [-0.25, 0.25]:
    # every pixel is that shift, the -1 background moved in by the translation, or the cut-out.
    # The brightness shifts are the generator's first draws, (u - 0.5) / 2.
    expected = (torch.rand(8, generator=torch.Generator().manual_seed(0)) - 0.5) * 0.5
    for image, shift in zip(out.detach(), expected):
        background = image == -1.0
        assert int(background.sum()) >= 14 * 14  # the cut-out: half the side in each direction
        # Away from the moved-in edges, every pixel is the image's brightness shift.
        assert float(image[~background].mode().values) == pytest.approx(float(shift), abs=1e-6)
    out.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    again = diff_augment(images.detach(), torch.Generator().manual_seed(0))
    assert torch.equal(again, out.detach())
    assert not torch.equal(diff_augment(images.detach(), torch.Generator().manual_seed(1)), out.detach())
