"""A classifier trained in a few lines for tests that need one (no run folder, no checkpoints)."""

from __future__ import annotations

from torch import nn

from gantransfer.data import BatchStream, ImageSet
from gantransfer.engine.trainer import Progress
from gantransfer.training.supervised import ClassifierTask, ClassifierTraining, LabelledSource


def fit_classifier(classifier: nn.Module, train: ImageSet, training: ClassifierTraining, seed: int) -> nn.Module:
    """``classifier`` trained on ``train`` for ``training.steps`` steps, in eval mode."""
    stream = BatchStream((train.images, train.labels), training.batch_size, seed=seed)
    task = ClassifierTask(classifier, [LabelledSource("train", stream)], training)
    for step in range(training.steps):
        task.train_step(Progress(step, training.steps))
    return task.classifier.eval()
