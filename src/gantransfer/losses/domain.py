"""Feature-level domain alignment: gradient reversal and the domain-classification loss.

DANN (Ganin & Lempitsky 2015, "Unsupervised Domain Adaptation by
Backpropagation"; Ganin et al. 2016, JMLR) trains a domain discriminator to
tell source features from target features, while the feature extractor
receives the *reversed* gradient of that same loss and so learns features
the discriminator cannot separate. The reversal is one autograd function:
identity on the way forward, ``-lambda`` times the gradient on the way back.
"""

from __future__ import annotations

import math

from torch import Tensor, autograd, nn

from .adversarial import minimax_discriminator_loss


class _ReverseGradient(autograd.Function):
    """y = x; dL/dx = -coefficient * dL/dy."""

    @staticmethod
    def forward(ctx, inputs: Tensor, coefficient: float) -> Tensor:
        ctx.coefficient = coefficient
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:
        return -ctx.coefficient * grad_output, None


def reverse_gradient(inputs: Tensor, coefficient: float = 1.0) -> Tensor:
    """``inputs`` unchanged; in the backward pass their gradient is multiplied by ``-coefficient``."""
    return _ReverseGradient.apply(inputs, float(coefficient))


class GradientReversal(nn.Module):
    """The gradient reversal layer (GRL) as a module; ``coefficient`` (lambda >= 0)
    may be changed between steps, e.g. along :func:`grl_coefficient`."""

    def __init__(self, coefficient: float = 1.0) -> None:
        super().__init__()
        self.coefficient = float(coefficient)

    def forward(self, inputs: Tensor) -> Tensor:
        """Any shape -> the same tensor; backward multiplies the gradient by ``-coefficient``."""
        return reverse_gradient(inputs, self.coefficient)

    def extra_repr(self) -> str:
        return f"coefficient={self.coefficient:g}"


def grl_coefficient(progress: float, gamma: float = 10.0) -> float:
    """Ganin et al.'s schedule of the reversal strength: ``2 / (1 + exp(-gamma p)) - 1``.

    Equal to ``tanh(gamma p / 2)``: 0 at ``progress`` p = 0 (the discriminator
    is still random, so its gradient would only be noise), 0.9866 at p = 0.5
    and 0.99991 at p = 1 for gamma = 10. ``progress`` is the fraction of
    training done, clamped to [0, 1].
    """
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def domain_adversarial_loss(source_logits: Tensor, target_logits: Tensor) -> Tensor:
    """Binary cross-entropy of a domain discriminator, source = 1, target = 0.

    Args:
        source_logits: (N,) logits of source features, unbounded reals.
        target_logits: (M,) logits of target features.

    Returns:
        ``(E[-log D(source)] + E[-log(1 - D(target))]) / 2`` with ``D = sigmoid``:
        each domain weighs half whatever the batch sizes, and a discriminator
        at chance (all logits 0) scores ``log 2``.
    """
    return 0.5 * minimax_discriminator_loss(source_logits, target_logits)


def domain_accuracy(source_logits: Tensor, target_logits: Tensor) -> float:
    """Fraction of features the discriminator assigns to their domain (0.5: chance)."""
    right = (source_logits > 0).float().sum() + (target_logits <= 0).float().sum()
    return float(right) / (source_logits.numel() + target_logits.numel())
