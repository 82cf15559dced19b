"""Image folders and .npz files as domains, and their bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import load_domain, register_domain
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
    root = _write_folder(tmp_path / "pets")
    data = load_domain(str(root), "train")
    assert data.images.shape == (4, 1, 28, 28)
    assert data.class_names == ("cat", "dog")
    assert data.labels.tolist() == [0, 0, 1, 1]
    assert -1 <= float(data.images.min()) and float(data.images.max()) <= 1


def test_folder_with_train_and_test_splits(tmp_path):
    _write_folder(tmp_path / "dom" / "train")
    _write_folder(tmp_path / "dom" / "test", sizes=((8, 8),))
    assert len(load_domain(str(tmp_path / "dom"), "train")) == 4
    assert len(load_domain(str(tmp_path / "dom"), "test")) == 2


def test_npz_layouts(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "hwc.npz", x=x, y=np.array([0, 1, 2, 0, 1, 2]))
    data = load_domain(str(tmp_path / "hwc.npz"))
    assert data.images.shape == (6, 1, 28, 28) and data.num_classes == 3
    floats = np.linspace(-1, 1, 2 * 28 * 28, dtype=np.float32).reshape(2, 1, 28, 28)
    np.savez(tmp_path / "f.npz", x=floats, y=np.array([0, 1]), classes=np.array(["a", "b"]))
    data = load_domain(str(tmp_path / "f.npz"))
    assert torch.allclose(data.images, torch.from_numpy(floats), atol=1e-6)
    assert data.class_names == ("a", "b")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_domain(str(tmp_path / "empty"))


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
