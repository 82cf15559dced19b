"""Batched random augmentation on tensors, one kind per kind of image.

- ``digits``: a random affine transform (rotation, translation, zoom) on a
  black background (:func:`random_affine`), the library's default for digits.
- ``natural``: random resized crop, horizontal flip and colour jitter
  (brightness, contrast, saturation) (:func:`random_natural`), the usual
  augmentation of photos (as torchvision's ``RandomResizedCrop``,
  ``RandomHorizontalFlip`` and ``ColorJitter``, but milder by default, for small images).

:func:`augment_kind` picks the kind from the images when a config says
``auto``: **natural for images larger than 32 px, digits at 32 px and below,
grey or colour** (the small colour domains, MNIST-M and printed digits, are digits). Both run on whole batches with ``affine_grid`` / ``grid_sample``,
each image with its own random parameters, instead of one PIL image at a
time, which is what keeps CPU training fast; both draw from the
``generator`` argument (the global RNG when None).

The ``digits`` kind also changes what a domain *looks* like and keeps the shapes
(:class:`PhotometricAugment`, after the affine transform): polarity inversion, a
random colour for each image's dark and bright ends, channel permutation and grey
conversion. It is what lets a classifier trained on grey MNIST read digits on
colour photos (:func:`random_photometric`).
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
        probability: share of the images transformed (each drawn on its own); the others
            pass unchanged, with no resampling: on targets whose strokes are sharp (digits
            on photos) a classifier that has only seen resampled digits reads them worse.
        interpolation: ``bilinear`` or ``nearest`` (moves pixels without blending them,
            so strokes keep their sharp edges).
    """

    degrees: float = 0.0
    translate: float = 0.0
    scale: float = 0.0
    probability: float = 1.0
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if not 0 <= self.degrees <= 180:
            raise ConfigError(f"augmentation degrees must be in [0, 180], got {self.degrees}")
        if not 0 <= self.translate < 1:
            raise ConfigError(f"augmentation translate must be in [0, 1), got {self.translate}")
        if not 0 <= self.scale < 1:
            raise ConfigError(f"augmentation scale must be in [0, 1), got {self.scale}")
        if self.interpolation not in ("bilinear", "nearest"):
            raise ConfigError(f"augmentation interpolation must be bilinear or nearest, got {self.interpolation!r}")
        if not 0 <= self.probability <= 1:
            raise ConfigError(f"augmentation probability must be in [0, 1], got {self.probability}")

    @property
    def enabled(self) -> bool:
        return (self.degrees > 0 or self.translate > 0 or self.scale > 0) and self.probability > 0

    @classmethod
    def digits(cls) -> "AffineAugment":
        """The default for digit domains: +-15 degrees, 10 % shift, 10 % zoom."""
        return cls(degrees=15.0, translate=0.1, scale=0.1)


@dataclass(frozen=True)
class NaturalAugment:
    """Ranges of the ``natural`` augmentation.

    Args:
        crop_scale: the random crop covers a fraction of the area drawn from
            [crop_scale, 1] (1: no crop); it is resized back to the full frame.
        crop_ratio: its aspect ratio is drawn log-uniformly from [1/crop_ratio, crop_ratio].
        flip: mirror half of the images left to right.
        brightness, contrast, saturation: each image's factor is drawn from
            [1 - value, 1 + value] (0: unchanged; saturation does nothing to grey images).
    """

    crop_scale: float = 0.5
    crop_ratio: float = 4 / 3
    flip: bool = True
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3

    def __post_init__(self) -> None:
        if not 0 < self.crop_scale <= 1:
            raise ConfigError(f"natural augmentation crop_scale must be in (0, 1], got {self.crop_scale}")
        if self.crop_ratio < 1:
            raise ConfigError(f"natural augmentation crop_ratio must be >= 1, got {self.crop_ratio}")
        for name in ("brightness", "contrast", "saturation"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"natural augmentation {name} must be in [0, 1), got {getattr(self, name)}")

    @property
    def enabled(self) -> bool:
        return (self.crop_scale < 1 or self.crop_ratio > 1 or self.flip or self.brightness > 0
                or self.contrast > 0 or self.saturation > 0)


