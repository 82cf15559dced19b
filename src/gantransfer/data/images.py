"""Image sets, the image format they are brought to, and the two pixel ranges.

Every domain is brought to one :class:`ImageFormat` and stored as **uint8
pixels** (0..255, a quarter of float32); a batch becomes float in [-1, 1], the
range of a tanh generator, only when it is drawn (:func:`to_model_range`, done
by :class:`~gantransfer.data.batches.BatchStream` and the evaluation loops).
Domains larger than the memory budget are not held at all: their
``images`` are :class:`~gantransfer.data.storage.ImageFiles`, decoded per batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..errors import DataError
from .decode import flatten_alpha

if TYPE_CHECKING:
    from .storage import ImageFiles

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as torchvision's rgb_to_grayscale


#: how an image is brought to the square ``size`` x ``size`` (see :mod:`.geometry`)
FITS = ("crop", "pad", "mnist-box")


@dataclass(frozen=True)
class ImageFormat:
    """The shape every image is brought to.

    Args:
        size: height and width in pixels (square images), at least 8.
        channels: 1 (grey) or 3 (RGB).
        fit: ``crop``: resize the short side to ``size`` and cut the centre
            square (a square image is simply resized); ``pad``: resize the
            long side to ``size`` and pad with black; ``mnist-box``: MNIST's
            own normalisation for digits (bright strokes on black): the content
            fitted into a box of 20/28 of the side and centred by its centre of mass.
    """

    size: int = 28
    channels: int = 1
    fit: str = "crop"

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 8:
            raise DataError(f"image size must be an integer >= 8, got {self.size!r}")
        if self.channels not in (1, 3):
            raise DataError(f"channels must be 1 or 3, got {self.channels!r}")
        if self.fit not in FITS:
            raise DataError(f"fit must be one of {', '.join(FITS)}, got {self.fit!r}")

    def describe(self) -> str:
        """``3 x 64 x 64`` (channels x height x width)."""
        return f"{self.channels} x {self.size} x {self.size}"

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


@dataclass
class RawImages:
    """What a reader returns: images at their native size.

    Attributes:
        images: (N, C, H, W), C in {1, 3, 4}: uint8 (0..255), or float32 in [0, 1].
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
    """A labelled set of images in one :class:`ImageFormat`.

    Attributes:
        images: the pixels, (N, C, S, S): a uint8 tensor (0..255; what domains
            load as), an :class:`~gantransfer.data.storage.ImageFiles` that
            decodes files when indexed (a domain over the memory budget), or a
            float tensor already in [-1, 1] (sets made in code). Index it and
            pass the batch through :func:`to_model_range` to get what a network
            sees; :func:`~gantransfer.data.storage.model_batches` does both.
        labels: int64 (N,), values in [0, num_classes).
        class_names: names of the classes, ``len == num_classes``.
        name: a short description, e.g. ``"usps/train"``.
    """

    images: "Tensor | ImageFiles"
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
        """The images at ``indices`` (int64 (M,)), sharing class names and format; every image in
        order shares the pixels instead of copying them (image sets are never changed in place)."""
        if len(indices) == len(self) and torch.equal(indices, torch.arange(len(self))):
            images, labels = self.images, self.labels
        else:
            images = self.images[indices] if isinstance(self.images, Tensor) else self.images.select(indices)
            labels = self.labels[indices]
        return ImageSet(
            images=images,
            labels=labels,
            class_names=self.class_names,
            name=name if name is not None else self.name,
            format=self.format,
        )

    @property
    def streamed(self) -> bool:
        """Whether the images are decoded from files per batch instead of held in memory."""
        return not isinstance(self.images, Tensor)


