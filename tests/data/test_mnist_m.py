"""mnist-m: the published files' reader, and the MNIST-M-style build from a tiny fake MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import BuildOptions, DataOptions, ImageFormat, describe_domain, load_domain, to_model_range
from gantransfer.data.datasets import mnist_m
from gantransfer.data.domains import clear_domain_caches
from gantransfer.data.locations import DataLocations
from gantransfer.data.datasets.photos import BUNDLED_PHOTOS, bundled_photos
from gantransfer.errors import DataError

RGB = ImageFormat(size=28, channels=3)


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` (uint8) as an IDX file, the format of MNIST's raw files."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_mnist(root: Path, train: int = 120, test: int = 40, seed: int = 0) -> dict[str, tuple]:
    """A tiny MNIST in torchvision's raw layout: a bright bar per class on black, with soft edges."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    splits = {}
    for split, n, prefix in (("train", train, "train"), ("test", test, "t10k")):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        digits = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):
            digits[i, 4 + 2 * label : 6 + 2 * label, 5:23] = 255
            digits[i, 3 + 2 * label, 5:23] = rng.integers(1, 60)  # faint antialiasing: binarised as ink (> 0)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", digits)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        splits[split] = (digits, labels)
    return splits


def write_photos(folder: Path, sizes=((30, 31), (29, 33)), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    photos = []
    for i, (h, w) in enumerate(sizes):
        photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(photo).save(folder / f"photo{i}.png")
        photos.append(photo)
    return photos


def listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture
def fake_mnist(tmp_path):
    data = tmp_path / "data"
    return data, write_fake_mnist(data)


@pytest.fixture(autouse=True)
def _fresh_memory_cache():
    clear_domain_caches()  # each test sees the files its own cache folder holds
    yield
    clear_domain_caches()


def test_bundled_photos_load_offline_as_colour_images():
    photos = bundled_photos()
    assert len(photos) == len(BUNDLED_PHOTOS)
    for photo in photos:
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 28
        assert photo.std(axis=2).mean() > 5  # colour, not grey stored as RGB


def test_composition_follows_ganin_et_al():
    digits = np.zeros((50, 28, 28), np.uint8)
    digits[:, 10:18, 12:16] = 200
    digits[:, 9, 12:16] = 1  # any non-zero pixel is ink
    photos = [np.random.default_rng(1).integers(0, 256, (30, 32, 3), dtype=np.uint8)]
    out = mnist_m.compose_mnist_m(digits, photos, seed=3)
    assert out.shape == (50, 3, 28, 28) and out.dtype == np.uint8
    ink = digits > 0
    for image, mask in zip(out.transpose(0, 2, 3, 1), ink):
        restored = np.where(mask[..., None], 255 - image, image)  # undo |patch - 255 * digit|
        found = [(t, left) for t in range(3) for left in range(5)
                 if np.array_equal(restored, photos[0][t : t + 28, left : left + 28])]
        assert found, "every image is a patch of the photo with the digit's pixels inverted"


def test_composition_is_deterministic_for_a_seed():
    digits = np.random.default_rng(0).integers(0, 2, (40, 28, 28), dtype=np.uint8) * 255
    photos = [np.random.default_rng(i).integers(0, 256, (40 + i, 50, 3), dtype=np.uint8) for i in range(3)]
    first = mnist_m.compose_mnist_m(digits, photos, seed=5)
    assert first.tobytes() == mnist_m.compose_mnist_m(digits, photos, seed=5).tobytes()
    assert first.tobytes() != mnist_m.compose_mnist_m(digits, photos, seed=6).tobytes()


def test_built_from_mnist_into_the_cache_only(fake_mnist, tmp_path):
    data, splits = fake_mnist
    before = listing(data)
    train = load_domain("mnist-m", "train", RGB, data_dir=data, cache_dir=tmp_path / "cache")
    test = load_domain("mnist-m", "test", RGB, data_dir=data, cache_dir=tmp_path / "cache")
    assert listing(data) == before, "nothing is written to the data directory"
    assert train.images.shape == (120, 3, 28, 28) and test.images.shape == (40, 3, 28, 28)
    assert train.labels.tolist() == splits["train"][1].tolist() and test.labels.tolist() == splits["test"][1].tolist()
    built = sorted((tmp_path / "cache" / "built").glob("mnist-m-style-*/*.npz"))
    assert [p.name for p in built] == ["test.npz", "train.npz"]
    with np.load(built[1]) as arrays:
        assert arrays["x"].dtype == np.uint8 and arrays["x"].shape == (120, 3, 28, 28)
        assert arrays["y"].tolist() == splits["train"][1].tolist()
    # Colour: the channels differ, unlike a grey digit.
    assert float((train.images[:, 0].float() - train.images[:, 1].float()).abs().mean()) / 127.5 > 0.05


def test_built_once_then_reused(fake_mnist, tmp_path, monkeypatch):
    data, _ = fake_mnist
    locations = DataLocations.resolve(data, tmp_path / "cache")
    first = mnist_m.read_mnist_m("train", locations, False)
    (path,) = (tmp_path / "cache" / "built").glob("mnist-m-style-*/train.npz")
    stamp = path.stat().st_mtime_ns

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a cached domain")

    monkeypatch.setattr(mnist_m, "compose_mnist_m", no_rebuild)
    again = mnist_m.read_mnist_m("train", locations, False)
    assert torch.equal(first.images, again.images) and path.stat().st_mtime_ns == stamp


def test_same_inputs_same_bytes_other_photos_another_domain(fake_mnist, tmp_path):
    data, _ = fake_mnist
    photos = tmp_path / "photos"
    write_photos(photos)
    default = load_domain("mnist-m", "train", RGB, data_dir=data, cache_dir=tmp_path / "a")
    rebuilt = load_domain("mnist-m", "train", RGB, data_dir=data, cache_dir=tmp_path / "b")
    assert torch.equal(default.images, rebuilt.images), "a build depends on its inputs only"
    own = load_domain("mnist-m", "train", RGB, data_dir=data, cache_dir=tmp_path / "a",
                      build=BuildOptions(backgrounds=str(photos)))
    assert not torch.equal(default.images, own.images)
    assert len(list((tmp_path / "a" / "built").glob("mnist-m-style-*"))) == 2
    # Stages and reference classifiers are named by the content key: the two builds never share one.
    def key(domain: str, build: BuildOptions = BuildOptions()) -> str:
        return describe_domain(domain, DataOptions(str(data), str(tmp_path / "a"), build=build)).key

    assert key("mnist-m", BuildOptions(backgrounds=str(photos))) != key("mnist-m")
    assert key("mnist", BuildOptions(backgrounds=str(photos))) == key("mnist"), "MNIST is not built"


def test_interrupted_build_leaves_no_file(fake_mnist, tmp_path, monkeypatch):
    data, _ = fake_mnist

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist_m, "compose_mnist_m", killed)
    with pytest.raises(KeyboardInterrupt):
        load_domain("mnist-m", "test", RGB, data_dir=data, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.npz")) and not list((tmp_path / "cache").rglob("*.tmp"))


def test_building_without_mnist_says_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        load_domain("mnist-m", "train", RGB, data_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and "mnist-m" in message and "train-images-idx3-ubyte" in message


def test_bad_backgrounds_folder(fake_mnist, tmp_path):
    data, _ = fake_mnist
    (tmp_path / "nophotos").mkdir()
    tiny = tmp_path / "tiny"
    write_photos(tiny, sizes=((20, 40),))
    for folder, fragment in ((tmp_path / "missing", "not a folder"), (tmp_path / "nophotos", "no image files"),
                             (tiny, "smaller than the 28 x 28")):
        with pytest.raises(DataError) as error:
            load_domain("mnist-m", "test", RGB, data_dir=data, cache_dir=tmp_path / "cache",
                        build=BuildOptions(backgrounds=str(folder)))
        assert fragment in str(error.value) and "backgrounds" in str(error.value) and "\n" not in str(error.value)


def write_published(root: Path, split: str, n: int = 12) -> tuple[np.ndarray, list[int]]:
    """MNIST-M in its published layout: ``mnist_m/mnist_m_<split>/*.png`` and a labels file."""
    rng = np.random.default_rng(7)
    folder = root / "mnist_m" / f"mnist_m_{split}"
    folder.mkdir(parents=True)
    images = rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    lines = []
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(folder / f"{i:08d}.png")
        lines.append(f"{i:08d}.png {label}")
    (root / "mnist_m" / f"mnist_m_{split}_labels.txt").write_text("\n".join(lines) + "\n")
    return images, labels


def test_published_files_are_read_as_they_are(tmp_path):
    images, labels = write_published(tmp_path / "data", "test")
    domain = load_domain("mnist-m", "test", RGB, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert domain.labels.tolist() == labels
    expected = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 * 2 - 1
    assert torch.allclose(to_model_range(domain.images), expected, atol=1e-6)
    assert not (tmp_path / "cache" / "built").exists(), "nothing built when the published files are there"


def test_published_files_with_bad_lines_or_missing_images(tmp_path):
    write_published(tmp_path / "data", "train", n=3)
    labels = tmp_path / "data" / "mnist_m" / "mnist_m_train_labels.txt"
    labels.write_text("00000000.png 3\n00000001.png eleven\n")
    with pytest.raises(DataError) as error:
        load_domain("mnist-m", "train", RGB, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert f"{labels}:2:" in str(error.value) and "\n" not in str(error.value)
    labels.write_text("00000000.png 3\n00000009.png 1\n")
    with pytest.raises(DataError, match="00000009.png: listed in mnist_m_train_labels.txt but missing"):
        load_domain("mnist-m", "train", RGB, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")


def test_backgrounds_option_builds_even_where_published_files_are(fake_mnist, tmp_path):
    data, splits = fake_mnist
    write_published(data, "test")
    photos = tmp_path / "photos"
    write_photos(photos)
    built = load_domain("mnist-m", "test", RGB, data_dir=data, cache_dir=tmp_path / "cache",
                        build=BuildOptions(backgrounds=str(photos)))
    assert built.labels.tolist() == splits["test"][1].tolist()


def test_damaged_cached_file_names_itself(fake_mnist, tmp_path):
    data, _ = fake_mnist
    load_domain("mnist-m", "test", RGB, data_dir=data, cache_dir=tmp_path / "cache")
    (path,) = (tmp_path / "cache" / "built").glob("mnist-m-style-*/test.npz")
    path.write_bytes(b"PK\x03\x04 damaged")
    clear_domain_caches()
    with pytest.raises(DataError, match="delete it to build it again"):
        load_domain("mnist-m", "test", RGB, data_dir=data, cache_dir=tmp_path / "cache")


def test_grey_format_by_default(fake_mnist, tmp_path):
    data, _ = fake_mnist
    grey = load_domain("mnist-m", "test", data_dir=data, cache_dir=tmp_path / "cache")
    assert grey.images.shape == (40, 1, 28, 28)
