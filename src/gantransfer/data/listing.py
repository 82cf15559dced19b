"""One split of a domain before it is brought to a format: arrays in memory, or a list of files.

A reader (built-in or custom) gives an :class:`ArraySplit` (images it has
decoded already, e.g. MNIST's IDX files or an ``.npz``) or a
:class:`FileSplit` (an image folder's files and labels, decoded only when the
split is loaded, and then per batch if it is over the memory budget). Both
know their members' names, so a drawn test split can be written down, and
summarise their images' native format (:class:`ImageSummary`) for
:mod:`.formats` to infer a run's format from.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ..errors import DataError, first_line
from .decode import image_channels
from .images import RawImages


@dataclass(frozen=True)
class ImageSummary:
    """The native format of a split's images.

    Attributes:
        count: images.
        channels: 3 if any image is colour, else 1.
        short_side, long_side: medians over the images, in pixels.
        non_square: how many images are not square.
    """

    count: int
    channels: int
    short_side: int
    long_side: int
    non_square: int

    def describe(self) -> str:
        side = f"{self.short_side} px" if self.short_side == self.long_side else \
            f"{self.long_side} x {self.short_side} px"
        return f"{'colour' if self.channels == 3 else 'grey'}, {side}"


def summarize_sizes(sizes: list[tuple[int, int]], colour: bool) -> ImageSummary:
    """An :class:`ImageSummary` of images of (width, height) ``sizes``."""
    shorts = [min(size) for size in sizes]
    longs = [max(size) for size in sizes]
    return ImageSummary(len(sizes), 3 if colour else 1, int(statistics.median_low(shorts)),
                        int(statistics.median_low(longs)), sum(1 for w, h in sizes if w != h))


@dataclass(frozen=True)
class ArraySplit:
    """Decoded images of one split.

    Attributes:
        raw: the images (uint8 or float in [0, 1]), labels and class names.
        rows: each image's row in the array it came from (for splits drawn from one array).
    """

    raw: RawImages
    rows: Tensor | None = None

    @property
    def labels(self) -> Tensor:
        return self.raw.labels

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.raw.class_names)

    @property
    def source(self) -> str:
        return self.raw.source

    def __len__(self) -> int:
        return len(self.raw.labels)

    def subset(self, indices: Tensor) -> "ArraySplit":
        raw = self.raw
        rows = self.rows[indices] if self.rows is not None else indices
        return ArraySplit(RawImages(raw.images[indices], raw.labels[indices], raw.class_names, raw.source), rows)

    def members(self) -> list[int] | list[str]:
        """Rows in the source array, for splits.json."""
        return (self.rows if self.rows is not None else torch.arange(len(self))).tolist()

    def summary(self) -> ImageSummary:
        channels = self.raw.images.shape[1]
        height, width = self.raw.images.shape[-2:]
        return ImageSummary(len(self), 3 if channels >= 3 else 1, min(height, width), max(height, width),
                            len(self) if height != width else 0)


@dataclass(frozen=True)
class FileSplit:
    """Image files of one split, not yet decoded.

    Attributes:
        root: the folder the class sub-folders are in.
        files: the image files, ordered by class then path.
        labels: int64 (N,) index into ``class_names``.
        class_names: the class sub-folders' names, sorted.
    """

    root: Path
    files: tuple[Path, ...]
    labels: Tensor
    class_names: tuple[str, ...]

    @property
    def source(self) -> str:
        return str(self.root)

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, indices: Tensor) -> "FileSplit":
        return FileSplit(self.root, tuple(self.files[i] for i in indices.tolist()), self.labels[indices],
                         self.class_names)

    def members(self) -> list[str]:
        """Paths relative to the root, for splits.json."""
        return [path.relative_to(self.root).as_posix() for path in self.files]

    def summary(self) -> ImageSummary:
        """Read every file's header (not its pixels): size and colour; an unreadable
        header is a :class:`DataError` naming the file, before any training starts."""
        sizes, colour = [], False
        for path in self.files:
            try:
                with Image.open(path) as image:
                    sizes.append(image.size)
                    colour = colour or image_channels(image) == 3
            except Image.DecompressionBombError as error:
                raise DataError(f"{path}: too large to decode safely ({first_line(error)})") from None
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
                raise DataError(f"{path}: not a readable image ({first_line(error)})") from None
        return summarize_sizes(sizes, colour)


Split = ArraySplit | FileSplit