#: images checked at once by :func:`validate_raw`
_VALIDATION_CHUNK = 4096


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
    if images.dtype != torch.uint8:
        if not images.is_floating_point():
            raise DataError(f"{where}: images must be uint8 or float in [0, 1], got {images.dtype}")
        # In chunks: a mask of a whole domain at once would take a quarter of its float size again.
        bad, low, high = 0, float("inf"), float("-inf")
        for chunk in images.split(_VALIDATION_CHUNK):
            finite = torch.isfinite(chunk)
            bad += int((~finite).flatten(1).any(1).sum())
            if bad == 0:
                low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
        if bad:
            raise DataError(f"{where}: {bad} image(s) contain NaN or infinite values")
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
    reduced by luminance, an alpha channel is flattened as an image file's is
    (:func:`~gantransfer.data.decode.flatten_alpha`)."""
    have = images.shape[1]
    if have == 4:
        images, have = flatten_alpha(images[:, :3], images[:, 3:]), 3
    if have == channels:
        return images
    if have == 1:
        return images.expand(-1, channels, -1, -1).contiguous()
    weights = torch.tensor(_LUMA, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


#: images :func:`uniformity_warning` compares, evenly spaced: enough to see "nearly all", few enough to cost nothing
_SAMPLE = 256
#: a blank image's range on every channel, in levels of 255: one colour, give or take compression noise
_BLANK_LEVELS = 2
#: the share of a split's images that are blank or one same image from which it is reported (among _FEW or more)
_NEARLY_ALL, _FEW = 0.9, 10


def blank_images(pixels: Tensor) -> Tensor:
    """bool (N,): which of the uint8 images (N, C, H, W) are blank (every channel one level,
    within :data:`_BLANK_LEVELS`)."""
    flat = pixels.flatten(2)
    return (flat.amax(2).int() - flat.amin(2).int() <= _BLANK_LEVELS).all(1)


def uniformity_warning(pixels: Tensor, name: str) -> str | None:
    """A line naming ``name`` when its uint8 images (N, C, S, S) are all blank, or nearly all
    (of up to :data:`_SAMPLE`, evenly spaced) blank or one same image; else None.

    Such a split teaches and measures nothing (a classifier trained on it guesses; its
    accuracy is chance), yet every step runs: content in a channel that is not read, a
    crop of a uniform region, a bad export. A warning, not an error: the images are what
    the files hold in this format, and a test of a format may crop a uniform region on purpose.
    """
    count = len(pixels)
    if count == 0:
        return None
    sample = pixels[torch.arange(min(count, _SAMPLE)) * count // min(count, _SAMPLE)]
    blank = blank_images(sample)
    if bool(blank.all()) and (len(sample) == count or bool(blank_images(pixels).all())):
        return (f"{name}: every image is blank (one uniform colour): nothing to learn or measure; "
                "check how the images were made")
    if len(sample) < _FEW:
        return None
    same = max(Counter(hash(image.numpy().tobytes()) for image in sample).values())  # torch.unique(dim=0) is slow
    blanks = int(blank.sum())
    alike, what = (blanks, "blank (one uniform colour)") if blanks >= same else (same, "one same image")
    if alike < _NEARLY_ALL * len(sample):
        return None
    sampled = f" sampled of {count}" if len(sample) < count else ""
    return (f"{name}: {alike} of {len(sample)} images{sampled} are {what}: little to learn or measure; "
            "check how the images were made")


def to_pixels(images: Tensor) -> Tensor:
    """float (N, C, H, W) in [0, 1] -> uint8 (N, C, H, W), rounded to the nearest level."""
    return images.mul(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)


def model_to_pixels(images: Tensor) -> Tensor:
    """Model space float [-1, 1] -> uint8 0..255 (how generated and translated sets are stored)."""
    return ((images.detach().float() + 1.0) * 127.5).round_().clamp_(0.0, 255.0).to(torch.uint8)


def to_model_range(images: Tensor) -> Tensor:
    """What a network sees: uint8 pixels (..., C, H, W) 0..255 -> float32 in [-1, 1]
    (``u / 255 * 2 - 1``); float images are taken to be in [-1, 1] already and
    returned as they are."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0).mul_(2.0).sub_(1.0)
    return images


def to_unit_range(images: Tensor) -> Tensor:
    """Display space [0, 1] from model space [-1, 1] (or from uint8 pixels)."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return ((images + 1.0) / 2.0).clamp(0.0, 1.0)
