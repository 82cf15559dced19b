"""In-memory image sets and the conversion every domain goes through.

All domains are brought to one :class:`ImageFormat` (default 1 x 28 x 28) with
pixels in [-1, 1], the range of a tanh generator, and held as tensors so that
training indexes memory instead of decoding files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from ..errors import DataError

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as torchvision's rgb_to_grayscale


@dataclass(frozen=True)
class ImageFormat:
    """The shape every image is brought to.

    Args:
        size: height and width in pixels (square images), at least 8.
        channels: 1 (grey) or 3 (RGB).
    """

    size: int = 28
    channels: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 8:
            raise DataError(f"image size must be an integer >= 8, got {self.size!r}")
        if self.channels not in (1, 3):
            raise DataError(f"channels must be 1 or 3, got {self.channels!r}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


@dataclass
class RawImages:
    """What a reader returns: images in [0, 1] at their native size.

    Attributes:
        images: float32 (N, C, H, W), values in [0, 1], C in {1, 3, 4}.
        labels: int64 (N,).
        class_names: one name per class; labels index into it.
        source: where the images came from (a path), for error messages.
    """

    images: Tensor
    labels: Tensor
    class_names: tuple[str, ...]
    source: str


@dataclass
class ImageSet:
    """A labelled set of images in model space.

    Attributes:
        images: float32 (N, C, H, W), values in [-1, 1].
        labels: int64 (N,), values in [0, num_classes).
        class_names: names of the classes, ``len == num_classes``.
        name: a short description, e.g. ``"usps/train"``.
    """

    images: Tensor
    labels: Tensor
    class_names: tuple[str, ...]
    name: str = ""
    format: ImageFormat = field(default_factory=ImageFormat)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: Tensor, name: str | None = None) -> "ImageSet":
        """The images at ``indices`` (int64 (M,)), sharing class names and format."""
        return ImageSet(
            images=self.images[indices],
            labels=self.labels[indices],
            class_names=self.class_names,
            name=name if name is not None else self.name,
            format=self.format,
        )


def validate_raw(raw: RawImages) -> None:
    """Raise :class:`DataError` naming ``raw.source`` if the arrays are malformed."""
    images, labels = raw.images, raw.labels
    where = raw.source
    if images.ndim != 4:
        raise DataError(f"{where}: images must have 4 dimensions (N, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DataError(f"{where}: contains no images")
    if images.shape[1] not in (1, 3, 4):
        raise DataError(f"{where}: images must have 1, 3 or 4 channels, got {images.shape[1]}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{where}: {images.shape[0]} images but labels of shape {tuple(labels.shape)}"
        )
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
        raise DataError(f"{where}: {bad} image(s) contain NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise DataError(f"{where}: pixel values must lie in [0, 1] after decoding, got [{low:g}, {high:g}]")
    if len(raw.class_names) == 0:
        raise DataError(f"{where}: no classes")
    check_labels(labels, len(raw.class_names), where)


def check_labels(labels: Tensor, num_classes: int, where: str) -> None:
    """Raise :class:`DataError` unless every label is in ``[0, num_classes)``."""
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise DataError(
            f"{where}: labels must lie in [0, {num_classes - 1}] ({num_classes} classes), "
            f"found {low if low < 0 else high}"
        )


def convert_channels(images: Tensor, channels: int) -> Tensor:
    """(N, C, H, W) in [0, 1] -> (N, channels, H, W): grey is repeated, RGB is
    reduced by luminance, an alpha channel is dropped."""
    have = images.shape[1]
    if have == 4:
        images, have = images[:, :3], 3
    if have == channels:
        return images
    if have == 1:
        return images.expand(-1, channels, -1, -1).contiguous()
    weights = torch.tensor(_LUMA, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def standardize(raw: RawImages, fmt: ImageFormat, name: str) -> ImageSet:
    """Validate ``raw`` and bring it to ``fmt`` with pixels in [-1, 1].

    Resizing is bilinear with antialiasing, so 16 x 16 USPS digits become
    28 x 28 without aliasing artefacts.
    """
    validate_raw(raw)
    images = convert_channels(raw.images.float(), fmt.channels)
    if images.shape[-2:] != (fmt.size, fmt.size):
        images = TF.resize(images, [fmt.size, fmt.size], antialias=True).clamp_(0.0, 1.0)
    images = images * 2.0 - 1.0
    return ImageSet(
        images=images.contiguous(),
        labels=raw.labels.long(),
        class_names=tuple(raw.class_names),
        name=name,
        format=fmt,
    )


def to_unit_range(images: Tensor) -> Tensor:
    """Model space [-1, 1] -> display space [0, 1]."""
    return ((images + 1.0) / 2.0).clamp(0.0, 1.0)
