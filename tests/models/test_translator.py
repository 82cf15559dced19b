"""The image-to-image translator: shapes, range, per-image independence, config checks."""

from __future__ import annotations

import pytest
import torch

from gantransfer.errors import ConfigError
from gantransfer.models.translator import Translator, TranslatorConfig


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_translation_keeps_the_image_format_and_range(size, channels):
    translator = Translator(TranslatorConfig(channels=channels, image_size=size, width=4, residual_blocks=1))
    images = torch.rand(3, channels, size, size) * 2 - 1
    out = translator(images * 50).detach()  # huge inputs still come out in [-1, 1]
    assert out.shape == images.shape
    assert float(out.abs().max()) <= 1.0


def test_instance_norm_translates_each_image_alone_in_train_and_eval_mode():
    torch.manual_seed(0)
    translator = Translator(TranslatorConfig(width=4, residual_blocks=1))
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    together = translator(images)
    assert torch.allclose(translator(images[:1]), together[:1], atol=1e-6)
    assert torch.allclose(translator.eval()(images), together, atol=1e-6)


def test_residual_blocks_and_width_change_the_network():
    small = Translator(TranslatorConfig(width=4, residual_blocks=0))
    large = Translator(TranslatorConfig(width=8, residual_blocks=2))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(large) > count(small)
    assert len(large.residual) == 2 and len(small.residual) == 0


def test_every_parameter_gets_a_gradient():
    translator = Translator(TranslatorConfig(width=4, residual_blocks=1))
    translator(torch.rand(2, 1, 28, 28)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in translator.parameters())


def test_a_skip_translator_leaves_the_identity_after_one_step():
    torch.manual_seed(0)
    translator = Translator(TranslatorConfig(width=4, residual_blocks=1, skip=True))
    images = torch.rand(2, 1, 28, 28) * 1.8 - 0.9
    optimizer = torch.optim.Adam(translator.parameters(), lr=1e-2)
    for _ in range(2):  # the zero last layer moves first, then the layers below it get gradients
        optimizer.zero_grad()
        translator(images).square().mean().backward()
        optimizer.step()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in translator.parameters())
    assert (translator(images) - images).abs().mean() > 1e-3


@pytest.mark.parametrize(
    "values",
    [{"image_size": 30}, {"channels": 2}, {"width": 0}, {"residual_blocks": -1}, {"norm": "group"}, {"noise": -1}],
)
def test_invalid_configs_raise_config_errors(values):
    with pytest.raises(ConfigError):
        TranslatorConfig(**values)


def test_an_untrained_skip_translator_is_the_identity_and_a_plain_one_is_not():
    images = torch.rand(2, 1, 28, 28) * 1.8 - 0.9
    identity = Translator(TranslatorConfig(width=4, residual_blocks=1, skip=True))
    assert torch.allclose(identity(images), images, atol=1e-6)
    assert torch.allclose(identity(torch.full((1, 1, 28, 28), -1.0)), torch.tensor(-0.98), atol=1e-6)
    plain = Translator(TranslatorConfig(width=4, residual_blocks=1))
    assert (plain(images) - images).abs().mean() > 0.1


def test_a_translator_with_noise_translates_one_image_many_ways_and_one_without_ignores_it():
    torch.manual_seed(0)
    noisy = Translator(TranslatorConfig(channels=3, image_size=32, width=4, residual_blocks=1, noise=10))
    images = (torch.rand(1, 3, 32, 32) * 2 - 1).expand(4, -1, -1, -1)
    noise = noisy.draw_noise(4, torch.Generator().manual_seed(1))
    assert noise.shape == (4, 10) and float(noise.abs().max()) <= 1.0
    out = noisy(images, noise).detach()
    assert out.shape == images.shape
    assert (out[1:] - out[0]).abs().mean() > 1e-3  # one image, four noise vectors, four translations
    assert torch.equal(noisy(images, noise), noisy(images, noise))  # the noise is all that varies
    assert torch.equal(noise, noisy.draw_noise(4, torch.Generator().manual_seed(1)))
    assert (noisy(images) - out).abs().mean() > 1e-3  # drawn afresh when not given
    noisy(images, noise).square().mean().backward()
    assert noisy.noise_map.weight.grad.abs().sum() > 0

    plain = Translator(TranslatorConfig(width=4, residual_blocks=1))
    assert plain.draw_noise(4) is None and plain.noise_map is None
    grey = torch.rand(2, 1, 28, 28)
    assert torch.equal(plain(grey, None), plain(grey))
