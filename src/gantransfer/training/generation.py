"""Labelled image sets drawn from a conditional generator.

gan-augment trains on them beside the k real target images; source-free
adaptation (``TransferConfig.source_free``) learns from them in place of the
source images, which then never leave the source site: only the source
classifier and the source GAN do.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data import ImageFormat, ImageSet
from ..data.images import model_to_pixels


@torch.no_grad()
def generate_pixels(generator: nn.Module, labels: Tensor, seed: int, batch_size: int = 500) -> Tensor:
    """uint8 (N, C, S, S) images of ``labels`` (int64 (N,)), quantised batch by batch; the noise is
    drawn as :meth:`Generator.generate` draws it (one seeded stream, batches of 500),
    so the images are its images, rounded to 8 bits, without a float copy of them all."""
    config = generator.config
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    was_training = generator.training
    generator.eval()
    pixels = torch.empty((len(labels), config.channels, config.image_size, config.image_size), dtype=torch.uint8)
    for start in range(0, len(labels), batch_size):
        n = min(batch_size, len(labels) - start)
        z = torch.randn(n, config.latent_dim, generator=rng).to(device)
        batch = labels[start : start + n].to(device) if config.conditional else None
        pixels[start : start + n] = model_to_pixels(generator(z, batch).cpu())
    generator.train(was_training)
    return pixels


def generated_set(generator: nn.Module, class_names: tuple[str, ...], per_class: int, seed: int, fmt: ImageFormat,
                  name: str) -> ImageSet:
    """``per_class`` images of every class from a conditional ``generator``, class by class
    (labels 0, 0, ..., 1, 1, ...), reproducible from ``seed``; labels are those asked for."""
    labels = torch.arange(len(class_names)).repeat_interleave(per_class)
    return ImageSet(generate_pixels(generator, labels, seed), labels, class_names, name, fmt)


#: below this, a source-free run's generated images are suspect: their labels do not hold
LOW_AGREEMENT = 0.5


def agreement_warning(agreement: float, num_classes: int, count: int) -> str | None:
    """What to tell a user whose source classifier reads only ``agreement`` (a fraction in [0, 1])
    of ``count`` generated images as the class they were generated for; None when it reads
    at least :data:`LOW_AGREEMENT` of them (chance is ``1 / num_classes``)."""
    if agreement >= LOW_AGREEMENT:
        return None
    return (f"the source classifier reads only {100 * agreement:.1f}% of the source GAN's {count} generated "
            f"images as the class they were generated for (chance: {100 / num_classes:.1f}%): the generator "
            "has probably collapsed (its sample grids show it); source-free adaptation learns from these "
            "images as they are. Try another source GAN (fewer epochs, another objective)")
