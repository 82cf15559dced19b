"""MNIST-M (Ganin et al. 2016): MNIST digits blended over patches of colour photos.

Read from the published files when they are in the data directory::

    mnist_m/mnist_m_train/*.png   mnist_m/mnist_m_train_labels.txt   (lines "00000000.png 5")
    mnist_m/mnist_m_test/*.png    mnist_m/mnist_m_test_labels.txt

Otherwise an **MNIST-M-style** domain is built from MNIST (which must then be
in the data directory, or downloadable) with the paper's recipe: each digit
binarised (pixel > 0), a random 28 x 28 patch of a random colour photo, and
the output ``|patch - 255 * digit|``. The photos are scikit-image's bundled
colour photographs unless ``--backgrounds DIR`` is given (which also builds
the domain where the published files are present). The original used
BSDS500's photos, so numbers on a built domain compare with published
MNIST-M numbers only roughly.

Built splits are 3 x 28 x 28, train 60,000 and test 10,000 images (MNIST's
train and test, with their labels), cached as uint8 arrays in
``<cache dir>/built/mnist-m-style-<key>/`` and built once (measured: 12 s for
both splits, MNIST read included, on 2 CPU cores shared with other jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from ..images import ImageFormat, RawImages
from ..locations import DataLocations
from ..storage import decode_to_format
from .built import built_images, load_or_build, recipe_key
from .mnist import CLASS_NAMES, read_mnist
from .photos import PhotoSource
from .registry import register_reader

FOLDER = "mnist_m"
SIDE = 28
#: the build's seed per split; fixed, so every user builds the same domain from the same photos
BUILD_SEEDS = {"train": 0, "test": 1}
#: bump when the recipe changes, so that caches of the old recipe are not reused
RECIPE_VERSION = 1


def published_files(split: str) -> tuple[str, str]:
    """The image folder and the labels file of ``split`` in the published layout."""
    return f"mnist_m_{split}", f"mnist_m_{split}_labels.txt"


def compose_mnist_m(digits: np.ndarray, photos: Sequence[np.ndarray], seed: int) -> np.ndarray:
    """Blend digits over random photo patches as Ganin et al. did: ``|patch - 255 * (digit > 0)|``.

    Args:
        digits: uint8 (N, H, W) grey digits, ink bright (MNIST's convention).
        photos: uint8 (h, w, 3) colour photos, each at least H x W.
        seed: draws each image's photo and patch position.

    Returns:
        uint8 (N, 3, H, W): the patch where the digit is not, its negative where it is.
    """
    n, height, width = digits.shape
    rng = np.random.default_rng(seed)
    which = rng.integers(len(photos), size=n)
    corner = rng.random((n, 2))  # patch corners as fractions, scaled by each photo's own size below
    ink = (digits > 0)[..., None]
    out = np.empty((n, height, width, 3), np.uint8)
    for index, photo in enumerate(photos):
        members = np.flatnonzero(which == index)
        top = (corner[members, 0] * (photo.shape[0] - height + 1)).astype(np.int64)
        left = (corner[members, 1] * (photo.shape[1] - width + 1)).astype(np.int64)
        rows = top[:, None, None] + np.arange(height)[None, :, None]
        cols = left[:, None, None] + np.arange(width)[None, None, :]
        patches = photo[rows, cols]  # (m, H, W, 3)
        out[members] = np.where(ink[members], 255 - patches, patches)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def read_labels_file(path: Path) -> list[tuple[str, int]]:
    """``(file name, label)`` pairs of a published labels file; one-line errors name the line."""
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= len(CLASS_NAMES):
            raise DataError(f"{path}:{number}: expected 'file.png label' with a label in 0..9, got {line.strip()!r}")
        pairs.append((parts[0], int(parts[1])))
    if not pairs:
        raise DataError(f"{path}: lists no images")
    return pairs


def read_published(folder: Path, split: str) -> RawImages:
    """One split of the published MNIST-M files under ``folder`` (``.../mnist_m``)."""
    images_folder, labels_name = published_files(split)
    pairs = read_labels_file(folder / labels_name)
    fmt = ImageFormat(size=SIDE, channels=3)
    images = []
    for name, _ in pairs:
        path = folder / images_folder / name
        if not path.is_file():
            raise DataError(f"{path}: listed in {labels_name} but missing")
        images.append(decode_to_format(path, fmt))
    labels = torch.tensor([label for _, label in pairs], dtype=torch.int64)
    return RawImages(torch.stack(images), labels, CLASS_NAMES, str(folder / labels_name))


def built_path(split: str, locations: DataLocations, photos: PhotoSource) -> Path:
    """Where the built split made from ``photos`` is cached."""
    key = recipe_key({"version": RECIPE_VERSION, "seeds": BUILD_SEEDS, "photos": photos.digest})
    return locations.built_dir / f"mnist-m-style-{key}" / f"{split}.npz"


def read_built(split: str, locations: DataLocations, download: bool) -> RawImages:
    """The MNIST-M-style split, built from MNIST on first use and cached."""
    photos = PhotoSource(locations.build.backgrounds, min_side=SIDE)
    path = built_path(split, locations, photos)

    def build() -> tuple[np.ndarray, np.ndarray]:
        try:
            mnist = read_mnist(split, locations, download)
        except DataError as error:
            raise DataError(f"mnist-m: its published files are absent, and building it needs MNIST: {error}") from None
        digits = mnist.images[:, 0].mul(255).round().to(torch.uint8).numpy()
        return compose_mnist_m(digits, photos.load(), BUILD_SEEDS[split]), mnist.labels.numpy()

    x, y = load_or_build(path, build)
    return built_images(x, y, CLASS_NAMES, str(path))


def read_mnist_m(split: str, locations: DataLocations, download: bool) -> RawImages:
    """MNIST-M's ``split``: the published files if present (and no ``backgrounds`` asked for), else built."""
    if locations.build.backgrounds is None:
        found = locations.find(FOLDER, [[published_files(split)[1]]])
        if found is not None:
            return read_published(found[0], split)
    return read_built(split, locations, download)


register_reader("mnist-m", read_mnist_m)
