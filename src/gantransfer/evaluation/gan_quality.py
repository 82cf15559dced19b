"""How good is a generator? Frechet distance and, if conditional, label accuracy.

Both are measured with the reference classifier of the generator's domain
(:mod:`gantransfer.training.reference` trains and caches it): the Frechet
distance between its features of generated and real test images, and how
often it recognises the label a conditional generator was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..data import ImageSet
from .classification import predict_logits
from .frechet import FrechetDistance, frechet_distance


@dataclass
class GanQuality:
    """A reusable judge of generators for one domain.

    Args:
        reference: the domain's reference classifier.
        real: the real images to compare with (the domain's test split).
        samples: images generated per judgement.
        num_classes: classes a conditional generator is asked for, cycled evenly.
        seed: fixes the noise, so a judgement repeats exactly and leaves the
            global random state alone.
    """

    reference: nn.Module
    real: ImageSet
    samples: int
    num_classes: int
    seed: int = 0
    device: torch.device | str = "cpu"

    def __post_init__(self) -> None:
        self.reference = self.reference.to(self.device).eval()
        self.distance = FrechetDistance(self.reference.features, self.reference.trunk.feature_dim)
        self.distance.add(self.real.images, real=True, device=self.device)

    def generate(self, generator: nn.Module) -> tuple[Tensor, Tensor | None]:
        """``samples`` images (and the labels asked for, if conditional) from a fixed noise seed."""
        labels = torch.arange(self.samples) % self.num_classes if generator.config.conditional else None
        return generator.generate(labels if labels is not None else self.samples, seed=self.seed), labels

    def __call__(self, generator: nn.Module) -> dict[str, float]:
        """``{"frechet_distance": ..., "conditional_accuracy": ...}`` (accuracy only if conditional)."""
        images, labels = self.generate(generator)
        self.distance.reset_fake()
        self.distance.add(images.to(self.device), real=False)
        metrics = {"frechet_distance": self.distance.compute()}
        if labels is not None:
            predicted = predict_logits(self.reference, images, device=self.device).argmax(dim=1)
            metrics["conditional_accuracy"] = float((predicted == labels).float().mean())
        return metrics

    def real_floor(self, train: ImageSet) -> float:
        """Distance between ``samples`` real train images and the real test images: the best a generator can hope for."""
        picked = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.seed))[: self.samples]
        return frechet_distance(self.reference.features, self.reference.trunk.feature_dim, self.real.images,
                                train.images[picked], device=self.device)
