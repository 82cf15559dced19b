"""Shared fixtures: where the real datasets are, a private cache, small synthetic data.

The data directory comes from ``$GANTRANSFER_DATA`` (set by ``.ci/run``);
without it, ``../shared/datasets`` beside the checkout is tried, and tests
that need real data are skipped when neither exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

torch.set_num_threads(min(2, os.cpu_count() or 1))


def _data_dir() -> Path | None:
    env = os.environ.get("GANTRANSFER_DATA")
    candidates = [Path(env)] if env else [REPO.parent / "shared" / "datasets"]
    for candidate in candidates:
        if (candidate / "MNIST").is_dir():
            return candidate.resolve()
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding MNIST/ and USPS/ (tests needing it skip without it)."""
    found = _data_dir()
    if found is None:
        pytest.skip("real datasets not found: set GANTRANSFER_DATA")
    return found


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A cache folder shared by the whole session (reference classifiers are trained once)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the user's real cache or an unrelated data dir by accident."""
    monkeypatch.setenv("GANTRANSFER_CACHE", str(tmp_path / "cache"))
    found = _data_dir()
    if found is not None:
        monkeypatch.setenv("GANTRANSFER_DATA", str(found))
    else:
        monkeypatch.delenv("GANTRANSFER_DATA", raising=False)


def digits_arrays(n: int = 60, size: int = 28, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic labelled images ``(x uint8 (n, size, size), y int (n,))``: each class a bright
    square at a class-specific place on noise."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, size, size)) * 40).astype(np.uint8)
    y = np.arange(n) % classes
    for i, label in enumerate(y):
        row, col = divmod(int(label), 4)
        x[i, 2 + 6 * row : 7 + 6 * row, 2 + 6 * col : 7 + 6 * col] = 255
    return x, y


def write_digits_npz(path: Path, n: int = 60, size: int = 28, classes: int = 10, seed: int = 0) -> Path:
    """:func:`digits_arrays` as a labelled .npz file."""
    x, y = digits_arrays(n, size, classes, seed)
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def make_digits():
    """:func:`digits_arrays`, for tests that want arrays in memory."""
    return digits_arrays


@pytest.fixture
def digits_npz(tmp_path) -> Path:
    return write_digits_npz(tmp_path / "digits.npz")


#: class colours of the synthetic colour images (RGB)
COLOURS = ((220, 40, 40), (40, 180, 60), (50, 70, 220), (230, 200, 40), (160, 60, 200), (40, 200, 210))


def colour_image(label: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An H x W x 3 uint8 photo-like image: noise, and a disc of the class's colour at a random place."""
    width, height = size
    image = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
    rows, cols = np.mgrid[0:height, 0:width]
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    disc = (rows - cy) ** 2 + (cols - cx) ** 2 < (0.25 * min(width, height)) ** 2
    image[disc] = COLOURS[label % len(COLOURS)]
    return image


def write_colour_folder(root: Path, classes=("cat", "dog", "emu"), per_class: int = 10, size=(40, 30),
                        seed: int = 0, suffix: str = ".png") -> Path:
    """``root/<class>/<i>.png``: synthetic colour images, every one different (``size``: width, height)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(colour_image(label, size, rng)).save(folder / f"{i:03d}{suffix}")
    return root


@pytest.fixture
def colour_folder(tmp_path) -> Path:
    """Three classes (cat, dog, emu) of ten 40 x 30 colour images each."""
    return write_colour_folder(tmp_path / "photos")


def _real_subset_npz(tmp_path_factory, domain: str, count: int) -> Path:
    found = _data_dir()
    if found is None:
        pytest.skip("real datasets not found: set GANTRANSFER_DATA")
    from gantransfer.data import load_domain

    data = load_domain(domain, "train", data_dir=found)
    generator = torch.Generator().manual_seed(0)
    picked = torch.randperm(len(data), generator=generator)[:count]
    images = data.images[picked].numpy()  # uint8 pixels, as the domain stores them
    path = tmp_path_factory.mktemp(f"{domain}{count}") / f"{domain}{count}.npz"
    np.savez(path, x=images, y=data.labels[picked].numpy())
    return path


@pytest.fixture(scope="session")
def mnist_subset_npz(tmp_path_factory) -> Path:
    """300 real MNIST train images as a custom .npz domain (for tiny end-to-end runs)."""
    return _real_subset_npz(tmp_path_factory, "mnist", 300)


@pytest.fixture(scope="session")
def usps_subset_npz(tmp_path_factory) -> Path:
    """200 real USPS train images (28 x 28) as a custom .npz domain."""
    return _real_subset_npz(tmp_path_factory, "usps", 200)
