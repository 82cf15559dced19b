"""The validation scores of one trained classifier (see :mod:`.validation_scores`), without target labels.

Every transfer run ends with :func:`validate_classifier` on

- the unlabelled target train images (never the target test set, which is
  read once, for the final accuracy, and picks nothing);
- held-out labelled source images: the source domain's *test* split. No
  method or shared stage trains on it or picks anything by it (the source
  classifier trains on the source train split, with no monitoring set), so
  it is honest labelled source data without carving a holdout out of the
  source train set, which would change every shared stage and committed
  number. A domain without its own test split (one ``.npz`` file or folder
  used for both splits) has no held-out source images: the source-based
  scores are then None;
- the k labelled target images, when k > 0 (training images of most methods:
  their accuracy is reported as a training accuracy).

The images of each side are a fixed seeded draw of at most
``ValidationSettings.images``, the same for every cell of a grid, so the
scores compare across cells (SND depends on the number of images).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.images import ImageSet
from ..data.storage import ImageFiles, model_batches
from . import validation_scores as scores


@dataclass(frozen=True)
class ValidationSettings:
    """How the scores are computed; fixed in code so that every run's scores compare.

    Args:
        images: at most this many target images, and as many source images, per score.
        seed: the draw of those images and DEV's cross-fitting.
        snd_temperature: SND's softmax temperature (0.05, as in Saito et al. 2021).
    """

    images: int = 2000
    seed: int = 17
    snd_temperature: float = 0.05


@torch.no_grad()
def features_and_logits(model: nn.Module, images: "Tensor | ImageFiles", batch_size: int | None = None
                        ) -> tuple[Tensor, Tensor]:
    """``(features (N, D), logits (N, K))`` of a classifier with ``features(x)`` and ``head`` on
    images (N, C, S, S: uint8 pixels, float in [-1, 1], or :class:`ImageFiles`), in eval mode,
    on CPU as float32; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    features, logits = [], []
    try:
        for pixels in model_batches(images, batch_size):
            batch = model.features(pixels.to(device))
            features.append(batch.float().cpu())
            logits.append(model.head(batch).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(features), torch.cat(logits)


def draw(count: int, most: int, seed: int) -> Tensor:
    """int64 indices of at most ``most`` of ``count`` items, a seeded draw (all of them, in order, if few)."""
    if count <= most:
        return torch.arange(count)
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:most]


@dataclass
class ValidationReport:
    """The scores of one classifier and what they were computed on.

    Attributes:
        scores: by :data:`~.validation_scores.SCORES` name; None where the data
            for a score is missing (no held-out source images, k = 0).
        largest_class, largest_class_fraction: the most predicted class on the
            target images and its share of the predictions.
        collapse: ``(class, fraction)`` when the predictions collapsed onto one class
            (:func:`~.validation_scores.prediction_collapse`), else None.
        sizes: images of each set the scores used.
    """

    scores: dict[str, float | None]
    largest_class: int
    largest_class_fraction: float
    collapse: tuple[int, float] | None
    num_classes: int
    sizes: dict[str, int] = field(default_factory=dict)

    def as_metrics(self, class_names: tuple[str, ...]) -> dict[str, Any]:
        """The keys a run's ``metrics.json`` gets: ``validation_scores``, ``validation`` and
        ``prediction_collapse`` (None, or ``{"class": name, "fraction": f, "threshold": t}``)."""
        threshold = scores.collapse_threshold(self.num_classes)
        collapse = None
        if self.collapse is not None:
            collapse = {"class": class_names[self.collapse[0]], "fraction": self.collapse[1], "threshold": threshold}
        return {
            "validation_scores": dict(self.scores),
            "validation": {"images": dict(self.sizes), "largest_class": class_names[self.largest_class],
                           "largest_class_fraction": self.largest_class_fraction, "collapse_threshold": threshold},
            "prediction_collapse": collapse,
        }

    def warning(self, class_names: tuple[str, ...]) -> str | None:
        """One line saying that the predictions collapsed, or None."""
        if self.collapse is None:
            return None
        name, fraction = class_names[self.collapse[0]], self.collapse[1]
        return (f"warning: the target predictions collapsed: class {name!r} takes {100 * fraction:.1f} % of them "
                f"(more than {100 * scores.collapse_threshold(self.num_classes):.1f} %)")


def validate_classifier(
    model: nn.Module,
    target_images: "Tensor | ImageFiles",
    source_validation: ImageSet | None = None,
    labelled_target: ImageSet | None = None,
    settings: ValidationSettings = ValidationSettings(),
) -> ValidationReport:
    """Every validation score of ``model`` (a :class:`~gantransfer.models.Classifier`).

    Args:
        target_images: unlabelled target images (N, C, S, S; uint8 pixels, float in [-1, 1],
            or :class:`ImageFiles`), N >= 2.
        source_validation: held-out labelled source images (None: no source-based scores).
        labelled_target: the k labelled target images (None or empty: none).
        settings: how many images and which draw.
    """
    picked = target_images[draw(len(target_images), settings.images, settings.seed)]
    target_features, target_logits = features_and_logits(model, picked)
    probabilities = target_logits.softmax(dim=1)
    num_classes = probabilities.shape[1]
    predictions = probabilities.argmax(dim=1)
    values: dict[str, float | None] = dict.fromkeys(scores.SCORES)
    values["target_entropy"] = scores.mean_entropy(probabilities)
    values["information_maximization"] = scores.information_maximization(probabilities)
    values["snd"] = scores.soft_neighbourhood_density(probabilities, settings.snd_temperature)
    sizes = {"target": len(picked)}
    if source_validation is not None and len(source_validation) >= 2:
        chosen = source_validation.subset(draw(len(source_validation), settings.images, settings.seed + 1))
        source_features, source_logits = features_and_logits(model, chosen.images)
        values["source_accuracy"] = scores.accuracy(source_logits.argmax(dim=1), chosen.labels)
        weights = scores.importance_weights(source_features.numpy(), target_features.numpy(), settings.seed)
        losses = F.cross_entropy(source_logits, chosen.labels, reduction="none")
        values["dev"] = scores.deep_embedded_validation(losses.numpy(), weights)
        sizes["source"] = len(chosen)
    if labelled_target is not None and len(labelled_target) > 0:
        _, logits = features_and_logits(model, labelled_target.images)
        values["labelled_target_train_accuracy"] = scores.accuracy(logits.argmax(dim=1), labelled_target.labels)
        sizes["labelled_target"] = len(labelled_target)
    top, fraction = scores.largest_class_share(predictions, num_classes)
    return ValidationReport(values, top, fraction, scores.prediction_collapse(predictions, num_classes),
                            num_classes, sizes)
