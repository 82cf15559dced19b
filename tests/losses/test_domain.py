"""Gradient reversal, its schedule and the domain loss against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from gantransfer.losses.domain import (
    GradientReversal,
    domain_accuracy,
    domain_adversarial_loss,
    grl_coefficient,
    reverse_gradient,
)


def test_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    upstream = torch.tensor([[0.25, 1.0], [-4.0, 2.0]])
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()  # without reversal dL/dx would be `upstream`
    assert torch.equal(x.grad, -0.5 * upstream)


def test_reversal_module_reads_its_coefficient_at_each_call():
    layer = GradientReversal(1.0)
    x = torch.ones(3, requires_grad=True)
    layer(x).sum().backward()
    assert torch.equal(x.grad, -torch.ones(3))
    layer.coefficient = 0.0
    x.grad = None
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.zeros(3))  # lambda = 0: the features feel nothing
    assert "coefficient=0" in repr(layer)


def test_reversal_reaches_through_a_network_exactly():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    x = torch.randn(5, 4, requires_grad=True)
    (plain,) = torch.autograd.grad(net(x).square().sum(), x)
    (reversed_,) = torch.autograd.grad(net(reverse_gradient(x, 2.0)).square().sum(), x)
    assert torch.equal(reversed_, -2.0 * plain)


def test_grl_schedule_values():
    assert grl_coefficient(0.0) == 0.0
    assert grl_coefficient(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)  # 0.98661
    assert grl_coefficient(0.5) == pytest.approx(math.tanh(2.5))
    assert grl_coefficient(1.0) == pytest.approx(0.9999092, abs=1e-7)
    assert grl_coefficient(-1.0) == 0.0 and grl_coefficient(3.0) == grl_coefficient(1.0)  # clamped
    assert grl_coefficient(0.1) < grl_coefficient(0.2) < grl_coefficient(0.3)


def test_domain_loss_at_chance_is_log_two():
    assert domain_adversarial_loss(torch.zeros(3), torch.zeros(7)).item() == pytest.approx(math.log(2))


def test_domain_loss_by_hand_source_is_one_target_is_zero():
    # source logit log 3: D = 3/4; target logit -log 3: D = 1/4 (both well classified)
    source, target = torch.tensor([math.log(3.0)]), torch.tensor([-math.log(3.0), 0.0])
    expected = 0.5 * (-math.log(0.75) + (-math.log(0.75) - math.log(0.5)) / 2)
    assert domain_adversarial_loss(source, target).item() == pytest.approx(expected)
    # Swapping the domains' logits makes it worse: the labels are source = 1, target = 0.
    assert domain_adversarial_loss(-source, -target).item() > expected


def test_domain_loss_gradient_by_hand():
    source = torch.tensor([0.0, 0.0], requires_grad=True)
    target = torch.tensor([0.0], requires_grad=True)
    domain_adversarial_loss(source, target).backward()
    # d/ds 0.5 * mean softplus(-s) = -0.5 * sigmoid(-s) / N; d/dt 0.5 * softplus(t) = 0.5 * sigmoid(t)
    assert torch.allclose(source.grad, torch.full((2,), -0.5 * 0.5 / 2))
    assert torch.allclose(target.grad, torch.tensor([0.5 * 0.5]))


def test_domain_loss_is_stable_for_huge_logits():
    loss = domain_adversarial_loss(torch.tensor([-300.0]), torch.tensor([300.0]))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(300.0)


def test_domain_accuracy():
    assert domain_accuracy(torch.tensor([1.0, -1.0]), torch.tensor([-2.0, -0.5, 3.0])) == pytest.approx(3 / 5)
