"""Shared fixtures: where the real datasets are, a private cache, small synthetic data.

The data directory comes from ``$GANTRANSFER_DATA`` (set by ``.ci/run``);
only when that variable is not set at all is ``../shared/datasets`` beside
the checkout tried (so ``GANTRANSFER_DATA=/nonexistent`` shows what runs
without the data). Tests that read the real MNIST/USPS files are marked
``real_data`` and skip without them; every other end-to-end test runs on the
synthetic digits below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

torch.set_num_threads(min(2, os.cpu_count() or 1))


def _data_dir() -> Path | None:
    env = os.environ.get("GANTRANSFER_DATA")
    if env is None:
        candidate = REPO.parent / "shared" / "datasets"
    elif env:
        candidate = Path(env)
    else:  # set but empty: no data, no fallback
        return None
    return candidate.resolve() if (candidate / "MNIST").is_dir() else None


# Read once, before any test changes the environment (_isolated_env removes the variable
# when it points nowhere, and a later look would then find the fallback).
DATA_DIR = _data_dir()


def pytest_runtest_setup(item):
    if item.get_closest_marker("real_data") is not None and DATA_DIR is None:
        pytest.skip("real MNIST/USPS not found: set GANTRANSFER_DATA (real_data test)")


@pytest.fixture
def data_dir(request) -> Path:
    """The folder holding MNIST/ and USPS/, for tests marked ``real_data`` (skipped without it)."""
    if request.node.get_closest_marker("real_data") is None:
        pytest.fail("a test that reads the real datasets must be marked @pytest.mark.real_data")
    return DATA_DIR


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A cache folder shared by the whole session (reference classifiers are trained once)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the user's real cache or an unrelated data dir by accident."""
    monkeypatch.setenv("GANTRANSFER_CACHE", str(tmp_path / "cache"))
    if DATA_DIR is not None:
        monkeypatch.setenv("GANTRANSFER_DATA", str(DATA_DIR))
    else:
        monkeypatch.delenv("GANTRANSFER_DATA", raising=False)


def write_digits_npz(path: Path, n: int = 60, size: int = 28, classes: int = 10, seed: int = 0) -> Path:
    """A synthetic labelled .npz: each class a bright square at a class-specific place."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, size, size)) * 40).astype(np.uint8)
    y = np.arange(n) % classes
    for i, label in enumerate(y):
        row, col = divmod(int(label), 4)
        x[i, 2 + 6 * row : 7 + 6 * row, 2 + 6 * col : 7 + 6 * col] = 255
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def digits_npz(tmp_path) -> Path:
    return write_digits_npz(tmp_path / "digits.npz")


def _real_subset_npz(tmp_path_factory, domain: str, count: int) -> Path:
    if DATA_DIR is None:
        pytest.skip("real datasets not found: set GANTRANSFER_DATA")
    from gantransfer.data import load_domain

    data = load_domain(domain, "train", data_dir=DATA_DIR)
    generator = torch.Generator().manual_seed(0)
    picked = torch.randperm(len(data), generator=generator)[:count]
    images = ((data.images[picked] + 1) / 2 * 255).round().to(torch.uint8).numpy()
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


# --- synthetic digits ---------------------------------------------------------------------------
#
# Seven-segment glyphs drawn as strokes with a random size, slant, position and stroke width per
# image: ten classes that look enough like digits for every network here to learn them in a few
# hundred steps, with no download. A DigitStyle is one domain's look; two styles make a domain shift.

_CORNERS = {"tl": (0.0, 0.0), "tr": (1.0, 0.0), "ml": (0.0, 0.5), "mr": (1.0, 0.5), "bl": (0.0, 1.0),
            "br": (1.0, 1.0)}
_SEGMENTS = {"a": ("tl", "tr"), "b": ("tr", "mr"), "c": ("mr", "br"), "d": ("bl", "br"), "e": ("ml", "bl"),
             "f": ("tl", "ml"), "g": ("ml", "mr")}
_GLYPHS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")


def _glyph_table() -> tuple[np.ndarray, np.ndarray]:
    """End points (10, 7, 2, 2) of each class's segments in a unit box (x right, y down), and
    which of the 7 slots each class uses (10, 7)."""
    ends = np.zeros((10, 7, 2, 2))
    used = np.zeros((10, 7), bool)
    for label, glyph in enumerate(_GLYPHS):
        for slot, segment in enumerate(glyph):
            start, end = _SEGMENTS[segment]
            ends[label, slot] = (_CORNERS[start], _CORNERS[end])
            used[label, slot] = True
    return ends, used


@dataclass(frozen=True)
class DigitStyle:
    """How one synthetic digit domain looks. Ranges are drawn uniformly per image.

    Attributes:
        thickness: stroke half-width in pixels.
        height: glyph height in pixels (width is 0.5-0.65 of it).
        slant: horizontal shear (positive leans right).
        rotation: rotation in degrees (positive turns clockwise on screen).
        background, foreground: grey levels in [0, 1] of paper and ink.
        noise: standard deviation of Gaussian pixel noise (grey levels in [0, 1]).
    """

    thickness: tuple[float, float] = (1.0, 1.6)
    height: tuple[float, float] = (15.0, 18.0)
    slant: tuple[float, float] = (-0.15, 0.15)
    rotation: tuple[float, float] = (0.0, 0.0)
    background: float = 0.0
    foreground: float = 1.0
    noise: float = 0.0


#: the source look: thin upright strokes, white on black, like MNIST
SOURCE_STYLE = DigitStyle()
#: a mild shift (as USPS from MNIST): thicker, larger, slanted strokes; a source classifier still reads them
MILD_SHIFT = DigitStyle(thickness=(1.6, 2.4), height=(18.0, 22.0), slant=(0.1, 0.35))
#: a strong appearance shift: grey, noisy paper; a source classifier reads about one digit in five
GREY_NOISY = DigitStyle(background=0.45, noise=0.15)


def draw_digits(n: int, style: DigitStyle = SOURCE_STYLE, seed: int = 0, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic digits: uint8 images (n, size, size) and int64 labels (n,), classes balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    ends, used = _glyph_table()
    points = ends[labels].copy()  # (n, 7, 2, 2)
    height = rng.uniform(*style.height, n)[:, None, None]
    width = height * rng.uniform(0.5, 0.65, n)[:, None, None]
    points[..., 0] = (points[..., 0] - 0.5) * width
    points[..., 1] = (points[..., 1] - 0.5) * height
    points[..., 0] -= rng.uniform(*style.slant, n)[:, None, None] * points[..., 1]
    angle = np.radians(rng.uniform(*style.rotation, n))[:, None, None]
    x, y = points[..., 0].copy(), points[..., 1].copy()
    points[..., 0], points[..., 1] = x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle)
    points += rng.normal(0, 0.5, points.shape)  # wobbly strokes: no two images alike
    points += (size / 2 + rng.uniform(-1.5, 1.5, (n, 2)))[:, None, None, :]
    grid = np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="xy"), -1).reshape(-1, 2)
    start, step = points[:, None, :, 0], points[:, None, :, 1] - points[:, None, :, 0]  # (n, 1, 7, 2)
    along = ((grid[None, :, None] - start) * step).sum(-1) / np.maximum((step * step).sum(-1), 1e-9)
    nearest = start + np.clip(along, 0, 1)[..., None] * step
    squared = ((grid[None, :, None] - nearest) ** 2).sum(-1)  # (n, pixels, 7)
    distance = np.sqrt(np.where(used[labels][:, None], squared, np.inf).min(-1)).reshape(n, size, size)
    ink = np.clip(rng.uniform(*style.thickness, n)[:, None, None] + 0.5 - distance, 0, 1)
    images = style.background + (style.foreground - style.background) * ink
    images = np.clip(images + rng.normal(0, style.noise, images.shape) if style.noise else images, 0, 1)
    return (images * 255).round().astype(np.uint8), labels.astype(np.int64)


def write_digit_domain(folder: Path, style: DigitStyle, train: int, test: int, seed: int) -> Path:
    """A custom domain folder with ``train.npz`` and ``test.npz`` (disjoint draws) in ``style``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count, split_seed in (("train", train, seed), ("test", test, seed + 1)):
        x, y = draw_digits(count, style, split_seed)
        np.savez(folder / f"{split}.npz", x=x, y=y)
    return folder


