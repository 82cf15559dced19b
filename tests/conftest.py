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
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import (
    DIGIT_STYLES,
    MILD_SHIFT,
    SOURCE_STYLE,
    digits_arrays,
    draw_digits,
    write_digit_domain,
    write_colour_folder,
    write_digits_npz,
)

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


@pytest.fixture
def make_digits():
    """:func:`digits_arrays`, for tests that want arrays in memory."""
    return digits_arrays


@pytest.fixture
def digits_npz(tmp_path) -> Path:
    return write_digits_npz(tmp_path / "digits.npz")


@pytest.fixture
def colour_folder(tmp_path) -> Path:
    """Three classes (cat, dog, emu) of ten 40 x 30 colour images each."""
    return write_colour_folder(tmp_path / "photos")


def _real_subset_npz(tmp_path_factory, domain: str, count: int) -> Path:
    if DATA_DIR is None:
        pytest.skip("real datasets not found: set GANTRANSFER_DATA")
    from gantransfer.data import load_domain

    data = load_domain(domain, "train", data_dir=DATA_DIR)
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


def _digits_file(tmp_path_factory, name: str, n: int, style, seed: int) -> Path:
    x, y = draw_digits(n, style, seed=seed)
    path = tmp_path_factory.mktemp("digits") / f"{name}.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="session")
def source_digits_npz(tmp_path_factory) -> Path:
    """300 synthetic source digits (28 x 28 grey) in one .npz: every split of the domain reads it."""
    return _digits_file(tmp_path_factory, "source300", 300, SOURCE_STYLE, seed=0)


@pytest.fixture(scope="session")
def target_digits_npz(tmp_path_factory) -> Path:
    """200 synthetic target digits with a mild shift from the source (:data:`MILD_SHIFT`), in one .npz."""
    return _digits_file(tmp_path_factory, "target200", 200, MILD_SHIFT, seed=1)


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
def grey_noisy_accuracy(digit_domain, tmp_path):
    """``accuracy(method)``: target test accuracy (0-1) of ``method`` from the synthetic source to
    ``digit_domain("grey-noisy")``, k = 0, seed 0, the source stage shared: a small layer-norm
    classifier (so that no BatchNorm statistics win a margin for a method), 300 source and 150 target
    steps. The learning tests of the methods that adapt on unlabelled target images use it."""
    from gantransfer.methods import ClassifierOptions, TransferConfig, transfer
    from gantransfer.training.supervised import ClassifierTraining

    def accuracy(method: str) -> float:
        config = TransferConfig(source=digit_domain("source"), target=digit_domain("grey-noisy"), method=method, k=0,
                                seed=0, classifier=ClassifierOptions(width=8, feature_dim=32, norm="layer"),
                                training=ClassifierTraining(steps=150, batch_size=32, eval_every=0),
                                source_training=ClassifierTraining(steps=300, batch_size=32, eval_every=0))
        return transfer(config, tmp_path / method, stages_dir=tmp_path / "stages",
                        progress_bar=False)["target_test_accuracy"]

    return accuracy


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
