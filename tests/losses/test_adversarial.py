"""Adversarial losses against values computed by hand."""

from __future__ import annotations

import math

import torch
from torch import nn

from gantransfer.losses.adversarial import (
    clip_weights_,
    gradient_penalty,
    hinge_discriminator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    non_saturating_generator_loss,
    saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)


def test_minimax_at_zero_logits_is_two_log_two():
    zeros = torch.zeros(5)
    assert math.isclose(float(minimax_discriminator_loss(zeros, zeros)), 2 * math.log(2), rel_tol=1e-6)


def test_minimax_matches_log_sigmoid_form():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected = -(torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean())
    assert torch.isclose(minimax_discriminator_loss(real, fake), expected)


def test_minimax_is_stable_for_huge_logits():
    loss = minimax_discriminator_loss(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert torch.isfinite(loss) and math.isclose(float(loss), 400.0, rel_tol=1e-6)


def test_generator_losses():
    fake = torch.tensor([0.0, math.log(3.0)])  # D = 1/2 and 3/4
    assert math.isclose(float(non_saturating_generator_loss(fake)), -(math.log(0.5) + math.log(0.75)) / 2, rel_tol=1e-6)
    assert math.isclose(float(saturating_generator_loss(fake)), (math.log(0.5) + math.log(0.25)) / 2, rel_tol=1e-6)


def test_wasserstein_losses():
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([-1.0, 0.0])
    assert float(wasserstein_critic_loss(real, fake)) == -2.5
    assert float(wasserstein_generator_loss(fake)) == 0.5


def test_hinge_is_zero_beyond_the_margin():
    assert float(hinge_discriminator_loss(torch.tensor([2.0]), torch.tensor([-2.0]))) == 0.0
    assert float(hinge_discriminator_loss(torch.tensor([0.0]), torch.tensor([0.0]))) == 2.0


def test_least_squares_losses():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    # D: ((0 + 4) / 2 + (0 + 4) / 2) / 2 = 2; G: ((1 + 9) / 2) / 2 = 2.5
    assert float(least_squares_discriminator_loss(real, fake)) == 2.0
    assert float(least_squares_generator_loss(fake)) == 2.5
    assert float(least_squares_discriminator_loss(torch.ones(3), torch.zeros(3))) == 0.0


def test_gradient_penalty_of_linear_critic_is_closed_form():
    # f(x) = <w, x> has gradient w everywhere: penalty = (||w|| - 1)^2 = (5 - 1)^2.
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    penalty = gradient_penalty(lambda x: x @ w, real, fake)
    assert math.isclose(penalty.item(), 16.0, rel_tol=1e-6)
    penalty.backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(w.grad, 2 * 4 * torch.tensor([3.0, 4.0]) / 5)


def test_gradient_penalty_uses_the_interpolates():
    # f(x) = sum(x^2)/2 has gradient x; with mix = 1 the point is the real sample.
    real = torch.tensor([[0.6, 0.8], [3.0, 4.0]])
    penalty = gradient_penalty(lambda x: 0.5 * x.square().sum(1), real, torch.zeros_like(real), mix=torch.ones(2))
    assert math.isclose(penalty.item(), (0 + 16) / 2, rel_tol=1e-6)


def test_clip_weights():
    layer = nn.Linear(4, 4)
    with torch.no_grad():
        layer.weight.mul_(100)
    clip_weights_(layer, 0.01)
    assert all(p.abs().max().item() <= 0.01 for p in layer.parameters())
