"""The image format of a run, taken from its domains when not given.

Rules (each choice is printed, with its reason, and recorded in metrics.json):

- **channels**: 3 if any domain is colour (a grey domain beside it is
  repeated to 3 channels), else 1. Colour is never reduced to grey unless
  ``channels: 1`` is asked for.
- **size**: a backbone's usual input size when the classifier has one
  (``preferred_size``); else the larger of the domains' typical sides (the
  median short side of their images), so that neither domain is shrunk to
  the other's size, rounded down to a multiple of 4 (the generator and
  translators double their side twice) and capped at :data:`MAX_INFERRED_SIZE`
  (the conv trunk and DCGAN generator are built for small images; give
  ``image_size`` for more).
- **fit** (how non-square images become square) is an option, not inferred:
  ``crop`` by default (short side resized, centre cut), never a stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .images import ImageFormat
from .listing import ImageSummary

#: the largest side inferred for the conv trunk
MAX_INFERRED_SIZE = 64
_FIT_WORDS = {"crop": "resized on the short side and centre-cropped", "pad": "resized on the long side and padded",
              "mnist-box": "fitted into MNIST's 20/28 box by centre of mass"}


@dataclass(frozen=True)
class FormatChoice:
    """A run's format and why it is that one.

    Attributes:
        format: the resolved format.
        reason: one line saying where each part came from.
    """

    format: ImageFormat
    reason: str

    def line(self) -> str:
        """What a run prints: ``image format 3 x 64 x 64 (...): reason``."""
        return f"image format {self.format.describe()}, fit {self.format.fit}: {self.reason}"

    def as_dict(self) -> dict:
        return {"size": self.format.size, "channels": self.format.channels, "fit": self.format.fit,
                "reason": self.reason}


def infer_format(
    domains: dict[str, ImageSummary],
    size: int | None = None,
    channels: int | None = None,
    fit: str = "crop",
    preferred_size: int | None = None,
) -> FormatChoice:
    """The format for ``domains`` (name -> summary, the source first): given values are
    kept, missing ones inferred by the rules of the module docstring."""
    names = list(domains)
    parts = []
    if channels is None:
        colour = [name for name in names if domains[name].channels == 3]
        grey = [name for name in names if domains[name].channels == 1]
        channels = 3 if colour else 1
        if colour and grey:
            parts.append(f"colour ({', '.join(colour)} is colour; grey {', '.join(grey)} repeated to 3 channels)")
        else:
            parts.append("colour (every domain is colour)" if colour else "grey (every domain is grey)")
    else:
        parts.append(f"{channels} channel(s) as asked")
    if size is None and preferred_size is not None:
        size = preferred_size
        parts.append(f"size {size}: the backbone's usual input")
    elif size is None:
        largest = max(names, key=lambda name: domains[name].short_side)
        native = domains[largest].short_side
        size = max(8, min(MAX_INFERRED_SIZE, native) // 4 * 4)
        sides = ", ".join(f"{name} {domains[name].short_side} px" for name in names)
        why = f"size {size}: the {'larger ' if len(names) > 1 else ''}typical side ({sides})"
        if native > MAX_INFERRED_SIZE:
            why += f", capped at {MAX_INFERRED_SIZE} for the conv trunk (give --image-size to choose)"
        elif size != native:
            why += ", rounded down to a multiple of 4"
        parts.append(why)
    else:
        parts.append(f"size {size} as asked")
    enlarged = [name for name in names if domains[name].short_side < size]
    if enlarged and fit != "mnist-box":
        parts.append(f"{', '.join(enlarged)} enlarged to fill the frame (fit mnist-box keeps digits MNIST-sized)")
    non_square = [name for name in names if domains[name].non_square]
    if non_square:
        parts.append(f"non-square images of {', '.join(non_square)} {_FIT_WORDS[fit]}")
    elif fit == "mnist-box":
        parts.append(_FIT_WORDS[fit])
    return FormatChoice(ImageFormat(size, channels, fit), "; ".join(parts))


def check_format_fields(config) -> None:
    """Validate a config's ``image_size``, ``channels`` (None: inferred) and ``fit``."""
    ImageFormat(28 if config.image_size is None else config.image_size,
                1 if config.channels is None else config.channels, config.fit)


def resolved_format(config) -> ImageFormat:
    """A config's :class:`ImageFormat`; a :class:`ConfigError` while it is still to be inferred."""
    if config.image_size is None or config.channels is None:
        raise ConfigError(f"{type(config).__name__}: the image format is inferred from the data when the run "
                          "starts; use the resolved config (with_format), or give image_size and channels")
    return ImageFormat(config.image_size, config.channels, config.fit)
