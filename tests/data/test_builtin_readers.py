"""MNIST and USPS readers: real files load, damaged files fail with one clear line."""

from __future__ import annotations

import bz2
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from torchvision.datasets.mnist import read_image_file
from torchvision.transforms.v2 import functional as TF

from gantransfer.data import BatchStream, ImageFormat, load_domain, to_model_range
from gantransfer.errors import DataError


def _copy_mnist(data_dir: Path, tmp_path: Path, split_files=("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")) -> Path:
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in split_files:
        shutil.copy(data_dir / "MNIST" / "raw" / name, raw / name)
    return tmp_path / "data"


def _assert_one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.real_data
def test_mnist_is_stored_as_uint8_and_batches_see_exactly_the_old_floats(data_dir):
    test = load_domain("mnist", "test", data_dir=data_dir)
    assert test.images.shape == (10_000, 1, 28, 28) and test.images.dtype == torch.uint8
    assert test.labels.dtype == torch.int64 and test.num_classes == 10
    assert torch.bincount(test.labels).sum() == 10_000
    # Before uint8 storage, ImageSet.images was the IDX bytes / 255 * 2 - 1 in float32.
    before = read_image_file(str(data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte")).unsqueeze(1).float()
    before = before.div_(255.0) * 2.0 - 1.0
    indices = torch.randperm(10_000, generator=torch.Generator().manual_seed(0))[:256]
    (batch, _) = next(BatchStream((test.images, test.labels), batch_size=256, seed=0))
    drawn = BatchStream((test.images,), batch_size=256, seed=0).next_indices()
    assert torch.equal(batch, before[drawn]), "a batch must see bit-identical floats"
    assert torch.equal(to_model_range(test.images[indices]), before[indices])


@pytest.mark.real_data
def test_usps_h5_resized_to_28_with_published_class_counts(data_dir):
    test = load_domain("usps", "test", data_dir=data_dir)
    assert test.images.shape == (2007, 1, 28, 28) and test.images.dtype == torch.uint8
    assert torch.bincount(test.labels).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
    # Before: float resize of the 16 x 16 floats; now the same resize, rounded to uint8 after it.
    with h5py.File(data_dir / "USPS" / "usps.h5") as handle:
        raw = torch.from_numpy(handle["test"]["data"][()].astype(np.float32)).view(-1, 1, 16, 16)
    before = TF.resize(raw, [28, 28], antialias=True).clamp_(0.0, 1.0) * 2.0 - 1.0
    assert (to_model_range(test.images) - before).abs().max() <= 1 / 255 + 1e-6  # half a grey level, in [-1, 1]


@pytest.mark.real_data
def test_usps_bz2_layout_matches_h5(data_dir, tmp_path):
    with h5py.File(data_dir / "USPS" / "usps.h5") as handle:
        data = handle["test"]["data"][()]
        target = handle["test"]["target"][()]
    folder = tmp_path / "USPS"
    folder.mkdir()
    # torchvision's LIBSVM layout: "label idx:value ...", labels 1..10, values in [-1, 1].
    lines = [
        f"{label + 1} " + " ".join(f"{i + 1}:{v * 2 - 1:.6f}" for i, v in enumerate(row))
        for row, label in zip(data[:50], target[:50])
    ]
    with bz2.open(folder / "usps.t.bz2", "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    from_bz2 = load_domain("usps", "test", data_dir=tmp_path)
    from_h5 = load_domain("usps", "test", data_dir=data_dir)
    assert from_bz2.labels.tolist() == from_h5.labels[:50].tolist()
    # torchvision quantises bz2 pixels to uint8 before resizing, so allow two grey levels.
    assert (from_bz2.images.int() - from_h5.images[:50].int()).abs().max() <= 2


@pytest.mark.real_data
def test_resize_to_32_and_rgb(data_dir):
    test = load_domain("usps", "test", ImageFormat(size=32, channels=3), data_dir=data_dir)
    assert test.images.shape == (2007, 3, 32, 32)
    assert torch.equal(test.images[:, 0], test.images[:, 2])


def test_missing_dataset_names_expected_files_and_place(tmp_path):
    with pytest.raises(DataError) as error:
        load_domain("mnist", "train", data_dir=tmp_path / "empty")
    _assert_one_line(error, "train-images-idx3-ubyte", str(tmp_path / "empty" / "MNIST" / "raw"), "--download")


def test_missing_data_dir_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("GANTRANSFER_DATA", raising=False)
    with pytest.raises(DataError) as error:
        load_domain("usps", "test")
    _assert_one_line(error, "usps.h5", "GANTRANSFER_DATA")


@pytest.mark.real_data
def test_truncated_idx_file(data_dir, tmp_path):
    root = _copy_mnist(data_dir, tmp_path)
    path = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError) as error:
        load_domain("mnist", "test", data_dir=root)
    _assert_one_line(error, str(path), "truncated")


@pytest.mark.real_data
def test_idx_file_with_wrong_magic(data_dir, tmp_path):
    root = _copy_mnist(data_dir, tmp_path)
    path = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[2] = 0x0D  # float32 instead of unsigned bytes
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as error:
        load_domain("mnist", "test", data_dir=root)
    _assert_one_line(error, str(path), "magic")


@pytest.mark.real_data
def test_idx_image_and_label_counts_must_agree(data_dir, tmp_path):
    root = _copy_mnist(data_dir, tmp_path)
    path = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    data = path.read_bytes()
    count = (9_999).to_bytes(4, "big")
    path.write_bytes(data[:4] + count + data[8:-1])
    with pytest.raises(DataError) as error:
        load_domain("mnist", "test", data_dir=root)
    _assert_one_line(error, "10000 images", "9999 labels")


def test_corrupt_h5_file(tmp_path):
    folder = tmp_path / "USPS"
    folder.mkdir()
    (folder / "usps.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 50)
    with pytest.raises(DataError) as error:
        load_domain("usps", "train", data_dir=tmp_path)
    _assert_one_line(error, "usps.h5", "unreadable HDF5")


@pytest.mark.real_data
def test_truncated_h5_file(data_dir, tmp_path):
    folder = tmp_path / "USPS"
    folder.mkdir()
    (folder / "usps.h5").write_bytes((data_dir / "USPS" / "usps.h5").read_bytes()[:100_000])
    with pytest.raises(DataError) as error:
        load_domain("usps", "train", data_dir=tmp_path)
    _assert_one_line(error, "usps.h5")


def test_h5_with_wrong_shape_or_missing_split(tmp_path):
    folder = tmp_path / "USPS"
    folder.mkdir()
    with h5py.File(folder / "usps.h5", "w") as handle:
        handle.create_dataset("train/data", data=np.zeros((5, 100), np.float32))
        handle.create_dataset("train/target", data=np.zeros(5, np.int32))
    with pytest.raises(DataError) as error:
        load_domain("usps", "train", data_dir=tmp_path)
    _assert_one_line(error, "N x 256")
    with pytest.raises(DataError) as error:
        load_domain("usps", "test", data_dir=tmp_path)
    _assert_one_line(error, "test/data")


def test_h5_with_nan_pixels_or_bad_labels(tmp_path):
    folder = tmp_path / "USPS"
    folder.mkdir()
    data = np.zeros((4, 256), np.float32)
    data[1, 7] = np.nan
    with h5py.File(folder / "usps.h5", "w") as handle:
        handle.create_dataset("train/data", data=data)
        handle.create_dataset("train/target", data=np.zeros(4, np.int32))
        handle.create_dataset("test/data", data=np.zeros((3, 256), np.float32))
        handle.create_dataset("test/target", data=np.array([0, 4, 10], np.int32))
    with pytest.raises(DataError) as error:
        load_domain("usps", "train", data_dir=tmp_path)
    _assert_one_line(error, "NaN")
    with pytest.raises(DataError) as error:
        load_domain("usps", "test", data_dir=tmp_path)
    _assert_one_line(error, "labels must lie in [0, 9]", "found 10")


def test_corrupt_bz2_file(tmp_path):
    folder = tmp_path / "USPS"
    folder.mkdir()
    (folder / "usps.bz2").write_bytes(b"BZh9" + b"\x00" * 64)
    with pytest.raises(DataError) as error:
        load_domain("usps", "train", data_dir=tmp_path)
    _assert_one_line(error, "usps.bz2", "unreadable")


def test_unknown_domain_and_split():
    with pytest.raises(DataError, match="unknown domain 'svhn'"):
        load_domain("svhn")
    with pytest.raises(DataError, match="split must be one of"):
        load_domain("mnist", "valid")
    with pytest.raises(DataError, match="mnist: has no validation split"):
        load_domain("mnist", "validation")


def test_a_dataset_is_one_file_in_the_datasets_package_found_without_a_list(tmp_path, monkeypatch):
    from gantransfer.data import datasets, load_domain
    from gantransfer.data.domains import clear_domain_caches

    assert {name: reader.__module__ for name, reader in datasets.READERS.items()} == {
        "mnist": "gantransfer.data.datasets.mnist", "usps": "gantransfer.data.datasets.usps",
        "mnist-m": "gantransfer.data.datasets.mnist_m", "synth-digits": "gantransfer.data.datasets.synth_digits"}
    (tmp_path / "stripes.py").write_text(
        "import torch\n"
        "from gantransfer.data.images import RawImages\n"
        "from gantransfer.data.datasets.registry import register_reader\n\n"
        "def read_stripes(split, locations, download):\n"
        "    images = torch.zeros(20, 1, 8, 8)\n"
        "    images[1::2, :, ::2] = 1.0\n"
        "    return RawImages(images, torch.arange(20) % 2, ('plain', 'striped'), 'stripes')\n\n"
        "register_reader('stripes', read_stripes)\n")
    monkeypatch.setattr(datasets, "__path__", [*datasets.__path__, str(tmp_path)])
    try:
        datasets.discover()
        clear_domain_caches()
        stripes = load_domain("stripes", "train")
        assert stripes.class_names == ("plain", "striped") and len(stripes) == 20
    finally:
        datasets.READERS.pop("stripes", None)
        sys.modules.pop("gantransfer.data.datasets.stripes", None)
        clear_domain_caches()
