"""Self-training on unlabelled target images with an exponential-moving-average teacher.

Used on top of any method: the student learns from its labelled sources as
usual and, on unlabelled target batches, to agree with a teacher whose
weights are the EMA of its own (mean teacher; French et al. 2018,
"Self-ensembling for visual domain adaptation"). The teacher is the model
evaluated and saved.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..data import AffineAugment, NaturalAugment, PhotometricAugment, augment_batch
from ..data.augment import check_kind
from ..errors import ConfigError
from ..losses.consistency import class_balance_loss, mean_teacher_consistency, pseudo_label_loss

#: the unlabelled losses (:attr:`TeacherOptions.loss`)
LOSSES = ("mean-teacher", "pseudo-label")


@dataclass(frozen=True)
class TeacherOptions:
    """The teacher of self-training and the loss that ties the classifier (its student) to it.

    Args:
        loss: ``mean-teacher`` (squared difference of probabilities) or
            ``pseudo-label`` (cross-entropy towards confident teacher labels).
        weight: weight of the unlabelled loss against the labelled one.
        threshold: teacher confidence below which an image is ignored.
        decay: EMA decay of the teacher weights, in [0, 1).
        class_balance: weight of the class-balance loss (0 disables it).
        batch_size: unlabelled images per step.
        augment: the ``digits`` augmentation of the unlabelled images (student
            and teacher each see their own random draw).
        augment_kind: ``auto`` (natural for images over 32 px, digits at 32 px
            and below, grey or colour), ``digits`` or ``natural``.
        natural_augment: the ``natural`` augmentation (crop, flip, colour jitter).
        student_photometric: changes of appearance the student's view gets on top, with the
            ``digits`` kind (FixMatch's weak teacher view, strong student view; Sohn et al. 2020):
            the student learns to give a recoloured image the label the teacher gives the plain one.
    """

    loss: str = "mean-teacher"
    weight: float = 3.0
    threshold: float = 0.9
    decay: float = 0.99
    class_balance: float = 0.1
    batch_size: int = 128
    augment: AffineAugment = field(default_factory=AffineAugment.digits)
    augment_kind: str = "auto"
    natural_augment: NaturalAugment = field(default_factory=NaturalAugment)
    student_photometric: PhotometricAugment = field(default_factory=PhotometricAugment.appearance)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"self-training loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not 0 <= self.decay < 1 or not 0 <= self.threshold < 1:
            raise ConfigError("teacher decay and threshold must be in [0, 1)")
        if self.weight < 0 or self.class_balance < 0 or self.batch_size < 1:
            raise ConfigError("self-training weight and class_balance must be >= 0, batch_size >= 1")
        check_kind(self.augment_kind)

    def augment_images(self, images: Tensor, photometric: PhotometricAugment = PhotometricAugment()) -> Tensor:
        """One random draw of the augmentation of ``augment_kind`` on (N, C, S, S) in [-1, 1]
        (with ``photometric`` after the affine transform of the ``digits`` kind)."""
        return augment_batch(images, self.augment_kind, self.augment, self.natural_augment, photometric=photometric)


class MeanTeacher(nn.Module):
    """A teacher copy of a student network and the loss that ties them together."""

    def __init__(self, student: nn.Module, options: TeacherOptions) -> None:
        super().__init__()
        self.options = options
        self.teacher = copy.deepcopy(student)
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """teacher <- decay * teacher + (1 - decay) * student, for the student's trained parameters only
        (multi-tensor operations: one kernel per list on a GPU).

        BatchNorm statistics are not copied: the teacher collects its own
        from the target batches it sees in :meth:`loss`, so at test time it
        normalises target images with target statistics (as AdaBN does).
        """
        decay = self.options.decay
        # A frozen weight stays bit-exact (the average would drift by rounding).
        pairs = [(t, s.detach()) for t, s in zip(self.teacher.parameters(), student.parameters()) if s.requires_grad]
        if pairs:
            teacher, current = (list(side) for side in zip(*pairs))
            torch._foreach_mul_(teacher, decay)
            torch._foreach_add_(teacher, current, alpha=1 - decay)

    def loss(self, student: nn.Module, images: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Unlabelled loss on target images (N, C, S, S) in [-1, 1] and its parts."""
        options = self.options
        student_logits = student(options.augment_images(images, options.student_photometric))
        with torch.no_grad():
            self.teacher.train()  # batch statistics of the target batch, as the student uses
            teacher_logits = self.teacher(options.augment_images(images))
        if options.loss == "mean-teacher":
            agreement = mean_teacher_consistency(student_logits, teacher_logits, options.threshold)
        else:
            agreement = pseudo_label_loss(student_logits, teacher_logits, options.threshold)
        total = options.weight * agreement
        stats = {"unlabelled_agreement": agreement.item()}
        if options.class_balance:
            balance = class_balance_loss(student_logits)
            total = total + options.class_balance * balance
            stats["class_balance"] = balance.item()
        stats["teacher_confident"] = float(
            (teacher_logits.softmax(1).max(1).values >= options.threshold).float().mean()
        )
        return total, stats