@dataclass(frozen=True)
class PhotometricAugment:
    """Random changes of appearance that keep the shapes, each image drawn on its own.

    Applied in this order, each with its own probability:

    Args:
        invert: probability of inverting an image's polarity (x -> -x in [-1, 1]):
            dark strokes on light and light on dark are both seen.
        recolour: probability of mapping each channel's [0, 1] range onto a random
            interval [a, b] (a, b uniform in [0, 1] per channel, either order): the
            dark and bright ends get random colours, a grey digit becomes a coloured one
            on a coloured ground; it includes partial inversions.
        channel_shuffle: probability of permuting the colour channels (colour images only).
        grey: probability of replacing a colour image by its grey level in all three
            channels (colour images only).
        colour_only: change colour (3-channel) batches only and leave grey ones as they are.
            Measured on a source classifier (1,500 steps, validation splits of the targets'
            train sets): the ``appearance`` changes take MNIST -> MNIST-M-style (colour) from
            20 % to 75 %, and cost MNIST -> USPS (grey to grey, one polarity) 3 points.
    All probabilities zero means identity.
    """

    invert: float = 0.0
    recolour: float = 0.0
    channel_shuffle: float = 0.0
    grey: float = 0.0
    colour_only: bool = True

    def __post_init__(self) -> None:
        for name in ("invert", "recolour", "channel_shuffle", "grey"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"photometric augmentation {name} must be a probability in [0, 1], "
                                  f"got {getattr(self, name)}")

    @property
    def enabled(self) -> bool:
        return self.invert > 0 or self.recolour > 0 or self.channel_shuffle > 0 or self.grey > 0

    @classmethod
    def appearance(cls) -> "PhotometricAugment":
        """The default for classifiers: half the images inverted, half recoloured, a quarter of
        colour images' channels permuted and a tenth turned grey (colour batches only)."""
        return cls(invert=0.5, recolour=0.5, channel_shuffle=0.25, grey=0.1)


KINDS = ("auto", "digits", "natural")
#: images larger than this (or colour) are natural under ``auto``
DIGIT_MAX_SIZE = 32


def augment_kind(kind: str, images: Tensor) -> str:
    """``digits`` or ``natural`` for a batch (N, C, H, W): ``kind`` itself unless it is
    ``auto``, which is natural for a side over 32 px, else digits, grey or colour.

    Colour alone does not make a photo: the small colour domains (MNIST-M, printed digits,
    house numbers) are digits, and a horizontal flip turns a 2 into something else. Small
    photos (CIFAR-style 32 px) ask for ``natural`` by name."""
    check_kind(kind)
    if kind != "auto":
        return kind
    return "natural" if max(images.shape[-2:]) > DIGIT_MAX_SIZE else "digits"


def augment_batch(images: Tensor, kind: str, affine: AffineAugment, natural: NaturalAugment,
                  generator: torch.Generator | None = None,
                  photometric: PhotometricAugment = PhotometricAugment()) -> Tensor:
    """The augmentation of ``kind`` (see :func:`augment_kind`) applied to float (N, C, H, W) in [-1, 1]:
    ``digits``: the affine transform, then ``photometric``; ``natural``: crop, flip and colour jitter
    (a photo inverted or recoloured is no photo any more: ``photometric`` is for digits and such)."""
    if augment_kind(kind, images) == "digits":
        return random_photometric(random_affine(images, affine, generator), photometric, generator)
    return random_natural(images, natural, generator)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"augment_kind must be one of {', '.join(KINDS)}, got {kind!r}")


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
    moved = F.grid_sample(images + 1, grid, mode=augment.interpolation, padding_mode="zeros",
                          align_corners=False) - 1
    if augment.probability < 1:
        chosen = torch.rand(n, **options) < augment.probability
        moved = torch.where(chosen.view(n, 1, 1, 1), moved, images)
    return moved


