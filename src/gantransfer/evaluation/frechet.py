"""Frechet distance between two image sets in the feature space of a classifier.

``d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))`` between the
Gaussians fitted to the two sets of features (Heusel et al. 2017, with a
domain classifier in place of Inception). The value depends on the sample
sizes, so compare only numbers computed with the same sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from ..data.storage import ImageFiles, model_batches


class FeatureExtractor(nn.Module):
    """Wraps ``features(x)`` of a model in eval mode for torchmetrics."""

    def __init__(self, features: Callable[[Tensor], Tensor], num_features: int) -> None:
        super().__init__()
        self._features = features
        self.num_features = num_features

    def forward(self, images: Tensor) -> Tensor:
        return self._features(images)


class FrechetDistance:
    """Accumulates real and generated features; :meth:`compute` returns the distance.

    Args:
        features: maps images (N, C, H, W) in [-1, 1] to features (N, d).
        num_features: d.

    Real features survive :meth:`reset_fake`, so a fixed real set is
    processed once for many generators.
    """

    def __init__(self, features: Callable[[Tensor], Tensor], num_features: int) -> None:
        # Imported here: torchmetrics loads scipy and matplotlib, which no other part of a run needs.
        from torchmetrics.image.fid import FrechetInceptionDistance

        extractor = FeatureExtractor(features, num_features)
        self.metric = FrechetInceptionDistance(feature=extractor, reset_real_features=False, normalize=True)
        self.metric.set_dtype(torch.float64)

    @torch.no_grad()
    def add(self, images: Tensor | ImageFiles | Iterable[Tensor], real: bool, batch_size: int = 1000,
            device=None) -> None:
        """Add images (N, C, H, W) (uint8 pixels, float in [-1, 1], or :class:`ImageFiles`),
        or an iterable of float batches in [-1, 1]; each batch moved to ``device`` when given."""
        if isinstance(images, (Tensor, ImageFiles)):
            images = model_batches(images, batch_size)
        for batch in images:
            self.metric.update(batch if device is None else batch.to(device), real=real)

    def compute(self) -> float:
        return float(self.metric.compute())

    def reset_fake(self) -> None:
        self.metric.reset()


def frechet_distance(features: Callable[[Tensor], Tensor], num_features: int, a: Tensor, b: Tensor,
                     device=None) -> float:
    """The Frechet distance between image sets ``a`` and ``b`` (each (N, C, H, W): uint8
    pixels or float in [-1, 1]), their batches moved to ``device`` when given."""
    distance = FrechetDistance(features, num_features)
    distance.add(a, real=True, device=device)
    distance.add(b, real=False, device=device)
    return distance.compute()
