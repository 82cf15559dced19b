"""BatchNorm statistics re-estimated on another domain's images (AdaBN).

Li et al. 2016, "Revisiting Batch Normalization For Practical Domain
Adaptation": a network trained on the source normalises each layer with the
source's mean and variance; replacing them by the target's, with every
weight left as it is, removes much of a shift in appearance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..data import ImageFiles, to_model_range


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    """The BatchNorm layers of ``model`` (1-d, 2-d, 3-d) that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


def image_batches(images: "Tensor | ImageFiles", batch_size: int) -> Iterator[Tensor]:
    """``images`` (N, ...) in one in-order pass of ``ceil(N / batch_size)`` batches of near-equal size
    (at most ``batch_size``; sizes differ by at most one, so no batch is left with a single image
    and each counts about equally in :func:`reestimate_batchnorm`'s average). uint8 pixels (held
    or streamed) come as float in [-1, 1], batch by batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    count = -(-len(images) // batch_size)
    if count:
        for indices in torch.tensor_split(torch.arange(len(images)), count):
            yield to_model_range(images[indices])


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, batches: Iterable[Tensor], device: torch.device | str | None = None) -> int:
    """Replace every BatchNorm layer's running mean and variance by their averages over ``batches``.

    Each layer's statistics are reset and then accumulated as a cumulative
    average (PyTorch's ``momentum=None``) while ``model`` runs forward on
    each batch with only its BatchNorm layers in train mode (dropout and the
    like stay off) and no gradients. After it, ``running_mean`` is the mean of
    the batches' means and ``running_var`` the mean of their unbiased
    variances; no weight changes. ``model`` is left in eval mode, where it
    normalises with the new statistics.

    Args:
        model: any network; layers without running statistics are left alone.
        batches: input tensors, e.g. (N, C, S, S) target images in [-1, 1]
            (see :func:`image_batches`).
        device: where to run (default: where ``model``'s first parameter is).

    Returns:
        The number of batches seen. Raises ``ValueError`` if ``batches`` is empty
        (the statistics would be left reset).
    """
    layers = batchnorm_layers(model)
    if device is None:
        device = next(model.parameters()).device if any(True for _ in model.parameters()) else "cpu"
    momenta = [layer.momentum for layer in layers]
    model.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
        layer.train()
    count = 0
    try:
        for batch in batches:
            model(batch.to(device))
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        model.eval()
    if count == 0:
        raise ValueError("reestimate_batchnorm needs at least one batch")
    return count
