"""Network shapes, conditioning, and the shared trunk."""

from __future__ import annotations

import pytest
import torch

from gantransfer.errors import ConfigError
from gantransfer.models import (
    Classifier,
    ClassifierConfig,
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    TrunkConfig,
)


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_shapes(size, channels, num_classes):
    generator = Generator(GeneratorConfig(channels=channels, image_size=size, num_classes=num_classes, width=16))
    trunk = TrunkConfig(channels=channels, image_size=size, width=8, feature_dim=32)
    discriminator = Discriminator(DiscriminatorConfig(trunk, num_classes))
    labels = torch.arange(4) % 10 if num_classes else None
    images = generator(generator.sample_latent(4), labels)
    assert images.shape == (4, channels, size, size)
    assert images.detach().abs().max().item() <= 1.0
    assert discriminator(images, labels).shape == (4,)
    assert discriminator.features(images).shape == (4, 32)
    classifier = Classifier(ClassifierConfig(trunk, num_classes=7))
    assert classifier(images).shape == (4, 7) and classifier.features(images).shape == (4, 32)


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_conditional_discriminator_depends_on_label(conditioning):
    discriminator = Discriminator(DiscriminatorConfig(TrunkConfig(width=8, feature_dim=16, norm="none"), 10, conditioning))
    images = torch.randn(3, 1, 28, 28)
    a = discriminator(images, torch.tensor([0, 0, 0]))
    b = discriminator(images, torch.tensor([1, 1, 1]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="pass labels"):
        discriminator(images)


def test_conditional_generator_depends_on_label():
    generator = Generator(GeneratorConfig(num_classes=10, width=16)).eval()
    z = generator.sample_latent(2)
    assert not torch.allclose(generator(z, torch.tensor([0, 0])), generator(z, torch.tensor([5, 5])))


def test_classifier_trunk_has_discriminator_parameter_names():
    trunk = TrunkConfig(width=8, feature_dim=16)
    d_names = {k for k in Discriminator(DiscriminatorConfig(trunk)).state_dict() if k.startswith("trunk.")}
    c_names = {k for k in Classifier(ClassifierConfig(trunk)).state_dict() if k.startswith("trunk.")}
    assert d_names == c_names and d_names


def test_layer_norm_trunk_mixes_no_samples():
    trunk = Discriminator(DiscriminatorConfig(TrunkConfig(width=8, feature_dim=16, norm="layer")))
    images = torch.randn(4, 1, 28, 28)
    alone = trunk.features(images[:1])
    together = trunk.features(images)[:1]
    assert torch.allclose(alone, together, atol=1e-5)


def test_invalid_configs():
    with pytest.raises(ConfigError):
        TrunkConfig(norm="weird")
    with pytest.raises(ConfigError):
        GeneratorConfig(image_size=30)
    with pytest.raises(ConfigError):
        ClassifierConfig(num_classes=1)
