"""Adversarial losses as pure functions of discriminator logits / critic values.

Every function takes 1-D tensors of per-sample outputs and returns a scalar
to *minimise*. Logits are unbounded reals; probabilities never appear, so
``softplus`` keeps the minimax loss numerically stable where
``log(sigmoid(.))`` would underflow.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def minimax_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator side of the original GAN (Goodfellow et al. 2014).

    ``-E[log D(x)] - E[log(1 - D(G(z)))]`` with ``D = sigmoid(logit)``, i.e.
    ``E[softplus(-real)] + E[softplus(fake)]``. Zero only as real -> +inf and
    fake -> -inf; ``2 log 2`` at logits 0.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def non_saturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """Generator side, non-saturating form: ``-E[log D(G(z))] = E[softplus(-fake)]``.

    Goodfellow et al. recommend it over minimising ``log(1 - D(G(z)))``,
    whose gradient vanishes while the discriminator wins early in training.
    """
    return F.softplus(-fake_logits).mean()


def saturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """Generator side as in the minimax value: ``E[log(1 - D(G(z)))] = -E[softplus(fake)]``."""
    return -F.softplus(fake_logits).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic side of WGAN (Arjovsky et al. 2017): ``E[f(G(z))] - E[f(x)]``,
    the negative of the Wasserstein-1 estimate."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """Generator side of WGAN: ``-E[f(G(z))]``."""
    return -fake_scores.mean()


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss (Lim & Ye 2017): ``E[relu(1 - real)] + E[relu(1 + fake)]``."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def least_squares_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017) with targets 1 (real) and 0 (fake):
    ``E[(real - 1)^2] / 2 + E[fake^2] / 2``. Unlike the minimax loss, a fake
    far on the real side of the boundary is still penalised, which keeps
    gradients alive for the generator (CycleGAN's choice)."""
    return 0.5 * (real_logits - 1.0).square().mean() + 0.5 * fake_logits.square().mean()


def least_squares_generator_loss(fake_logits: Tensor) -> Tensor:
    """Generator side of LSGAN: ``E[(fake - 1)^2] / 2``."""
    return 0.5 * (fake_logits - 1.0).square().mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, mix: Tensor | None = None
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): ``E[(||grad_x f(x_hat)||_2 - 1)^2]``.

    Args:
        critic: maps images (N, ...) to scores (N,); labels, if any, are bound
            in by the caller.
        real, fake: (N, ...) images; ``fake`` should be detached.
        mix: (N,) interpolation weights in [0, 1]; uniform random when None.
            ``x_hat = mix * real + (1 - mix) * fake``.

    Returns:
        A scalar with a graph through the critic's parameters (double backward).
    """
    if mix is None:
        mix = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    mix = mix.view(-1, *([1] * (real.ndim - 1)))
    interpolated = (mix * real + (1 - mix) * fake).requires_grad_(True)
    scores = critic(interpolated)
    (grad,) = torch.autograd.grad(scores.sum(), interpolated, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).square().mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, limit: float) -> None:
    """WGAN's Lipschitz constraint: clamp every parameter to [-limit, limit] in place."""
    for parameter in module.parameters():
        parameter.clamp_(-limit, limit)
