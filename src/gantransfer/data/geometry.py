"""Bringing images of any size and shape to the square ``size`` x ``size`` of an :class:`ImageFormat`
(:func:`standardize`: a reader's images as the uint8 pixels of a run).

Nothing is stretched: ``crop`` resizes the short side and cuts the centre
square, ``pad`` resizes the long side and pads with black, and ``mnist-box``
applies MNIST's own normalisation (LeCun et al.: each digit fitted into a
20 x 20 box, preserving its aspect ratio, and centred by its centre of mass in
the 28 x 28 frame), scaled to ``size``. Resizing is bilinear with
antialiasing (torchvision), on float images in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from .images import ImageFormat, ImageSet, RawImages, convert_channels, to_pixels, validate_raw

#: MNIST's digit box: 20 of 28 pixels
MNIST_BOX = 20 / 28


def is_identity_fit(shape: tuple[int, int] | torch.Size, fmt: ImageFormat) -> bool:
    """Whether images of (height, width) ``shape`` pass ``fmt``'s geometry unchanged."""
    return tuple(shape) == (fmt.size, fmt.size) and fmt.fit != "mnist-box"


def fit_to_format(images: Tensor, fmt: ImageFormat) -> Tensor:
    """float (N, C, H, W) in [0, 1], C in {1, 3, 4} -> float (N, fmt.channels, S, S) in [0, 1].

    Grey is repeated to 3 channels, colour reduced by luminance to 1 when
    ``fmt`` asks for it, alpha flattened as :func:`~gantransfer.data.decode.flatten_alpha` does; then the geometry of ``fmt.fit``.
    """
    images = convert_channels(images, fmt.channels)
    if fmt.fit == "mnist-box":
        return torch.stack([mnist_box(image, fmt.size) for image in images]) if len(images) else \
            images.new_zeros((0, fmt.channels, fmt.size, fmt.size))
    if is_identity_fit(images.shape[-2:], fmt):
        return images
    if fmt.fit == "crop":
        return center_crop_fit(images, fmt.size)
    return pad_fit(images, fmt.size)


def _resize(images: Tensor, height: int, width: int) -> Tensor:
    if tuple(images.shape[-2:]) == (height, width):
        return images
    return TF.resize(images, [height, width], antialias=True).clamp_(0.0, 1.0)


def center_crop_fit(images: Tensor, size: int) -> Tensor:
    """(N, C, H, W) -> (N, C, size, size): the short side resized to ``size``, the centre cut out."""
    height, width = images.shape[-2:]
    scale = size / min(height, width)
    images = _resize(images, max(size, round(height * scale)), max(size, round(width * scale)))
    return TF.center_crop(images, [size, size])


def pad_fit(images: Tensor, size: int) -> Tensor:
    """(N, C, H, W) -> (N, C, size, size): the long side resized to ``size``, black bars around."""
    height, width = images.shape[-2:]
    scale = size / max(height, width)
    new_h, new_w = min(size, max(1, round(height * scale))), min(size, max(1, round(width * scale)))
    images = _resize(images, new_h, new_w)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out = images.new_zeros((*images.shape[:-2], size, size))
    out[..., top : top + new_h, left : left + new_w] = images
    return out


def mnist_box(image: Tensor, size: int) -> Tensor:
    """One digit (C, H, W) in [0, 1], bright on black -> (C, size, size) normalised as MNIST is.

    The bounding box of the non-black pixels is resized (aspect kept) so that
    its long side is ``round(size * 20 / 28)``, then placed in a black frame
    so that its centre of mass (of the luminance) falls on the frame's centre.
    An all-black image stays black.
    """
    grey = convert_channels(image[None], 1)[0, 0]
    rows, cols = torch.nonzero(grey > 0, as_tuple=True)
    out = image.new_zeros((image.shape[0], size, size))
    if len(rows) == 0:
        return out
    box = image[:, int(rows.min()) : int(rows.max()) + 1, int(cols.min()) : int(cols.max()) + 1]
    side = max(1, round(size * MNIST_BOX))
    height, width = box.shape[-2:]
    scale = side / max(height, width)
    box = _resize(box[None], max(1, round(height * scale)), max(1, round(width * scale)))[0]
    weights = convert_channels(box[None], 1)[0, 0]
    total = weights.sum()
    ys = torch.arange(box.shape[1], dtype=box.dtype)
    xs = torch.arange(box.shape[2], dtype=box.dtype)
    centre_y = float((weights.sum(1) * ys).sum() / total)
    centre_x = float((weights.sum(0) * xs).sum() / total)
    # Integer placement, as MNIST's was: the box's centre of mass on the frame's centre pixel.
    top = round((size - 1) / 2 - centre_y)
    left = round((size - 1) / 2 - centre_x)
    _paste(out, box, top, left)
    return out


def _paste(frame: Tensor, patch: Tensor, top: int, left: int) -> None:
    """Copy ``patch`` (C, h, w) into ``frame`` (C, S, S) at (top, left), clipped to the frame."""
    size_h, size_w = frame.shape[-2:]
    h, w = patch.shape[-2:]
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(size_h, top + h), min(size_w, left + w)
    if y1 > y0 and x1 > x0:
        frame[:, y0:y1, x0:x1] = patch[:, y0 - top : y1 - top, x0 - left : x1 - left]


#: images converted at once by :func:`standardize`: bounds the float copies of a resized array
_CHUNK = 1024


def standardize(raw: RawImages, fmt: ImageFormat, name: str) -> ImageSet:
    """Validate ``raw`` and bring it to ``fmt`` as uint8 pixels.

    uint8 images already in ``fmt`` (MNIST at 1 x 28 x 28) are kept as they
    are, so their float batches are exactly ``u / 255 * 2 - 1`` as before
    storage was uint8; uint8 grey images asked for in 3 channels are the same
    plane seen three times (a view, read-only). Others are converted in chunks by
    :func:`~gantransfer.data.geometry.fit_to_format` (bilinear with
    antialiasing, so 16 x 16 USPS digits become 28 x 28 without aliasing) and
    rounded to uint8 after resizing.
    """
    validate_raw(raw)
    images = raw.images
    kept = images.dtype == torch.uint8 and is_identity_fit(images.shape[-2:], fmt)
    if kept and images.shape[1] == fmt.channels:
        pixels = images.contiguous()
    elif kept and images.shape[1] == 1:
        # Grey asked for in colour (MNIST beside a colour target): one plane seen three times, a view
        # that costs a third of a copy; batches drawn from it are ordinary (N, 3, S, S) tensors.
        pixels = images.contiguous().expand(-1, fmt.channels, -1, -1)
    else:
        pixels = torch.empty((len(images), *fmt.shape), dtype=torch.uint8)
        for start in range(0, len(images), _CHUNK):
            chunk = images[start : start + _CHUNK]
            chunk = chunk.float().div_(255.0) if chunk.dtype == torch.uint8 else chunk.float()
            pixels[start : start + _CHUNK] = to_pixels(fit_to_format(chunk, fmt))
    return ImageSet(
        images=pixels,
        labels=raw.labels.long(),
        class_names=tuple(raw.class_names),
        name=name,
        format=fmt,
    )
