"""Batched random affine augmentation on tensors (rotation, translation, scale).

Runs on whole batches with ``affine_grid`` / ``grid_sample`` instead of one
PIL image at a time, which is what keeps CPU training fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError


@dataclass(frozen=True)
class AffineAugment:
    """Ranges of the random affine transform; all zero means identity.

    Args:
        degrees: rotation drawn uniformly from [-degrees, degrees].
        translate: shift drawn from [-translate, translate] as a fraction of
            the image side.
        scale: zoom drawn from [1 - scale, 1 + scale].
    """

    degrees: float = 0.0
    translate: float = 0.0
    scale: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.degrees <= 180:
            raise ConfigError(f"augmentation degrees must be in [0, 180], got {self.degrees}")
        if not 0 <= self.translate < 1:
            raise ConfigError(f"augmentation translate must be in [0, 1), got {self.translate}")
        if not 0 <= self.scale < 1:
            raise ConfigError(f"augmentation scale must be in [0, 1), got {self.scale}")

    @property
    def enabled(self) -> bool:
        return self.degrees > 0 or self.translate > 0 or self.scale > 0

    @classmethod
    def digits(cls) -> "AffineAugment":
        """The default for digit domains: +-15 degrees, 10 % shift, 10 % zoom."""
        return cls(degrees=15.0, translate=0.1, scale=0.1)


def random_affine(images: Tensor, augment: AffineAugment, generator: torch.Generator | None = None) -> Tensor:
    """Apply an independent random affine transform to each image.

    Args:
        images: float (N, C, H, W) in [-1, 1]; the background is -1.
        augment: the ranges to draw from.
        generator: source of randomness (the global RNG when None).

    Returns:
        float (N, C, H, W) in [-1, 1]; pixels moved in from outside are -1.
    """
    if not augment.enabled or images.shape[0] == 0:
        return images
    n = images.shape[0]
    options = {"generator": generator, "device": images.device, "dtype": images.dtype}

    def uniform(bound: float, size: tuple[int, ...] = (n,)) -> Tensor:
        return (torch.rand(size, **options) * 2 - 1) * bound

    angle = uniform(math.radians(augment.degrees))
    zoom = 1 + uniform(augment.scale)
    shift = uniform(2 * augment.translate, (n, 2))  # grid coordinates span [-1, 1], i.e. 2 per side
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], dim=1), torch.stack([sin, cos, shift[:, 1]], dim=1)], dim=1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # grid_sample pads with 0; shift so that the padding is the -1 background.
    moved = F.grid_sample(images + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved - 1


def diff_augment(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Differentiable augmentation for the discriminator's inputs (Zhao et al. 2020,
    "Differentiable Augmentation for Data-Efficient GAN Training").

    Applies random brightness and contrast, a translation of up to 1/8 of the
    side and a cutout of half the side, in a way gradients flow through, so the
    same transform can be applied to real and generated images and the
    discriminator cannot memorise a handful of real ones.

    Args:
        images: float (N, C, H, W) in [-1, 1].

    Returns:
        float (N, C, H, W); the cut-out square is set to the -1 background.
    """
    n, _, height, width = images.shape
    options = {"generator": generator, "device": images.device, "dtype": images.dtype}
    brightness = (torch.rand(n, 1, 1, 1, **options) - 0.5) * 0.5
    contrast = torch.rand(n, 1, 1, 1, **options) + 0.5
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast + mean + brightness
    images = random_affine(images, AffineAugment(translate=0.125), generator)
    size_h, size_w = height // 2, width // 2
    top = torch.randint(0, height - size_h + 1, (n, 1, 1), generator=generator).to(images.device)
    left = torch.randint(0, width - size_w + 1, (n, 1, 1), generator=generator).to(images.device)
    rows = torch.arange(height, device=images.device).view(1, -1, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, -1)
    hole = ((rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)).unsqueeze(1)
    return torch.where(hole, torch.full_like(images, -1.0), images)
