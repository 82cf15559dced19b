"""Image folders and .npz files as domains, and their bad-input errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import ImageFormat, load_domain, register_domain, to_model_range
from gantransfer.data.datasets.custom import list_image_folder
from gantransfer.data.images import RawImages
from gantransfer.errors import DataError


def _write_folder(root, sizes=((20, 20), (40, 30)), classes=("cat", "dog")):
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for i, size in enumerate(sizes):
            Image.new("RGB", size, color=(255 * label, 80, 40 * i)).save(folder / f"{i}.png")
    return root


def test_image_folder_of_any_size_and_mode(tmp_path):
    root = _write_folder(tmp_path / "pets", sizes=((20, 20), (40, 30), (30, 40), (8, 8)))
    train = load_domain(str(root), "train", ImageFormat(28, 3))
    test = load_domain(str(root), "test", ImageFormat(28, 3))
    assert train.images.shape == (6, 3, 28, 28) and test.images.shape == (2, 3, 28, 28)
    assert train.images.dtype == torch.uint8
    assert train.class_names == test.class_names == ("cat", "dog")
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1] and test.labels.tolist() == [0, 1]
    grey = load_domain(str(root), "train", ImageFormat(28, 1))
    assert grey.images.shape == (6, 1, 28, 28)


def test_folder_with_train_and_test_splits(tmp_path):
    _write_folder(tmp_path / "dom" / "train")
    _write_folder(tmp_path / "dom" / "test", sizes=((8, 8),))
    assert len(load_domain(str(tmp_path / "dom"), "train")) == 4
    assert len(load_domain(str(tmp_path / "dom"), "test")) == 2


def test_npz_layouts(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "hwc.npz", x=x, y=np.arange(10) % 2)
    train = load_domain(str(tmp_path / "hwc.npz"), "train", ImageFormat(16, 3))
    test = load_domain(str(tmp_path / "hwc.npz"), "test", ImageFormat(16, 3))
    assert len(train) + len(test) == 10 and train.num_classes == 2
    assert torch.equal(torch.cat([train.images, test.images]).sort(0).values,
                       torch.from_numpy(x).permute(0, 3, 1, 2).sort(0).values), "uint8 kept exactly"
    levels = np.array([-1.0, -0.3, 0.4, 1.0], dtype=np.float32)  # one flat grey level per image, in [-1, 1]
    floats = np.broadcast_to(levels[:, None, None, None], (4, 1, 28, 28))
    np.savez(tmp_path / "f.npz", x=floats, y=np.array([0, 1, 0, 1]), classes=np.array(["a", "b"]))
    parts = [load_domain(str(tmp_path / "f.npz"), split) for split in ("train", "test")]
    assert parts[0].class_names == ("a", "b")
    got = torch.cat([to_model_range(part.images) for part in parts]).flatten(1)
    assert torch.equal(got.min(1).values, got.max(1).values), "each image stays flat"
    assert (got[:, 0].sort().values - torch.from_numpy(levels)).abs().max() <= 1 / 255 + 1e-6


def test_empty_folder_names_every_layout(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        load_domain(str(tmp_path / "empty"))
    message = str(error.value)
    assert "\n" not in message and "not a domain folder" in message
    for layout in ("DIR/<class>/<images>", "DIR/train/<class>", "train.npz and DIR/test.npz", "NAME_train.npz",
                   "FILE.npz"):
        assert layout in message


def test_empty_class_folder(tmp_path):
    root = _write_folder(tmp_path / "pets")
    (root / "emu").mkdir()
    with pytest.raises(DataError, match=r"emu: class folder holds no image files"):
        load_domain(str(root))


def test_corrupt_image_named(tmp_path):
    root = _write_folder(tmp_path / "pets")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError) as error:
        load_domain(str(root))
    assert "broken.png: not a readable image" in str(error.value)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((3, 28, 28), np.uint8)}, "missing array(s) y"),
        ({"x": np.zeros((3, 28), np.uint8), "y": np.zeros(3, int)}, "N x H x W"),
        ({"x": np.zeros((3, 28, 28), np.uint8), "y": np.zeros(4, int)}, "3 images but labels of shape (4,)"),
        ({"x": np.full((2, 28, 28), np.nan, np.float32), "y": np.zeros(2, int)}, "NaN"),
        ({"x": np.full((2, 28, 28), 7.0, np.float32), "y": np.zeros(2, int)}, "[0, 1] or [-1, 1]"),
        ({"x": np.zeros((2, 28, 28), np.int32) + 300, "y": np.zeros(2, int)}, "0..255"),
        ({"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([0.5, 1.0])}, "must be integers"),
        ({"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([0, -1])}, "must be >= 0"),
        ({"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([0, 2]), "classes": np.array(["a", "b"])},
         "labels must lie in [0, 1]"),
        ({"x": np.zeros((0, 28, 28), np.uint8), "y": np.zeros(0, int)}, "contains no images"),
    ],
)
def test_bad_npz_files(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        load_domain(str(path))
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(DataError, match="unreadable array file"):
        load_domain(str(path))


def test_missing_path():
    with pytest.raises(DataError, match="no such file or folder"):
        load_domain("./nowhere/at/all")


def test_registered_reader_gets_the_same_conversion():
    def reader(split, locations, download):
        images = torch.rand(5, 3, 10, 10)
        return RawImages(images, torch.tensor([0, 1, 0, 1, 0]), ("a", "b"), "toy")

    register_domain("toy-domain", reader)
    data = load_domain("toy-domain", "test")
    assert data.images.shape == (5, 1, 28, 28) and data.name == "toy-domain/test"


def test_an_unreadable_class_folder_is_reported_as_unreadable(tmp_path, monkeypatch):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.new("L", (8, 8)).save(tmp_path / name / "x.png")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith(os.sep + "b"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # as root, chmod cannot block a read
    with pytest.raises(DataError, match=r"b: class folder cannot be read \(Permission denied\)"):
        list_image_folder(tmp_path)
