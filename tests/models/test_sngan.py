"""SNGAN's networks: spectral norm everywhere in the critic, projection and conditional BatchNorm."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gantransfer.models import (
    Classifier,
    ClassifierConfig,
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    TrunkConfig,
)
from gantransfer.models.generator import ConditionalBatchNorm2d, DcganGenerator
from gantransfer.models.sngan import ResNetGenerator
from gantransfer.objectives import GanObjective, get_objective

LAYERS = (nn.Conv2d, nn.Linear, nn.Embedding)


def _critic(num_classes=10, conditioning="projection", size=32):
    trunk = TrunkConfig(channels=3, image_size=size, width=8, feature_dim=16, norm="none", backbone="sngan")
    return Discriminator(DiscriminatorConfig(trunk, num_classes, conditioning))


def _generator(num_classes=10, size=32):
    return Generator(GeneratorConfig(latent_dim=8, channels=3, image_size=size, width=8, num_classes=num_classes,
                                     architecture="sngan"))


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_every_layer_of_the_critic_is_spectrally_normalised(conditioning):
    torch.manual_seed(0)
    critic = _critic(conditioning=conditioning)
    layers = {name: m for name, m in critic.named_modules() if isinstance(m, LAYERS)}
    assert len(layers) == 3 * 3 + 1 + (1 if conditioning == "projection" else 2) + (conditioning == "projection")
    assert all(parametrize.is_parametrized(m, "weight") for m in layers.values()), "a layer without spectral norm"
    images, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.arange(4)
    for _ in range(5):  # power iterations run in training mode
        critic(images, labels)
    for name, layer in layers.items():
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.05), name
    # The DCGAN critic has none.
    plain = Discriminator(DiscriminatorConfig(TrunkConfig(width=4, feature_dim=8), 10))
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_spectral_norm_bounds_the_critic_after_weights_are_blown_up():
    torch.manual_seed(0)
    critic = _critic(num_classes=0)
    with torch.no_grad():
        for name, parameter in critic.named_parameters():
            if name.endswith("original"):
                parameter.mul_(100.0)  # spectral norm divides the scale out again
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    before = critic(images)
    critic.eval()
    assert torch.allclose(critic(images), before, rtol=1e-3, atol=1e-3)


def test_projection_makes_the_logit_depend_on_the_label():
    torch.manual_seed(0)
    critic = _critic().eval()
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    a, b = critic(images, torch.tensor([0, 0, 0])), critic(images, torch.tensor([1, 1, 1]))
    assert a.shape == (3,) and not torch.allclose(a, b)
    # The label enters only as <embed(y), features>: the difference is exactly that.
    features = critic.features(images)
    embed = critic.projection.weight.detach()
    assert torch.allclose(a - b, features @ (embed[0] - embed[1]), atol=1e-5)
    with pytest.raises(ValueError, match="pass labels"):
        critic(images)


def test_the_generator_is_conditioned_through_batch_norm_in_every_block():
    torch.manual_seed(0)
    generator = _generator()
    assert isinstance(generator, ResNetGenerator) and isinstance(generator, Generator)
    norms = [m for m in generator.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2 * len(generator.blocks) == 6
    with torch.no_grad():  # as after training: per-class scales and shifts differ
        for norm in norms:
            norm.scale.weight.normal_(1.0, 0.3)
            norm.shift.weight.normal_(0.0, 0.3)
    generator.eval()
    z = generator.sample_latent(2)
    assert not torch.allclose(generator(z, torch.tensor([0, 0])), generator(z, torch.tensor([5, 5])))
    with pytest.raises(ValueError, match="pass labels"):
        generator(z)
    unconditional = _generator(num_classes=0)
    assert not any(isinstance(m, ConditionalBatchNorm2d) for m in unconditional.modules())


def test_generator_builds_the_configured_architecture_and_copies():
    dcgan = Generator(GeneratorConfig(width=4))
    resnet = _generator()
    assert type(dcgan) is DcganGenerator and type(resnet) is ResNetGenerator
    twin = copy.deepcopy(resnet)  # what the EMA (AveragedModel) does
    assert type(twin) is ResNetGenerator and twin is not resnet
    assert all(torch.equal(a, b) for a, b in zip(twin.state_dict().values(), resnet.state_dict().values()))
    images = resnet.generate(torch.tensor([1, 2, 3]), seed=4)
    assert images.shape == (3, 3, 32, 32) and torch.equal(images, resnet.generate(torch.tensor([1, 2, 3]), seed=4))
    assert resnet.training, "generate() restores the mode"


@pytest.mark.parametrize("num_classes", [0, 10])
def test_hinge_gives_every_parameter_of_both_networks_a_gradient(num_classes):
    torch.manual_seed(0)
    generator, critic = _generator(num_classes), _critic(num_classes)
    objective = GanObjective(get_objective("hinge"), generator, critic)
    real, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.arange(4)
    objective.discriminator_losses(real, labels)["d_loss"].backward()
    assert all(p.grad is None for p in generator.parameters()), "the D step must not train G"
    # The hinge gradient on the head's bias is (fakes inside the margin - reals inside it) / N:
    # 0 at the start, when every sample is inside it.
    dead = [n for n, p in critic.named_parameters() if (p.grad is None or p.grad.abs().sum() == 0)]
    assert dead in ([], ["head.bias"]), dead
    critic.zero_grad()
    objective.generator_losses(4, labels)["g_loss"].backward()
    missing = [n for n, p in generator.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    # Conditional BatchNorm's embeddings get gradients for the drawn labels' rows only.
    assert not [n for n in missing if not n.endswith(("scale.weight", "shift.weight"))]


def test_a_classifier_takes_the_critic_trunk_with_its_spectral_norm():
    torch.manual_seed(0)
    critic = _critic()
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    critic(images, torch.arange(4))
    classifier = Classifier(ClassifierConfig(critic.config.trunk, num_classes=10))
    classifier.trunk.load_state_dict(critic.trunk.state_dict())  # what init=gan does
    assert torch.equal(classifier.eval().features(images), critic.eval().features(images))
