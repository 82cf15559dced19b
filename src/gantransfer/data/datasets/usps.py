"""USPS digits from either of its two common packagings.

- ``USPS/usps.h5``: the HDF5 file with ``train/data`` (N x 256 floats in [0, 1])
  and ``train/target`` (N integer labels), and the same under ``test/``.
- ``USPS/usps.bz2`` and ``USPS/usps.t.bz2``: the LIBSVM text files that
  ``torchvision.datasets.USPS`` downloads (pixels in [-1, 1], labels 1..10).

Images are 16 x 16; :func:`~gantransfer.data.geometry.standardize` resizes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import USPS

from ...errors import DataError, first_line
from ..images import RawImages
from ..locations import DataLocations
from .registry import register_reader

FOLDER = "USPS"
H5_FILE = "usps.h5"
BZ2_FILES = {"train": "usps.bz2", "test": "usps.t.bz2"}
CLASS_NAMES = tuple(str(digit) for digit in range(10))
SIDE = 16


def read_usps_h5(path: Path, split: str) -> RawImages:
    """One split of ``usps.h5`` as 1 x 16 x 16 images in [0, 1]."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if split not in handle or "data" not in handle[split] or "target" not in handle[split]:
                raise DataError(f"{path}: no '{split}/data' and '{split}/target' datasets in this HDF5 file")
            data = np.asarray(handle[split]["data"][()], dtype=np.float32)
            target = np.asarray(handle[split]["target"][()])
    except DataError:
        raise
    except Exception as error:  # h5py raises OSError, KeyError, ValueError... for damaged files
        raise DataError(f"{path}: unreadable HDF5 file ({first_line(error)})") from None
    if data.ndim != 2 or data.shape[1] != SIDE * SIDE:
        raise DataError(f"{path}: '{split}/data' must be N x {SIDE * SIDE}, got {data.shape}")
    if not np.issubdtype(target.dtype, np.integer):
        raise DataError(f"{path}: '{split}/target' must hold integers, got {target.dtype}")
    return RawImages(
        images=torch.from_numpy(data).view(-1, 1, SIDE, SIDE),
        labels=torch.from_numpy(target.astype(np.int64)).flatten(),
        class_names=CLASS_NAMES,
        source=f"{path}:{split}",
    )


def read_usps_bz2(folder: Path, split: str) -> RawImages:
    """One split of torchvision's LIBSVM files as uint8 1 x 16 x 16 images (torchvision quantises them)."""
    path = folder / BZ2_FILES[split]
    try:
        dataset = USPS(root=str(folder), train=split == "train", download=False)
    except Exception as error:  # EOFError, OSError, ValueError from a damaged file
        raise DataError(f"{path}: unreadable USPS LIBSVM file ({first_line(error)})") from None
    images = torch.from_numpy(np.asarray(dataset.data, dtype=np.uint8)).unsqueeze(1)
    return RawImages(images, torch.tensor(dataset.targets, dtype=torch.int64), CLASS_NAMES, str(path))


def read_usps(split: str, locations: DataLocations, download: bool) -> RawImages:
    """USPS ``train`` (7,291) or ``test`` (2,007), from ``usps.h5`` or the bz2 files."""
    alternatives = [[H5_FILE], [BZ2_FILES[split]]]
    found = locations.find(FOLDER, alternatives)
    if found is None and download:
        target = locations.download_dir / FOLDER
        try:
            USPS(root=str(target), train=split == "train", download=True)
        except Exception as error:
            raise DataError(f"USPS download to {target} failed: {first_line(error)}") from None
        found = locations.find(FOLDER, alternatives)
    if found is None:
        raise locations.missing_error(FOLDER, alternatives, "or pass --download when online")
    folder, (path,) = found
    if path.name == H5_FILE:
        return read_usps_h5(path, split)
    return read_usps_bz2(folder, split)


register_reader("usps", read_usps)
