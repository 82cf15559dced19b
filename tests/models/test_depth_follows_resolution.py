"""Depth follows the image side: one block per doubling, for both architectures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

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
from gantransfer.models.architecture import (
    generator_plan,
    translator_downsamplings,
    trunk_blocks,
)
from gantransfer.models.sngan import ResidualTrunk, ResNetGenerator
from gantransfer.models.translator import Translator, TranslatorConfig
from gantransfer.models.trunk import ConvTrunk
from gantransfer.training.pretrain import PretrainConfig


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _pair(architecture, size, channels, num_classes, g_width=8, d_width=8, feature_dim=16):
    config = PretrainConfig(architecture=architecture, image_size=size, channels=channels, conditional=True,
                            generator_width=g_width, discriminator_width=d_width, feature_dim=feature_dim)
    return Generator(config.generator_config(num_classes)), Discriminator(config.discriminator_config(num_classes))


def test_the_rules():
    assert [generator_plan(s) for s in (28, 32, 48, 64, 96, 128, 224)] == [
        (7, 2), (4, 3), (6, 3), (4, 4), (6, 4), (4, 5), (7, 5)]
    assert [trunk_blocks(s) for s in (28, 32, 48, 64, 96, 128, 224)] == [3, 3, 4, 4, 5, 5, 6]
    assert [translator_downsamplings(s) for s in (28, 32, 48, 64, 96, 128)] == [2, 2, 3, 3, 4, 4]
    with pytest.raises(ConfigError, match="generator image_size must be a base side of 4 to 7 pixels.*got 36"):
        GeneratorConfig(image_size=36)
    with pytest.raises(ConfigError, match="image_size"):
        PretrainConfig(image_size=44)  # refused when the config is made, not deep inside training


@pytest.mark.parametrize("architecture", ["dcgan", "sngan"])
@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_every_network_at_every_size(architecture, size, channels, num_classes):
    torch.manual_seed(0)
    generator, discriminator = _pair(architecture, size, channels, num_classes)
    labels = torch.arange(3) % 10 if num_classes else None
    images = generator(generator.sample_latent(3), labels)
    assert images.shape == (3, channels, size, size)
    assert float(images.detach().abs().max()) <= 1.0
    assert discriminator(images, labels).shape == (3,)
    assert discriminator.features(images).shape == (3, 16)
    classifier = Classifier(ClassifierConfig(discriminator.config.trunk, num_classes=7))
    assert classifier(images).shape == (3, 7)
    # One block per doubling: generator blocks = doublings from the base side, trunk blocks = halvings to <= 4.
    _, doublings = generator_plan(size)
    if architecture == "dcgan":
        assert sum(isinstance(m, nn.ConvTranspose2d) for m in generator.modules()) == doublings
        convs = [m for m in discriminator.trunk.blocks if isinstance(m, nn.Conv2d)]
        assert len(convs) == trunk_blocks(size) and all(c.stride == (2, 2) for c in convs)
    else:
        assert isinstance(generator, ResNetGenerator) and isinstance(discriminator.trunk, ResidualTrunk)
        assert len(generator.blocks) == doublings and len(discriminator.trunk.blocks) == trunk_blocks(size)
    assert len(discriminator.trunk.stages()) == discriminator.config.trunk.num_stages == trunk_blocks(size) + 1


def test_the_dcgan_generator_has_dcgan_s_own_layout_at_64_px():
    generator = Generator(GeneratorConfig(channels=3, image_size=64, width=8))
    ups = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert generator.base_side == 4 and generator.project.out_features == 64 * 4 * 4  # (N, 8w, 4, 4)
    assert [(u.in_channels, u.out_channels) for u in ups] == [(64, 32), (32, 16), (16, 8), (8, 3)]


def test_a_128_px_trunk_has_more_blocks_not_a_huge_final_layer():
    def linear_share(trunk):
        linear = next(m for m in trunk.project.modules() if isinstance(m, nn.Linear))
        return linear, count_parameters(linear) / count_parameters(trunk)

    dcgan = [ConvTrunk(TrunkConfig(3, s, 32, 256)) for s in (32, 64, 128, 224)]
    resnet = [ResidualTrunk(TrunkConfig(3, s, 32, 256, "none", "sngan")) for s in (32, 64, 128)]
    for trunks in (dcgan, resnet):
        counts = [count_parameters(t) for t in trunks]
        assert counts == sorted(counts) and len(set(counts)) == len(counts)  # deeper, so larger
        assert [len(t.stages()) for t in trunks] == [4, 5, 6, 7][: len(trunks)]
    # DCGAN's trunk flattens a map of at most 4 x 4: its linear layer grows with the last
    # block's channels only (it took 98 % of the network at 128 px and 99.6 % at 224 before).
    for trunk in dcgan:
        linear, _ = linear_share(trunk)
        assert linear.in_features <= 16 * trunk.blocks[-4].out_channels
    shares = [linear_share(t)[1] for t in dcgan]
    assert shares == sorted(shares, reverse=True) and shares[2] < 0.6 and shares[3] < 0.4
    # SNGAN's trunk pools globally: its linear layer sees the channels alone.
    assert linear_share(resnet[2])[1] < 0.2
    assert linear_share(resnet[2])[0].in_features == 32 * 2**4


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_translators_work_at_a_side_of_at_most_8_px(size, channels):
    torch.manual_seed(0)
    translator = Translator(TranslatorConfig(channels=channels, image_size=size, width=4, residual_blocks=1))
    images = torch.rand(2, channels, size, size) * 2 - 1
    out = translator(images * 50).detach()
    assert out.shape == images.shape and float(out.abs().max()) <= 1.0
    working = translator.encoder(images)
    assert working.shape[-1] == 8 and len(translator.encoder) == translator_downsamplings(size)
    assert working.shape[1] == 4 * 2 ** (len(translator.encoder) - 1)  # channels double per down-sampling
    translator(images).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in translator.parameters())


@pytest.mark.parametrize("architecture", ["dcgan", "sngan"])
@pytest.mark.parametrize("size", [28, 64])
def test_stages_cover_the_whole_trunk_in_order(architecture, size):
    norm = "none" if architecture == "sngan" else "batch"
    backbone = {"dcgan": "conv", "sngan": "sngan"}[architecture]
    trunk = Discriminator(DiscriminatorConfig(TrunkConfig(3, size, 4, 8, norm, backbone))).trunk
    stages = trunk.stages()
    in_stages = [id(p) for stage in stages for p in stage.parameters()]
    assert sorted(in_stages) == sorted(id(p) for p in trunk.parameters()) and len(set(in_stages)) == len(in_stages)
    assert all(any(True for _ in stage.parameters()) for stage in stages)
    trunk.eval()  # in training mode each spectral norm takes a power-iteration step per forward
    images = torch.rand(2, 3, size, size)
    x = images
    for stage in stages:  # in input-to-output order, the stages compose to the trunk
        x = stage(x)
    assert torch.equal(x, trunk(images))


@pytest.mark.parametrize(
    "make",
    [
        lambda: TrunkConfig(backbone="vgg"),
        lambda: TrunkConfig(backbone="sngan", norm="batch"),
        lambda: GeneratorConfig(architecture="stylegan"),
        lambda: PretrainConfig(architecture="sngan", critic_norm="layer"),
        lambda: PretrainConfig(architecture="resnet"),  # SNGAN is "sngan"; "resnet" would read as ResNet-18
    ],
)
def test_impossible_architectures_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()
