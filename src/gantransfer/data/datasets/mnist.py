"""MNIST from its four IDX files (torchvision's layout: ``MNIST/raw/``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from ...errors import DataError
from ..images import RawImages
from ..locations import DataLocations
from .registry import register_reader

FOLDER = "MNIST/raw"
FILES = {
    "train": ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
    "test": ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
}
CLASS_NAMES = tuple(str(digit) for digit in range(10))
_IDX_UBYTE = 0x08


def check_idx_file(path: Path, ndim: int) -> None:
    """Raise :class:`DataError` unless ``path`` is a complete uint8 IDX file of ``ndim`` dimensions.

    torchvision's reader asserts on a bad header and fails with a reshape error
    on a truncated file; this check names the file and the problem instead.
    """
    data = path.read_bytes()
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes, header alone needs {4 + 4 * ndim})")
    if data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE or data[3] != ndim:
        raise DataError(
            f"{path}: not an IDX file of {ndim}-D unsigned bytes (magic number {data[:4].hex()}, "
            f"expected 0000080{ndim})"
        )
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = 4 + 4 * ndim + int(torch.tensor(dims).prod())
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "oversized"
        raise DataError(
            f"{path}: {kind} IDX file: header says {' x '.join(map(str, dims))} "
            f"({expected} bytes), file has {len(data)} bytes"
        )


def read_mnist(split: str, locations: DataLocations, download: bool) -> RawImages:
    """MNIST's ``train`` (60,000) or ``test`` (10,000) split as uint8 1 x 28 x 28 images."""
    alternatives = [FILES[split]]
    found = locations.find(FOLDER, alternatives)
    if found is None and download:
        try:
            MNIST(root=str(locations.download_dir), train=split == "train", download=True)
        except Exception as error:  # network errors come in many types
            raise DataError(f"MNIST download to {locations.download_dir} failed: {error}") from None
        found = locations.find(FOLDER, alternatives)
    if found is None:
        raise locations.missing_error(FOLDER, alternatives, "or pass --download when online")
    _, (image_path, label_path) = found
    check_idx_file(image_path, ndim=3)
    check_idx_file(label_path, ndim=1)
    images = read_image_file(str(image_path))
    labels = read_label_file(str(label_path))
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{image_path}: {images.shape[0]} images but {label_path.name} has {labels.shape[0]} labels")
    return RawImages(
        images=images.unsqueeze(1),  # uint8, stored as it is: batches see exactly u / 255 * 2 - 1
        labels=labels,
        class_names=CLASS_NAMES,
        source=str(image_path),
    )


register_reader("mnist", read_mnist)
