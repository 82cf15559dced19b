"""Augmentation per kind of image: digits keep the affine default bit for bit, natural images get
random resized crops, flips and colour jitter, each image its own draw, seeded."""

from __future__ import annotations

import pytest
import torch

from gantransfer.data import AffineAugment, NaturalAugment, augment_kind, random_affine, random_natural
from gantransfer.errors import ConfigError
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining


def _photos(n=6, size=32):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_kind_rule_larger_than_32_is_natural_and_small_colour_digits_stay_digits():
    assert augment_kind("auto", torch.zeros(2, 1, 28, 28)) == "digits"
    assert augment_kind("auto", torch.zeros(2, 1, 32, 32)) == "digits"
    assert augment_kind("auto", torch.zeros(2, 3, 28, 28)) == "digits", "MNIST-M: no flips for digits"
    assert augment_kind("auto", torch.zeros(2, 3, 33, 33)) == "natural"
    assert augment_kind("auto", torch.zeros(2, 1, 64, 64)) == "natural"
    assert augment_kind("natural", torch.zeros(2, 3, 32, 32)) == "natural"
    assert augment_kind("digits", torch.zeros(2, 3, 64, 64)) == "digits"
    with pytest.raises(ConfigError, match="augment_kind"):
        ClassifierTraining(augment_kind="photos")


def test_digit_data_keep_the_affine_default_bit_for_bit():
    digits = torch.rand(8, 1, 28, 28) * 2 - 1
    for config in (ClassifierTraining(), TeacherOptions()):
        torch.manual_seed(5)
        expected = random_affine(digits, AffineAugment.digits())
        torch.manual_seed(5)
        assert torch.equal(config.augment_images(digits), expected)


def test_natural_augment_is_seeded_per_image_and_in_range():
    images = _photos()
    first = random_natural(images, NaturalAugment(), torch.Generator().manual_seed(1))
    again = random_natural(images, NaturalAugment(), torch.Generator().manual_seed(1))
    other = random_natural(images, NaturalAugment(), torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == images.shape and float(first.min()) >= -1 and float(first.max()) <= 1
    same = random_natural(images[:1].repeat(4, 1, 1, 1), NaturalAugment(), torch.Generator().manual_seed(1))
    assert not torch.equal(same[0], same[1]), "each image draws its own crop, flip and colours"


def test_natural_pieces_one_at_a_time():
    images = _photos()
    nothing = NaturalAugment(crop_scale=1.0, crop_ratio=1.0, flip=False, brightness=0, contrast=0, saturation=0)
    assert not nothing.enabled and torch.equal(random_natural(images, nothing), images)
    flip_only = NaturalAugment(crop_scale=1.0, crop_ratio=1.0, flip=True, brightness=0, contrast=0, saturation=0)
    flipped = random_natural(images, flip_only, torch.Generator().manual_seed(0))
    for original, out in zip(images, flipped):
        assert torch.allclose(out, original, atol=1e-5) or torch.allclose(out, original.flip(-1), atol=1e-5)
    assert any(not torch.allclose(o, i, atol=1e-5) for o, i in zip(flipped, images)), "some are mirrored"
    crop_only = NaturalAugment(crop_scale=0.25, crop_ratio=1.0, flip=False, brightness=0, contrast=0, saturation=0)
    ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(4, 3, 32, 32)
    zoomed = random_natural(ramp, crop_only, torch.Generator().manual_seed(0))
    spans = zoomed[:, 0, 0, -1] - zoomed[:, 0, 0, 0]
    assert bool((spans < 2.0 - 1e-3).all()) and bool((spans >= 2.0 * 0.5 - 0.1).all()), "crops of >= a quarter of the area"
    grey = torch.zeros(4, 1, 16, 16)
    bright = random_natural(grey, NaturalAugment(crop_scale=1.0, crop_ratio=1.0, flip=False, brightness=0.5,
                                                 contrast=0, saturation=0), torch.Generator().manual_seed(0))
    levels = bright.flatten(1)[:, 0]
    assert bool(((levels >= -0.5 - 1e-6) & (levels <= 0.5 + 1e-6)).all()) and len(set(levels.tolist())) == 4


def test_training_configs_pick_natural_for_large_colour_batches():
    photos = _photos(size=40)
    torch.manual_seed(3)
    expected = random_natural(photos, NaturalAugment())
    torch.manual_seed(3)
    assert torch.equal(ClassifierTraining().augment_images(photos), expected)