def random_natural(images: Tensor, augment: NaturalAugment, generator: torch.Generator | None = None) -> Tensor:
    """Random resized crop, horizontal flip and colour jitter, each image with its own draw.

    Args:
        images: float (N, C, H, W) in [-1, 1], C = 1 or 3.
        augment: the ranges to draw from.
        generator: source of randomness (the global RNG when None).

    Returns:
        float (N, C, H, W) in [-1, 1]. The crop lies inside the image, so no
        pixel comes from outside it.
    """
    if not augment.enabled or images.shape[0] == 0:
        return images
    n = images.shape[0]
    options = {"generator": generator, "device": images.device, "dtype": images.dtype}

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, **options)

    area = uniform(augment.crop_scale, 1.0)
    log_ratio = math.log(augment.crop_ratio)
    ratio = torch.exp(uniform(-log_ratio, log_ratio))
    # Crop width and height as fractions of the image's; the grid spans [-1, 1], so a crop of
    # fraction f can move its centre by up to 1 - f either way and stay inside.
    width = torch.sqrt(area * ratio).clamp(max=1.0)
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    centre_x = uniform(-1.0, 1.0) * (1 - width)
    centre_y = uniform(-1.0, 1.0) * (1 - height)
    mirror = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0) if augment.flip else torch.ones_like(width)
    zero = torch.zeros_like(width)
    theta = torch.stack([torch.stack([width * mirror, zero, centre_x], dim=1),
                         torch.stack([zero, height, centre_y], dim=1)], dim=1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    cropped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return _jitter((cropped + 1) / 2, uniform, augment) * 2 - 1


def _jitter(images: Tensor, uniform, augment: NaturalAugment) -> Tensor:
    """Colour jitter of (N, C, H, W) in [0, 1], factors drawn per image (as torchvision's
    ``ColorJitter`` defines them: brightness scales, contrast and saturation blend with grey)."""
    view = (-1, 1, 1, 1)
    brightness = uniform(1 - augment.brightness, 1 + augment.brightness).view(view)
    contrast = uniform(1 - augment.contrast, 1 + augment.contrast).view(view)
    saturation = uniform(1 - augment.saturation, 1 + augment.saturation).view(view)
    images = (images * brightness).clamp(0, 1)
    mean = _grey(images).mean(dim=(1, 2, 3), keepdim=True)
    images = ((images - mean) * contrast + mean).clamp(0, 1)
    if images.shape[1] == 3:
        grey = _grey(images)
        images = ((images - grey) * saturation + grey).clamp(0, 1)
    return images


def _grey(images: Tensor) -> Tensor:
    if images.shape[1] == 1:
        return images
    weights = images.new_tensor((0.299, 0.587, 0.114)).view(1, 3, 1, 1)  # ITU-R 601, as torchvision
    return (images * weights).sum(dim=1, keepdim=True)


def random_photometric(images: Tensor, augment: PhotometricAugment,
                       generator: torch.Generator | None = None) -> Tensor:
    """Apply :class:`PhotometricAugment`'s random changes, each image with its own draws.

    Args:
        images: float (N, C, H, W) in [-1, 1], C = 1 or 3.
        augment: the probabilities to draw with.
        generator: source of randomness (the global RNG when None).

    Returns:
        float (N, C, H, W) in [-1, 1]; an image none of the draws picked is unchanged.
    """
    if not augment.enabled or images.shape[0] == 0 or (augment.colour_only and images.shape[1] != 3):
        return images
    n, channels = images.shape[:2]
    options = {"generator": generator, "device": images.device, "dtype": images.dtype}
    view = (n, 1, 1, 1)

    def chosen(probability: float) -> Tensor:
        return (torch.rand(n, **options) < probability).view(view)

    images = torch.where(chosen(augment.invert), -images, images)
    # Each channel's [-1, 1] onto [low, high] (either order), low and high uniform in [-1, 1].
    ends = torch.rand(n, channels, 2, **options) * 2 - 1
    low, high = ends[..., 0, None, None], ends[..., 1, None, None]
    recoloured = low + (images + 1) / 2 * (high - low)
    images = torch.where(chosen(augment.recolour), recoloured, images)
    if channels == 3:
        order = torch.argsort(torch.rand(n, 3, **options), dim=1)
        shuffled = torch.gather(images, 1, order.view(n, 3, 1, 1).expand_as(images))
        images = torch.where(chosen(augment.channel_shuffle), shuffled, images)
        grey = _grey((images + 1) / 2) * 2 - 1
        images = torch.where(chosen(augment.grey), grey.expand_as(images), images)
    return images


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
