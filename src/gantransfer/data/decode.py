"""Image files of any mode Pillow reads, decoded to the training range [0, 1].

Pillow's own ``convert("L")`` / ``convert("RGB")`` clips wide pixel types to
8 bits: a 16-bit PNG turns almost white and a float TIFF in [0, 1] black.
Here every mode is scaled by its own range:

==================================  =========================================
mode                                decoded as
==================================  =========================================
``1``, ``L``                        grey, / 255
``LA``, ``La``                      grey, / 255, alpha flattened (below)
``I;16`` (16-bit PNG, TIFF)         grey, / 65535
``I`` (32-bit integers)             grey, / 65535 when in 0..65535, else refused
``F`` (32-bit float)                grey, as it is in [0, 1], shifted from [-1, 1], else refused
``P`` (palette)                     grey when its palette is grey, else colour
``PA``                              as ``P``, alpha flattened (below)
``1``, ``L``, ``P``, ``RGB`` with   as without it, the transparent colour
a transparent colour (PNG, GIF)     as alpha 0, flattened (below)
``RGB``, ``CMYK``, ``YCbCr``, ...   colour, / 255 after Pillow's conversion to RGB
``RGBA``, ``RGBa``                  colour, / 255, alpha flattened (below)
==================================  =========================================

Alpha is flattened by :func:`flatten_alpha`: an image whose colour is one
constant where it is visible but whose opacity varies (a digit drawn as
opacity over transparent black, as drawing tools export) is read from its
alpha, opacity as ink: bright strokes on black, as MNIST, on every channel.
Any other is composited onto black, so an opaque image reads exactly as
without its alpha channel.

The EXIF orientation of photos is applied. A file Pillow cannot read, or one
over Pillow's decompression-bomb limit, is a :class:`DataError` naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from ..errors import DataError, first_line

GREY_MODES = ("1", "L", "LA", "La", "I", "F")
SIXTEEN_BIT = 65535.0


def image_channels(image: Image.Image) -> int:
    """1 if ``image`` (opened, not necessarily decoded) is grey, else 3."""
    mode = image.mode
    if mode in GREY_MODES or mode.startswith("I;16"):
        return 1
    if mode in ("P", "PA"):
        palette = image.getpalette() or []
        return 1 if _grey_palette(palette) else 3
    return 3


def _grey_palette(palette: list[int]) -> bool:
    return bool(palette) and all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def decode_image(path: str | Path) -> Tensor:
    """One image file as float32 (C, H, W) in [0, 1], C = 1 (grey) or 3 (colour).

    Raises :class:`DataError` naming the file when it cannot be read, is too
    large (Pillow's decompression-bomb limit), or holds integer or float
    pixels outside the ranges the module docstring lists.
    """
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # phone photos store their rotation apart from the pixels
            return to_unit_tensor(image, str(path))
    except Image.DecompressionBombError as error:
        raise DataError(f"{path}: too large to decode safely ({first_line(error)}; raise "
                        "PIL.Image.MAX_IMAGE_PIXELS if the file is trusted)") from None
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise DataError(f"{path}: not a readable image ({first_line(error)})") from None


def to_unit_tensor(image: Image.Image, where: str) -> Tensor:
    """A decoded Pillow image -> float32 (C, H, W) in [0, 1] (see the module docstring)."""
    mode = image.mode
    if mode.startswith("I;16"):
        pixels = np.asarray(image).astype(np.float32) / SIXTEEN_BIT
    elif mode == "I":
        pixels = np.asarray(image)
        low, high = int(pixels.min()), int(pixels.max())
        if low < 0 or high > SIXTEEN_BIT:
            raise DataError(f"{where}: 32-bit integer pixels in {low}..{high}; only 0..65535 (16-bit) is understood")
        pixels = pixels.astype(np.float32) / SIXTEEN_BIT
    elif mode == "F":
        pixels = float_pixels(np.asarray(image, dtype=np.float32), where)
    elif has_alpha(image):
        return alpha_flattened(image)
    elif image_channels(image) == 1:
        pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    else:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(np.array(pixels, dtype=np.float32, order="C"))  # a writable copy
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


#: modes that carry an alpha channel; others may name one transparent colour (PNG's tRNS, GIF's index)
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
KEYED_MODES = ("1", "L", "P", "RGB")


def has_alpha(image: Image.Image) -> bool:
    """Whether ``image`` has an alpha channel or a transparent colour."""
    return image.mode in ALPHA_MODES or (image.mode in KEYED_MODES and image.info.get("transparency") is not None)


def alpha_flattened(image: Image.Image) -> Tensor:
    """An image with alpha -> float32 (C, H, W) in [0, 1], C as :func:`image_channels` says,
    its alpha flattened by :func:`flatten_alpha`."""
    grey = image_channels(image) == 1
    pixels = np.asarray(image.convert("LA" if grey else "RGBA"), dtype=np.float32) / 255.0  # straight alpha
    channels = torch.from_numpy(np.array(pixels, dtype=np.float32, order="C")).permute(2, 0, 1)
    return flatten_alpha(channels[:-1], channels[-1:]).contiguous()


#: colour differences (in [0, 1]) below which a visible colour counts as one constant: a few
#: levels of 255, the noise that lossy compression and un-premultiplying leave on one ink colour
COLOUR_TOLERANCE = 8 / 255


def flatten_alpha(colour: Tensor, alpha: Tensor) -> Tensor:
    """Pixels with their opacity folded in: ``colour`` float (..., C, H, W) and ``alpha``
    float (..., 1, H, W), both in [0, 1] (straight, not premultiplied), -> float
    (..., C, H, W) in [0, 1]. Leading dimensions are images, each flattened on its own.

    Where an image's colour carries no content (one constant, within
    :data:`COLOUR_TOLERANCE`, over its clearly visible pixels) but its alpha
    varies, the alpha is the image: opacity is ink, bright on black, as MNIST
    digits, repeated on every channel. Any other image is composited onto
    black: the background of the digit datasets here and of the ``pad`` fit, and
    the one colour that leaves an opaque image (alpha 1) exactly as its colour.
    """
    alpha_range = alpha.amax(dim=(-3, -2, -1)) - alpha.amin(dim=(-3, -2, -1))
    # Pixels at least half as opaque as the most opaque one: faint edges may hold any colour
    # (a transparent pixel's colour is arbitrary, an un-premultiplied faint one is rounded).
    visible = (alpha >= 0.5 * alpha.amax(dim=(-2, -1), keepdim=True)).expand_as(colour)
    highest = torch.where(visible, colour, colour.new_tensor(-1.0)).amax(dim=(-2, -1))
    lowest = torch.where(visible, colour, colour.new_tensor(2.0)).amin(dim=(-2, -1))
    flat_colour = ((highest - lowest) <= COLOUR_TOLERANCE).all(dim=-1)
    alpha_only = flat_colour & (alpha_range > COLOUR_TOLERANCE)
    alpha_only = alpha_only[..., None, None, None]
    return torch.where(alpha_only, alpha.expand_as(colour), colour * alpha)


def float_pixels(pixels: np.ndarray, where: str) -> np.ndarray:
    """Float pixels in [0, 1] from [0, 1] or [-1, 1] (the two ranges images come in); a
    :class:`DataError` naming ``where`` for any other range or a NaN."""
    if not np.isfinite(pixels).all():
        raise DataError(f"{where}: float pixels contain NaN or infinite values")
    low, high = float(pixels.min()), float(pixels.max())
    if low >= 0.0 and high <= 1.0:
        return pixels
    if low >= -1.0 and high <= 1.0:
        return (pixels + 1.0) / 2.0
    raise DataError(f"{where}: float pixels in [{low:g}, {high:g}]; expected [0, 1] or [-1, 1] (scale them first)")
