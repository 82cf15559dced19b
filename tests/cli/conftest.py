"""Small runs and files for the command-line tests, made from synthetic data in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from gantransfer.cli.main import main

# A conditional GAN small enough to train a few steps in about a second.
TINY_GAN = ["--conditional", "--steps", "4", "--batch-size", "8", "--quality-samples", "0", "--eval-every", "2",
            "--generator-width", "8", "--discriminator-width", "4", "--feature-dim", "8", "--latent-dim", "8"]
TINY_TRANSFER = ["--method", "target-only", "--k", "3", "--training-steps", "2", "--training-batch-size", "8",
                 "--classifier-width", "8", "--classifier-feature-dim", "16"]


@pytest.fixture
def tiny_gan_args() -> list[str]:
    return list(TINY_GAN)


@pytest.fixture
def tiny_transfer_args() -> list[str]:
    return list(TINY_TRANSFER)


@pytest.fixture
def one_line_error(capsys):
    """``check(code)``: the error a command printed, checked to be exit status 2 and one line, no traceback."""

    def check(code: int) -> str:
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        return err

    return check


@pytest.fixture
def tree():
    """``tree(root)``: every path under ``root`` with its modification time, to see what a command wrote."""

    def listing(root: Path) -> dict[str, int]:
        return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in sorted(root.rglob("*"))}

    return listing


@pytest.fixture
def gan_run(tmp_path, digits_npz, capsys) -> Path:
    """A finished 4-step conditional GAN run on synthetic digits."""
    out = tmp_path / "gan"
    assert main(["pretrain", "--source", str(digits_npz), *TINY_GAN, "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    return out


@pytest.fixture
def transfer_run(tmp_path, digits_npz, capsys) -> Path:
    """A finished 2-step target-only transfer run on synthetic digits (source and target alike)."""
    out = tmp_path / "transfer"
    assert main(["transfer", "--source", str(digits_npz), "--target", str(digits_npz), *TINY_TRANSFER, "--out", str(out),
                 "--no-progress"]) == 0
    capsys.readouterr()
    return out


@pytest.fixture
def classifier_file(tmp_path) -> Path:
    """An untrained 10-class classifier (classes "0".."9", 1 x 28 x 28) as a safetensors file."""
    from gantransfer.data import ImageFormat
    from gantransfer.models import Classifier
    from gantransfer.models.classifier import ClassifierConfig
    from gantransfer.models.saving import save_classifier
    from gantransfer.models.trunk import TrunkConfig

    path = tmp_path / "model" / "classifier.safetensors"
    model = Classifier(ClassifierConfig(TrunkConfig(width=8, feature_dim=16), num_classes=10))
    save_classifier(path, model, tuple(str(i) for i in range(10)), ImageFormat())
    return path
