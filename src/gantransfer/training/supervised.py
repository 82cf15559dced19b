"""Supervised classifier training on one or more weighted labelled sources.

Every baseline and every transfer method that ends in "train a classifier on
these labelled images" (real target images, generated images, source images)
is a :class:`ClassifierTask` with different sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import AffineAugment, BatchStream, ImageSet, NaturalAugment, PhotometricAugment, augment_batch
from ..data.augment import check_kind
from ..engine.acceleration import Acceleration, MixedPrecision, compiled, to_channels_last
from ..engine.distributed import DistributedContext
from ..engine.trainer import Callback, Progress, Trainer, TrainingTask
from ..errors import ConfigError
from ..evaluation.classification import evaluate_classifier
from ..models.classifier import FeaturesAndLogits
from ..objectives.optim import OptimizerConfig
from .self_training import MeanTeacher, TeacherOptions


@dataclass(frozen=True)
class ClassifierTraining:
    """How a classifier is trained.

    Args:
        steps: optimisation steps.
        batch_size: images per step from each source.
        optimizer: the optimiser (Adam, lr 1e-3 by default).
        augment: the ``digits`` augmentation: batched random affine transforms.
        augment_kind: ``auto`` (natural for images over 32 px, digits at 32 px
            and below, grey or colour), ``digits`` or ``natural``; applied to every source.
        natural_augment: the ``natural`` augmentation: random resized crop,
            horizontal flip and colour jitter.
        photometric: the ``digits`` kind's changes of appearance, after its affine transform
            (polarity inversion, random recolouring, channel permutation, grey conversion); by
            default on colour batches only (see :class:`~gantransfer.data.PhotometricAugment`).
        cosine_schedule: decay the learning rate to 0 along a cosine.
        label_smoothing: cross-entropy label smoothing in [0, 1).
        eval_every: steps between evaluations during training (0: at the end only): the
            accuracy on a labelled set that the run holds out (the target validation split;
            the source test split for the source classifier stage).
    """

    steps: int = 3000
    batch_size: int = 128
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig("adam", 1e-3, (0.9, 0.999)))
    augment: AffineAugment = field(default_factory=AffineAugment.digits)
    augment_kind: str = "auto"
    natural_augment: NaturalAugment = field(default_factory=NaturalAugment)
    photometric: PhotometricAugment = field(default_factory=PhotometricAugment.appearance)
    cosine_schedule: bool = True
    label_smoothing: float = 0.0
    eval_every: int = 500

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError("classifier training needs steps >= 1 and batch_size >= 1")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.eval_every < 0:
            raise ConfigError(f"eval_every must be >= 0, got {self.eval_every}")
        check_kind(self.augment_kind)

    def augment_images(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """This training's augmentation of float (N, C, S, S) in [-1, 1], of the kind ``augment_kind``
        picks for these images (``digits``: affine, then photometric)."""
        return augment_batch(images, self.augment_kind, self.augment, self.natural_augment, generator,
                             self.photometric)


@dataclass
class LabelledSource:
    """Labelled images to train on, weighted in the loss.

    ``stream`` is anything whose ``next()`` gives a batch ``(images, labels)``:
    a :class:`BatchStream` over a fixed set, or a generator of fresh samples.
    """

    name: str
    stream: BatchStream | Any
    weight: float = 1.0
    augment: bool = True


@dataclass(frozen=True)
class Phase:
    """One update of a step: a loss and the optimisers its gradient steps.

    Attributes:
        loss: ``loss(progress) -> (total with its graph, parts as floats)``.
        optimizers: the optimisers stepped from ``total``'s gradient.
        name: names the update's loss scaler (fp16) and, in the logged losses,
            its total (``loss`` for the main update, ``loss_<name>`` for others).
    """

    loss: Callable[[Progress], tuple[Tensor, dict[str, float]]]
    optimizers: tuple[torch.optim.Optimizer, ...]
    name: str = "classifier"


class ClassifierTask(TrainingTask):
    """Cross-entropy on a weighted sum of sources; one step draws one batch from each.

    A step runs the task's :meth:`phases` in order (one by default: the
    :meth:`objective`); tasks that add a loss term override :meth:`objective`,
    tasks that add an update (ADDA's discriminator) add a phase. The step then
    advances the learning-rate schedule and the mean teacher.

    ``classifier`` stays the plain network (what checkpoints and
    :attr:`final_model` hold); a step calls it through the wrappers that
    ``distributed`` (DistributedDataParallel; the streams must then be this
    rank's slices) and ``acceleration`` (mixed precision, channels-last,
    ``torch.compile``, on CUDA) ask for.
    """

    kind = "classifier"

    def __init__(
        self,
        classifier: nn.Module,
        sources: list[LabelledSource],
        training: ClassifierTraining,
        device="cpu",
        parameter_groups: list[dict] | None = None,
        unlabelled: BatchStream | None = None,
        teacher: TeacherOptions | None = None,
        distributed: DistributedContext | None = None,
        acceleration: Acceleration | None = None,
    ) -> None:
        acceleration = acceleration or Acceleration()
        self.classifier = to_channels_last(classifier.to(device), acceleration, device)
        self.sources = sources
        self.training = training
        self.device = device
        params = parameter_groups if parameter_groups is not None else [
            {"params": [p for p in classifier.parameters() if p.requires_grad]}
        ]
        self.optimizer = training.optimizer.build(params)
        self.scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=training.steps)
            if training.cosine_schedule
            else None
        )
        self.unlabelled = unlabelled
        self.mean_teacher = None
        if unlabelled is not None:
            self.mean_teacher = MeanTeacher(self.classifier, teacher or TeacherOptions()).to(device)
        self.distributed = distributed or DistributedContext(device=torch.device(device))
        self.acceleration = acceleration
        self.precision = MixedPrecision(acceleration.precision, device)
        self.track(streams=_SourceStreams(self.sources))
        self.track(**{name: value for name, value in (("unlabelled", unlabelled), ("scheduler", self.scheduler))
                      if value is not None})
        if self.precision.scaled:  # float16's loss scalers; nothing to keep otherwise
            self.track(loss_scalers=self.precision)
        # Every training forward goes through this wrapper: DDP only averages the gradients of
        # parameters used through its own forward (a call of self.classifier.features would bypass it).
        self.network = compiled(self.distributed.wrap(FeaturesAndLogits(self.classifier)), acceleration, device)

    def logits(self, images: Tensor) -> Tensor:
        """Training-mode logits (N, K) through :attr:`network`."""
        return self.network(images)[1]

    def modules(self) -> dict[str, nn.Module]:
        modules = {"classifier": self.classifier}
        if self.mean_teacher is not None:
            modules["teacher"] = self.mean_teacher.teacher
        return modules

    @property
    def final_model(self) -> nn.Module:
        """The model to evaluate and save: the teacher under self-training, else the classifier."""
        return self.mean_teacher.teacher if self.mean_teacher is not None else self.classifier

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"classifier": self.optimizer}

    def _batch(self, source: LabelledSource) -> tuple[Tensor, Tensor]:
        images, labels = next(source.stream)
        images = images.to(self.device)
        if source.augment:
            images = self.training.augment_images(images)
        return images, labels.to(self.device)

    def labelled_batches(self) -> list[tuple[Tensor, Tensor]]:
        """One batch ``(images, labels)`` from each source, augmented where the source asks, on the device."""
        return [self._batch(source) for source in self.sources]

    def labelled_loss(
        self, logits: Tensor, batches: list[tuple[Tensor, Tensor]], losses: dict[str, float]
    ) -> Tensor:
        """The sources' weighted cross-entropy; ``logits`` are those of the batches' images
        concatenated in order. Records each source's loss in ``losses``."""
        total: Tensor | float = 0.0
        start = 0
        for source, (images, labels) in zip(self.sources, batches):
            part = logits[start : start + len(images)]
            start += len(images)
            loss = F.cross_entropy(part, labels, label_smoothing=self.training.label_smoothing)
            losses[f"loss_{source.name}"] = loss.item()
            total = total + source.weight * loss
        return total

    def unlabelled_loss(self, losses: dict[str, float]) -> Tensor | float:
        """The self-training loss on one unlabelled batch (0 without self-training)."""
        if self.mean_teacher is None:
            return 0.0
        (images,) = next(self.unlabelled)[:1]
        loss, stats = self.mean_teacher.loss(self.logits, images.to(self.device))
        losses.update(stats)
        return loss

    def objective(self, progress: Progress) -> tuple[Tensor, dict[str, float]]:
        """The classifier's loss at ``progress``, with its graph, and its parts as floats."""
        if not self.sources:
            raise ConfigError("a classifier task needs at least one labelled source")
        losses: dict[str, float] = {}
        batches = self.labelled_batches()
        # One forward pass over all sources, so BatchNorm sees them together.
        logits = self.logits(torch.cat([images for images, _ in batches])).float()
        total = self.labelled_loss(logits, batches, losses)
        return total + self.unlabelled_loss(losses), losses

    def phases(self) -> list[Phase]:
        """The updates of one step, in order (default: the objective, stepping the classifier)."""
        return [Phase(self.objective, (self.optimizer,))]

    def train_step(self, progress: Progress) -> dict[str, float]:
        losses: dict[str, float] = {}
        for phase in self.phases():
            with self.precision.autocast():
                total, parts = phase.loss(progress)
            for optimizer in phase.optimizers:
                optimizer.zero_grad(set_to_none=True)
            self.precision.backward_step(total, phase.optimizers, phase.name)
            losses.update(parts)
            losses["loss" if phase.name == "classifier" else f"loss_{phase.name}"] = total.item()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.mean_teacher is not None:
            self.mean_teacher.update(self.classifier)
        return losses


class _SourceStreams:
    """The positions of the labelled sources' streams, as one resumable list (None for a stream
    without a position, such as a generator drawing fresh images)."""

    def __init__(self, sources: list[LabelledSource]) -> None:
        self.sources = sources

    def state_dict(self) -> list[dict | None]:
        return [s.stream.state_dict() if hasattr(s.stream, "state_dict") else None for s in self.sources]

    def load_state_dict(self, state: list[dict | None]) -> None:
        for source, stream_state in zip(self.sources, state):
            if stream_state is not None:
                source.stream.load_state_dict(stream_state)


class AccuracyMonitor(Callback):
    """At each evaluation, the accuracy of the task's :attr:`~ClassifierTask.final_model`
    on a labelled set (a validation split, a source test set), logged as ``<name>_accuracy``."""

    def __init__(self, images: ImageSet, name: str) -> None:
        self.images = images
        self.name = name

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, float]) -> dict[str, float]:
        return {f"{self.name}_accuracy": evaluate_classifier(trainer.task.final_model, self.images).accuracy}
