"""adabn: the source classifier with target BatchNorm statistics, alone and before self-training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from synthetic import write_digits_npz

from gantransfer.data import DataOptions, load_domain
from gantransfer.engine.run_folder import RunFolder
from gantransfer.methods import ClassifierOptions, TransferConfig, get_method, transfer
from gantransfer.methods.context import TransferContext, TransferData
from gantransfer.methods.stages import StageCache
from gantransfer.models.saving import load_classifier
from gantransfer.training.batchnorm import batchnorm_layers, image_batches, reestimate_batchnorm
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining


@pytest.fixture
def shifted(tmp_path):
    """Synthetic source and a target of the same digits in another appearance (dimmer, lower contrast)."""
    source = write_digits_npz(tmp_path / "source.npz", n=80, seed=0)
    with np.load(write_digits_npz(tmp_path / "raw_target.npz", n=60, seed=1)) as arrays:
        x, y = arrays["x"], arrays["y"]
    np.savez(tmp_path / "target.npz", x=(x.astype(np.float32) * 0.4 + 90).astype(np.uint8), y=y)
    config = TransferConfig(
        source=str(source), target=str(tmp_path / "target.npz"), method="adabn", k=0,
        classifier=ClassifierOptions(width=8, feature_dim=16),
        training=ClassifierTraining(steps=4, batch_size=16),
        source_training=ClassifierTraining(steps=6, batch_size=16),
        teacher=TeacherOptions(batch_size=16),
    )
    return config, tmp_path


def _split_state(model):
    state = model.state_dict()
    statistics = {k: v for k, v in state.items() if "running" in k or "num_batches" in k}
    weights = {k: v for k, v in state.items() if k not in statistics}
    return weights, statistics


def test_adabn_changes_the_batchnorm_statistics_and_nothing_else(shifted):
    config, tmp_path = shifted
    metrics = transfer(config, tmp_path / "run", stages_dir=tmp_path / "stages", progress_bar=False)
    assert metrics["method"] == "adabn" and metrics["uses_unlabelled_target"] is True
    assert 0 <= metrics["target_test_accuracy"] <= 1 and metrics["notes"]["adabn_batches"] == 1
    adapted = load_classifier(tmp_path / "run" / "classifier.safetensors").model
    (stage,) = (tmp_path / "stages").glob("source-classifier-*/classifier.safetensors")
    source = load_classifier(stage).model
    weights, statistics = _split_state(adapted)
    source_weights, source_statistics = _split_state(source)
    assert weights.keys() == source_weights.keys() and all(torch.equal(weights[k], source_weights[k]) for k in weights)
    means = [k for k in statistics if k.endswith("running_mean")]
    assert means and all(not torch.allclose(statistics[k], source_statistics[k]) for k in means)
    # ... and the new statistics are the target train images' own.
    target = load_domain(config.target, "train")
    reestimate_batchnorm(source, image_batches(target.images, 256))
    _, expected = _split_state(source)
    assert all(torch.allclose(statistics[k], expected[k], atol=1e-5) for k in means)


def test_self_training_starts_from_the_adabn_classifier(shifted):
    config, tmp_path = shifted
    config = replace(config, self_train=True)
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True)
    context = TransferContext(config, TransferData.load(config, DataOptions()), StageCache(tmp_path / "stages"),
                              run, DataOptions(), progress_bar=False)
    plan = get_method("adabn").build(context)
    assert plan.task is not None
    source = context.source_classifier()
    teacher_layers = batchnorm_layers(plan.task.mean_teacher.teacher)
    student_layers = batchnorm_layers(plan.task.classifier)
    for teacher, student, original in zip(teacher_layers, student_layers, batchnorm_layers(source)):
        assert torch.equal(teacher.running_mean, student.running_mean)
        assert not torch.allclose(teacher.running_mean, original.running_mean)
    metrics = transfer(config, tmp_path / "run", stages_dir=tmp_path / "stages", progress_bar=False)
    assert metrics["self_train"] is True and metrics["method"] == "adabn"
