"""``mcc``: Minimum Class Confusion (Jin et al. 2020, "Minimum Class Confusion for Versatile
Domain Adaptation", ECCV).

The source classifier keeps learning from the labelled source images while a loss on the
unlabelled target images makes its predictions there confident and apart: in each target
batch, how often the classifier confuses class ``j`` with class ``j'`` (the probability mass
one image spreads over both) is summed over the batch, and the off-diagonal share of that
class-correlation matrix is minimised. Confident, certain images (low entropy) count more.
No discriminator, no extra network; the method is this one file.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..engine.trainer import Progress
from ..training.supervised import ClassifierTask
from .context import Stream, TransferContext
from .registry import Method, MethodPlan, register_method

#: the paper's probability temperature and loss weight (its digit and Office settings), fixed
TEMPERATURE = 2.5
WEIGHT = 1.0


def class_confusion(logits: Tensor, temperature: float = TEMPERATURE) -> Tensor:
    """The MCC loss of one unlabelled batch: logits (N, K) -> a scalar in [0, (K - 1) / K].

    ``p = softmax(logits / T)``; each image weighted by ``1 + exp(-H(p_i))`` (normalised to sum
    to N), so that certain images count more; the class correlation ``C = p^T diag(w) p`` (K, K)
    has its columns normalised to sum to 1; the loss is the mean over classes of the
    off-diagonal sum of a row. 0 when every image puts all its mass on one class and no two
    classes share an image; it grows as classes are confused with one another.
    """
    probabilities = (logits / temperature).softmax(dim=1)
    entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(dim=1)
    weights = 1 + torch.exp(-entropy)
    weights = len(logits) * weights / weights.sum()
    correlation = probabilities.T @ (weights[:, None] * probabilities)
    correlation = correlation / correlation.sum(dim=0, keepdim=True)
    classes = logits.shape[1]
    return (correlation.sum() - correlation.trace()) / classes


class ClassConfusionTask(ClassifierTask):
    """:class:`ClassifierTask` plus ``WEIGHT * class_confusion`` on one unlabelled target batch a step.

    Args:
        target: unlabelled target batches ``(images,)``, (N, C, S, S) in [-1, 1].
        task_arguments, task_options: as for :class:`ClassifierTask`.
    """

    kind = "mcc"

    def __init__(self, *task_arguments: Any, target, **task_options: Any) -> None:
        super().__init__(*task_arguments, **task_options)
        self.target = target
        self.track(target=target)

    def objective(self, progress: Progress) -> tuple[Tensor, dict[str, float]]:
        total, losses = super().objective(progress)
        (images,) = next(self.target)[:1]
        confusion = class_confusion(self.logits(self.training.augment_images(images.to(self.device))).float())
        losses["loss_class_confusion"] = confusion.item()
        return total + WEIGHT * confusion, losses


def build_mcc(context: TransferContext) -> MethodPlan:
    config = context.config
    classifier, groups = context.initial_classifier()
    target = context.images_only(context.unlabelled_target(), config.training.batch_size, Stream.UNLABELLED_TARGET)
    task = ClassConfusionTask(classifier, context.labelled_sources(include_source=True), config.training,
                              target=target, parameter_groups=groups, **context.task_options())
    return MethodPlan(task=task)


register_method(
    Method(
        "mcc",
        build_mcc,
        "source",
        "source classifier trained on with the minimum class confusion loss on the unlabelled target images",
        "Jin et al. 2020 (ECCV), Minimum Class Confusion for Versatile Domain Adaptation",
        category="feature-level domain adaptation",
        uses_unlabelled=True,
    )
)
