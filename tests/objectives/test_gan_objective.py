"""GAN objectives: one step against a hand-written reference, live gradients, constraints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gantransfer.errors import ConfigError
from gantransfer.losses.adversarial import clip_weights_
from gantransfer.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, TrunkConfig
from gantransfer.objectives import OBJECTIVES, GanObjective, get_objective


def _pair(num_classes=0, norm="none"):
    generator = Generator(GeneratorConfig(latent_dim=8, width=8, num_classes=num_classes))
    discriminator = Discriminator(DiscriminatorConfig(TrunkConfig(width=4, feature_dim=8, norm=norm), num_classes))
    return generator, discriminator


def test_minimax_discriminator_loss_equals_hand_written_step():
    torch.manual_seed(0)
    generator, discriminator = _pair()
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    objective = GanObjective(get_objective("minimax"), generator, discriminator)
    torch.manual_seed(1)
    losses = objective.discriminator_losses(real)
    torch.manual_seed(1)
    with torch.no_grad():
        fake = generator(torch.randn(6, 8))
    expected = -F.logsigmoid(discriminator(real)).mean() - F.logsigmoid(-discriminator(fake)).mean()
    assert torch.isclose(losses["d_loss"], expected, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
@pytest.mark.parametrize("num_classes", [0, 10])
def test_both_networks_get_nonzero_gradients(name, num_classes):
    torch.manual_seed(0)
    spec = get_objective(name)
    generator, discriminator = _pair(num_classes, spec.critic_norm)
    objective = GanObjective(spec, generator, discriminator)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    labels = torch.arange(8) % 10
    objective.discriminator_losses(real, labels)["d_loss"].backward()
    assert all(p.grad is None for p in generator.parameters()), "the D step must not train G"
    d_grads = [p.grad for p in discriminator.parameters() if p.grad is not None]
    assert d_grads and sum(float(g.abs().sum()) for g in d_grads) > 0
    discriminator.zero_grad()
    objective.generator_losses(8, labels)["g_loss"].backward()
    g_norm = sum(float(p.grad.abs().sum()) for p in generator.parameters() if p.grad is not None)
    assert g_norm > 0


def test_wgan_gp_reports_penalty_and_weights_it():
    torch.manual_seed(0)
    spec = get_objective("wgan-gp")
    generator, discriminator = _pair(norm="layer")
    losses = GanObjective(spec, generator, discriminator).discriminator_losses(torch.rand(4, 1, 28, 28))
    expected = losses["d_adversarial"] + spec.gradient_penalty * losses["gradient_penalty"]
    assert torch.isclose(losses["d_loss"], expected)
    assert spec.n_critic == 5 and spec.optimizer.betas == (0.0, 0.9) and spec.optimizer.lr == 1e-4


def test_paper_defaults():
    assert get_objective("wgan").optimizer.name == "rmsprop" and get_objective("wgan").weight_clip == 0.01
    assert get_objective("minimax").optimizer.betas == (0.5, 0.999)


def test_wgan_clip_keeps_critic_bounded_after_update():
    torch.manual_seed(0)
    spec = get_objective("wgan")
    generator, discriminator = _pair()
    optimizer = spec.optimizer.build(discriminator.parameters())
    objective = GanObjective(spec, generator, discriminator)
    for _ in range(3):
        optimizer.zero_grad()
        objective.discriminator_losses(torch.rand(4, 1, 28, 28))["d_loss"].backward()
        optimizer.step()
        clip_weights_(discriminator, spec.weight_clip)
    assert max(float(p.detach().abs().max()) for p in discriminator.parameters()) <= spec.weight_clip


def test_mismatched_conditioning_and_unknown_objective():
    generator, _ = _pair(10)
    _, discriminator = _pair(0)
    with pytest.raises(ConfigError, match="both be conditional"):
        GanObjective(get_objective("minimax"), generator, discriminator)
    with pytest.raises(ConfigError, match="unknown objective 'lsgan'"):
        get_objective("lsgan")
