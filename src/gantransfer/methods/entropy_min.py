"""``entropy-min``: entropy minimisation on the unlabelled target (Grandvalet & Bengio 2004,
"Semi-supervised Learning by Entropy Minimization", NeurIPS), with the diversity term of
information maximisation (Krause et al. 2010; Liang et al. 2020, SHOT) against its collapse.

The source classifier keeps learning from the labelled source images while, on each batch of
unlabelled target images, it is pushed to predict each image confidently (low entropy of its
prediction) and the batch as a whole evenly (high entropy of the mean prediction), so that
confidence does not come from putting every image into one class. No discriminator, no extra
network; the method, its options and its stream are this one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ..engine.trainer import Progress
from ..errors import ConfigError
from ..training.supervised import ClassifierTask
from .context import TransferContext
from .registry import Method, MethodPlan, register_method, register_options


@dataclass(frozen=True)
class EntropyOptions:
    """Method ``entropy-min``: how strongly the unlabelled target predictions are shaped.

    Args:
        weight: weight of the mean entropy of each target image's prediction (minimised).
        diversity_weight: weight of the entropy of the batch's mean prediction (maximised), which
            keeps the predictions spread over the classes; 0: plain entropy minimisation.
    """

    weight: float = 0.1
    diversity_weight: float = 0.1

    def __post_init__(self) -> None:
        if self.weight < 0 or self.diversity_weight < 0:
            raise ConfigError(f"entropy_min.weight and diversity_weight must be >= 0, got {self.weight}, "
                              f"{self.diversity_weight}")


register_options("entropy_min", EntropyOptions, "entropy minimisation on the unlabelled target")


def prediction_entropy(logits: Tensor) -> Tensor:
    """Mean entropy of the softmax predictions: logits (N, K) -> a scalar in [0, log K] (nats);
    0 when every image is predicted with certainty, log K when every prediction is uniform."""
    log_probabilities = logits.log_softmax(dim=1)
    return -(log_probabilities.exp() * log_probabilities).sum(dim=1).mean()


def marginal_entropy(logits: Tensor) -> Tensor:
    """Entropy of the batch's mean softmax prediction: logits (N, K) -> a scalar in [0, log K];
    log K when the batch's predictions fall evenly on every class, 0 when all on one."""
    mean = logits.softmax(dim=1).mean(dim=0)
    return -(mean * mean.clamp_min(1e-12).log()).sum()


class EntropyTask(ClassifierTask):
    """:class:`ClassifierTask` plus, on one unlabelled target batch a step,
    ``weight * prediction_entropy - diversity_weight * marginal_entropy``.

    Args:
        target: unlabelled target batches ``(images,)``, (N, C, S, S) in [-1, 1].
        options: the weights.
        task_arguments, task_options: as for :class:`ClassifierTask`.
    """

    kind = "entropy-min"

    def __init__(self, *task_arguments: Any, target, options: EntropyOptions, **task_options: Any) -> None:
        super().__init__(*task_arguments, **task_options)
        self.target, self.options = target, options
        self.track(target=target)

    def objective(self, progress: Progress) -> tuple[Tensor, dict[str, float]]:
        total, losses = super().objective(progress)
        (images,) = next(self.target)[:1]
        logits = self.logits(self.training.augment_images(images.to(self.device))).float()
        confidence, diversity = prediction_entropy(logits), marginal_entropy(logits)
        losses["loss_target_entropy"], losses["target_marginal_entropy"] = confidence.item(), diversity.item()
        return total + self.options.weight * confidence - self.options.diversity_weight * diversity, losses


def build_entropy_min(context: TransferContext) -> MethodPlan:
    config = context.config
    classifier, groups = context.initial_classifier()
    target = context.images_only(context.unlabelled_target(), config.training.batch_size, "entropy-target")
    task = EntropyTask(classifier, context.labelled_sources(include_source=True), config.training, target=target,
                       options=config.options.entropy_min, parameter_groups=groups, **context.task_options())
    return MethodPlan(task=task)


register_method(
    Method(
        "entropy-min",
        build_entropy_min,
        "source",
        "source classifier trained on with confident, diverse predictions on the unlabelled target images",
        "Grandvalet & Bengio 2004 (NeurIPS), Semi-supervised Learning by Entropy Minimization",
        category="feature-level domain adaptation",
        uses_unlabelled=True,
        reads=("entropy_min",),
    )
)