@pytest.fixture(scope="session")
def source_digits_npz(tmp_path_factory) -> Path:
    """300 synthetic source digits (28 x 28 grey) in one .npz: every split of the domain reads it."""
    x, y = draw_digits(300, SOURCE_STYLE, seed=0)
    path = tmp_path_factory.mktemp("digits") / "source300.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="session")
def target_digits_npz(tmp_path_factory) -> Path:
    """200 synthetic target digits with a mild shift from the source (:data:`MILD_SHIFT`), in one .npz."""
    x, y = draw_digits(200, MILD_SHIFT, seed=1)
    path = tmp_path_factory.mktemp("digits") / "target200.npz"
    np.savez(path, x=x, y=y)
    return path


#: named looks for :func:`digit_domain`'s domains
DIGIT_STYLES = {
    "source": SOURCE_STYLE,
    "mild": MILD_SHIFT,
    "grey-noisy": GREY_NOISY,
    # Turned further than the classifiers' augmentation (+-15 degrees) reaches: a source
    # classifier reads about two digits in three, the rest are near its decision boundaries.
    "rotated": DigitStyle(rotation=(25.0, 45.0)),
}


@pytest.fixture(scope="session")
def digit_domain(tmp_path_factory):
    """``digit_domain(name)``: the folder of a synthetic domain with disjoint ``train.npz`` and
    ``test.npz`` in the look :data:`DIGIT_STYLES` names (source: 600 / 300 images, the others
    400 / 400), written once per session."""
    root = tmp_path_factory.mktemp("domains")
    sizes = {"source": (600, 300)}
    seeds = {name: 10 * index for index, name in enumerate(DIGIT_STYLES)}

    def make(name: str) -> str:
        folder = root / name
        if not folder.is_dir():
            train, test = sizes.get(name, (400, 400))
            write_digit_domain(folder, DIGIT_STYLES[name], train, test, seeds[name])
        return str(folder)

    return make


@pytest.fixture
def check_reported_accuracy():
    """``check(metrics, run_dir)``: a transfer run's reported target test accuracy, confusion
    matrix and per-class accuracies are what its saved classifier gives on the target test split."""
    from gantransfer.data import load_domain
    from gantransfer.evaluation.classification import evaluate_classifier
    from gantransfer.models.saving import load_classifier

    def check(metrics: dict, run_dir: Path) -> None:
        saved = load_classifier(Path(run_dir) / "classifier.safetensors")
        report = evaluate_classifier(saved.model, load_domain(metrics["target"], "test", saved.format))
        assert metrics["target_test_accuracy"] == report.accuracy
        assert metrics["confusion_matrix"] == report.confusion.tolist()
        confusion = torch.tensor(metrics["confusion_matrix"], dtype=torch.float64)
        assert metrics["target_test_accuracy"] == pytest.approx(float(confusion.trace() / confusion.sum()))
        per_class = (confusion.diagonal() / confusion.sum(1)).tolist()
        assert [metrics["per_class_accuracy"][name] for name in saved.class_names] == pytest.approx(per_class)

    return check
