"""The domain discriminator: shapes, logits (no squashing), gradients."""

from __future__ import annotations

import pytest
import torch

from gantransfer.errors import ConfigError
from gantransfer.models import DomainDiscriminator, DomainDiscriminatorConfig


def test_features_to_one_logit_each_with_gradients():
    torch.manual_seed(0)
    discriminator = DomainDiscriminator(DomainDiscriminatorConfig(feature_dim=6, hidden=5, layers=3))
    features = torch.randn(4, 6, requires_grad=True)
    logits = discriminator(features)
    assert logits.shape == (4,)
    assert sum(isinstance(m, torch.nn.Linear) for m in discriminator.modules()) == 4
    assert not any(isinstance(m, (torch.nn.Sigmoid, torch.nn.Softmax)) for m in discriminator.modules())
    logits.sum().backward()
    assert features.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in discriminator.parameters())


def test_returns_unbounded_logits():
    discriminator = DomainDiscriminator(DomainDiscriminatorConfig(feature_dim=2, hidden=3, layers=1))
    with torch.no_grad():
        discriminator.net[-1].bias.fill_(50.0)
    assert discriminator(torch.zeros(2, 2)).min() > 1.0  # a probability could never exceed 1


def test_rejects_wrong_shapes_and_configs():
    discriminator = DomainDiscriminator(DomainDiscriminatorConfig(feature_dim=6))
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        discriminator(torch.zeros(4, 5))
    with pytest.raises(ConfigError):
        DomainDiscriminatorConfig(layers=0)
