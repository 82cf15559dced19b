"""End to end on a user's own colour photos (synthetic, one folder per class): the format comes
from the data (3 x 64 x 64, printed and recorded), classes match by name, the drawn test split
is written down, predict reads new photos, and a changed folder retrains its stage."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from synthetic import colour_image, write_colour_folder
from gantransfer.data import DataOptions, ImageFormat
from gantransfer.methods import ClassifierOptions, TransferConfig, transfer
from gantransfer.methods.context import TransferData
from gantransfer.models.saving import load_classifier
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.prediction import evaluation_set, predict_files
from gantransfer.training.pretrain import PretrainConfig, load_gan, pretrain
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining


@pytest.fixture
def office(tmp_path):
    """amazon: 4 classes of 80 x 64 photos; webcam: 3 of them (no mug), 64 x 64."""
    source = write_colour_folder(tmp_path / "amazon", ("bike", "cup", "desk", "mug"), per_class=12, size=(80, 64))
    target = write_colour_folder(tmp_path / "webcam", ("bike", "cup", "desk"), per_class=10, size=(64, 64), seed=1)
    return source, target


def _config(source, target, **changes) -> TransferConfig:
    config = TransferConfig(
        source=str(source), target=str(target), k=2,
        classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=4, batch_size=8),
        source_training=ClassifierTraining(steps=4, batch_size=8),
        teacher=TeacherOptions(batch_size=8),
    )
    return replace(config, **changes)


@pytest.mark.parametrize("method, self_train", [("finetune", False), ("source-only", True)])
def test_transfer_on_colour_folders_at_64_px(office, tmp_path, capsys, method, self_train):
    source, target = office
    out = tmp_path / method
    config = _config(source, target, method=method, self_train=self_train)
    metrics = transfer(config, out, stages_dir=tmp_path / "stages", progress_bar=False)
    printed = capsys.readouterr().err
    assert "image format 3 x 64 x 64, fit crop: colour" in printed, "the run says which format and why"
    assert metrics["image_format"]["channels"] == 3 and metrics["image_format"]["size"] == 64
    assert "centre-cropped" in metrics["image_format"]["reason"]
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["image_format"] == metrics["image_format"]
    assert stored["config"]["image_size"] == 64 and stored["config"]["channels"] == 3
    assert stored["data"]["classes"]["source_classes_missing_in_target"] == ["mug"]
    assert set(metrics["per_class_accuracy"]) == {"bike", "cup", "desk", "mug"}
    assert metrics["per_class_accuracy"]["mug"] is None
    splits = json.loads((out / "splits.json").read_text())
    assert len(splits["target"]["test"]) == 6 and len(splits["source"]["test"]) == 8
    saved = load_classifier(out)
    assert saved.format == ImageFormat(64, 3) and saved.class_names == ("bike", "cup", "desk", "mug")
    # `gantransfer evaluate` reads the same drawn test split, its labels matched by name.
    test = evaluation_set(saved, str(target))
    assert evaluate_classifier(saved.model, test).accuracy == metrics["target_test_accuracy"]
    assert set(test.labels.tolist()) <= {0, 1, 2} and len(test) == 6
    # The same command again finds the finished run, though its config leaves the format to the data.
    assert transfer(config, out, stages_dir=tmp_path / "stages", progress_bar=False) == metrics
    # New photos of any size are read as the training images were.
    new = tmp_path / "new"
    new.mkdir()
    rng = np.random.default_rng(7)
    for i, size in enumerate(((120, 90), (50, 70))):
        Image.fromarray(colour_image(i, size, rng)).save(new / f"{i}.jpg")
    report = predict_files(saved, [new])
    assert not report.failures and len(report.predictions) == 2
    assert all(p.label in saved.class_names for p in report.predictions)


def test_a_changed_source_folder_retrains_its_stage(office, tmp_path):
    source, target = office
    stages = tmp_path / "stages"
    config = _config(source, target, method="source-only")
    transfer(config, tmp_path / "before", stages_dir=stages, progress_bar=False)
    assert len(list(stages.glob("source-classifier-*"))) == 1
    transfer(config, tmp_path / "again", stages_dir=stages, progress_bar=False)
    assert len(list(stages.glob("source-classifier-*"))) == 1, "unchanged data: the stage is reused"
    Image.fromarray(colour_image(0, (80, 64), np.random.default_rng(99))).save(source / "bike" / "000.png")
    transfer(config, tmp_path / "after", stages_dir=stages, progress_bar=False)
    assert len(list(stages.glob("source-classifier-*"))) == 2, "changed images: a new stage"


def test_grey_source_beside_colour_target_is_repeated_to_3_channels(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 3
    np.savez(tmp_path / "scans.npz", x=rng.integers(0, 255, (30, 28, 28), dtype=np.uint8), y=labels,
             classes=np.array(["bike", "cup", "desk"]))
    target = write_colour_folder(tmp_path / "webcam", ("bike", "cup", "desk"), per_class=10, size=(32, 32))
    data = TransferData.load(_config(tmp_path / "scans.npz", target), DataOptions())
    assert data.format == ImageFormat(32, 3)
    assert "grey" in data.choice.reason and "repeated to 3 channels" in data.choice.reason
    pixels = data.source.images
    assert pixels.shape[1:] == (3, 32, 32) and torch.equal(pixels[:, 0], pixels[:, 2])


def test_pretrain_takes_its_format_from_a_colour_folder(office, tmp_path, capsys):
    source, _ = office
    config = PretrainConfig(source=str(source), conditional=True, steps=2, batch_size=8, generator_width=8,
                            discriminator_width=8, feature_dim=16, latent_dim=8, quality_samples=0)
    pretrain(config, tmp_path / "gan", progress_bar=False)
    assert "image format 3 x 64 x 64" in capsys.readouterr().err
    stored = json.loads((tmp_path / "gan" / "config.json").read_text())
    assert (stored["image_size"], stored["channels"]) == (64, 3)
    assert (tmp_path / "gan" / "splits.json").is_file()
    gan = load_gan(tmp_path / "gan")
    assert gan.generator.generate(torch.tensor([0, 3]), seed=0).shape == (2, 3, 64, 64)
