"""The photometric augmentation: each change on its own, checked on toy tensors."""

import pytest
import torch

from gantransfer.data import PhotometricAugment, random_photometric
from gantransfer.errors import ConfigError
from gantransfer.training.supervised import ClassifierTraining


def _images(n: int = 6, channels: int = 3) -> torch.Tensor:
    return torch.rand(n, channels, 5, 5, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_all_zero_is_identity_and_not_enabled():
    images = _images()
    assert not PhotometricAugment().enabled
    assert random_photometric(images, PhotometricAugment()) is images


def test_invert_always_negates_every_image():
    images = _images()
    assert torch.equal(random_photometric(images, PhotometricAugment(invert=1.0)), -images)


def test_recolour_maps_each_channel_affinely_into_range():
    images = _images(8)
    out = random_photometric(images, PhotometricAugment(recolour=1.0), torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
    # Each channel of each image is an affine function of the input: out = a + b * x, fitted exactly.
    for image, mapped in zip(images, out):
        for channel, result in zip(image, mapped):
            design = torch.stack([torch.ones(25), channel.flatten()], dim=1)
            solution = torch.linalg.lstsq(design, result.flatten()[:, None]).solution
            assert torch.allclose(design @ solution, result.flatten()[:, None], atol=1e-5)
    assert not torch.allclose(out, images)


def test_channel_shuffle_permutes_channels_of_colour_images_only():
    images = _images(16)
    out = random_photometric(images, PhotometricAugment(channel_shuffle=1.0), torch.Generator().manual_seed(2))
    for image, shuffled in zip(images, out):
        assert sorted(c.sum().item() for c in image) == pytest.approx(sorted(c.sum().item() for c in shuffled))
    assert not torch.equal(out, images)  # 16 random permutations are not all the identity
    grey = _images(4, channels=1)
    assert torch.equal(random_photometric(grey, PhotometricAugment(channel_shuffle=1.0)), grey)


def test_grey_makes_channels_equal_with_itu_weights():
    images = _images()
    out = random_photometric(images, PhotometricAugment(grey=1.0))
    unit = (images + 1) / 2
    expected = (0.299 * unit[:, 0] + 0.587 * unit[:, 1] + 0.114 * unit[:, 2]) * 2 - 1
    for channel in range(3):
        assert torch.allclose(out[:, channel], expected, atol=1e-6)


def test_probability_picks_about_that_share_and_is_seeded():
    images = _images(2000, channels=1)
    augment = PhotometricAugment(invert=0.3, colour_only=False)
    first = random_photometric(images, augment, torch.Generator().manual_seed(3))
    again = random_photometric(images, augment, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    inverted = (first == -images).flatten(1).all(dim=1).float().mean().item()
    assert 0.25 < inverted < 0.35


def test_colour_only_leaves_grey_batches_alone():
    grey, colour = _images(4, channels=1), _images(4)
    assert torch.equal(random_photometric(grey, PhotometricAugment(invert=1.0)), grey)
    assert torch.equal(random_photometric(colour, PhotometricAugment(invert=1.0)), -colour)
    assert torch.equal(random_photometric(grey, PhotometricAugment(invert=1.0, colour_only=False)), -grey)


@pytest.mark.parametrize("name", ["invert", "recolour", "channel_shuffle", "grey"])
def test_probabilities_outside_0_1_are_refused(name):
    with pytest.raises(ConfigError, match=name):
        PhotometricAugment(**{name: 1.5})


def test_classifier_training_applies_it_after_the_geometric_kind():
    images = _images(4)
    training = ClassifierTraining(photometric=PhotometricAugment(invert=1.0))
    generator = torch.Generator().manual_seed(4)
    geometric_only = ClassifierTraining(photometric=PhotometricAugment()).augment_images(images, torch.Generator().manual_seed(4))
    assert torch.allclose(training.augment_images(images, generator), -geometric_only)
