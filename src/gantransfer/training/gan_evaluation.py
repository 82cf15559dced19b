"""``gantransfer evaluate-gan``: judge a pretrained generator on its source domain."""

from __future__ import annotations

import os

from ..data import DataOptions
from ..data.domains import load_split
from ..errors import ConfigError
from .pretrain import load_gan
from .reference import ReferenceRecipe, gan_quality_for_domain, reference_classifier


def evaluate_gan(
    checkpoint: str | os.PathLike,
    samples: int = 10_000,
    data: DataOptions = DataOptions(),
    seed: int = 0,
    device="cpu",
    recipe: ReferenceRecipe = ReferenceRecipe(),
) -> dict[str, float]:
    """Judge a pretrained generator on its source domain.

    Args:
        checkpoint: a GAN checkpoint (.pt) or its run folder.
        samples: images to generate (and real train images for the floor), >= 2.
        seed: seed of the generated noise and of the real images drawn.
        recipe: how the domain's reference classifier is trained when it is not cached yet.

    Returns ``frechet_distance`` (``samples`` generated vs the test set),
    ``real_floor`` (``samples`` train vs test images), their ratio,
    ``conditional_accuracy`` for conditional generators, and the reference
    classifier's own test accuracy (``reference_test_accuracy``).
    """
    if samples < 2:
        raise ConfigError(f"samples must be >= 2 (a Frechet distance needs a covariance), got {samples}")
    gan = load_gan(checkpoint, device)
    config = gan.config
    reference = reference_classifier(config.source, config.format, data.data_dir, data.cache_dir, data.download,
                                     recipe, device=device, build=data.build, splits=config.splits)
    quality = gan_quality_for_domain(config.source, config.format, data, samples, len(gan.class_names), seed,
                                     device, recipe, config.splits)
    metrics = quality(gan.generator)
    train = load_split(config.source, "train", config.format, data, config.splits)
    metrics["real_floor"] = quality.real_floor(train)
    metrics["frechet_ratio"] = metrics["frechet_distance"] / metrics["real_floor"]
    metrics["reference_test_accuracy"] = reference.info.get("test_accuracy")
    metrics["samples"] = samples
    metrics["step"] = gan.step
    return metrics
