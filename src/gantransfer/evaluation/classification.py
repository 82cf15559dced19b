"""Classification metrics on whole image sets."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..data.images import ImageSet
from ..data.storage import ImageFiles, model_batches


@torch.no_grad()
def predict_logits(model: nn.Module, images: "Tensor | ImageFiles", batch_size: int | None = None,
                   device=None) -> Tensor:
    """Logits (N, K) of ``model`` in eval mode on images (N, C, S, S): uint8 pixels, float
    in [-1, 1], or :class:`ImageFiles`, converted batch by batch (``batch_size`` None: 1,024 images
    of 28 x 28, proportionally fewer of larger ones); the model's mode is restored after."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    try:
        outputs = [model(batch.to(device)).float().cpu() for batch in model_batches(images, batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)


@dataclass
class ClassificationReport:
    """Accuracy of a classifier on a labelled set.

    Attributes:
        accuracy: top-1 accuracy in [0, 1].
        per_class: (K,) accuracy of each true class (NaN where a class has no images).
        confusion: (K, K) counts, rows true class, columns predicted class.
    """

    accuracy: float
    per_class: Tensor
    confusion: Tensor

    def as_dict(self, class_names: tuple[str, ...]) -> dict:
        return {
            "accuracy": self.accuracy,
            "per_class_accuracy": {name: _finite(float(v)) for name, v in zip(class_names, self.per_class)},
        }


def confusion_matrix(predictions: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """int64 (K, K): row ``i``, column ``j`` counts the images of class ``i`` predicted as ``j``.

    One ``bincount`` (not torchmetrics' version: importing torchmetrics loads scipy and matplotlib,
    about 100 MB, into every run)."""
    pairs = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(pairs, minlength=num_classes * num_classes).view(num_classes, num_classes)


def classification_report(predictions: Tensor, labels: Tensor, num_classes: int) -> ClassificationReport:
    """Accuracy, per-class accuracy and confusion matrix from predicted and true labels (int64 (N,))."""
    confusion = confusion_matrix(predictions, labels, num_classes)
    totals = confusion.sum(dim=1).double()
    per_class = confusion.diagonal().double() / totals
    accuracy = float(confusion.diagonal().sum()) / max(1, int(confusion.sum()))
    return ClassificationReport(accuracy, per_class, confusion)


def evaluate_classifier(model: nn.Module, data: ImageSet, batch_size: int | None = None) -> ClassificationReport:
    """:func:`classification_report` of ``model`` on every image of ``data``."""
    predictions = predict_logits(model, data.images, batch_size).argmax(dim=1)
    return classification_report(predictions, data.labels, data.num_classes)


def _finite(value: float) -> float | None:
    return None if value != value else value
