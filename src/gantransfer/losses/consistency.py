"""Losses on unlabelled images: agreement between a student and a teacher network.

Pure functions of logits (N, K); teacher logits are treated as constants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def confidence_mask(teacher_logits: Tensor, threshold: float) -> Tensor:
    """float (N,): 1 where the teacher's top probability is >= ``threshold``, else 0."""
    return (teacher_logits.detach().softmax(dim=1).max(dim=1).values >= threshold).float()


def mean_teacher_consistency(student_logits: Tensor, teacher_logits: Tensor, threshold: float = 0.0) -> Tensor:
    """Squared distance between class probabilities (Tarvainen & Valpola 2017;
    French et al. 2018 for domain adaptation), averaged over the images whose
    teacher confidence reaches ``threshold``, summed over classes.

    Masked-out images count as zero, so the loss fades in as the teacher
    becomes confident rather than jumping.
    """
    mask = confidence_mask(teacher_logits, threshold)
    difference = (student_logits.softmax(dim=1) - teacher_logits.detach().softmax(dim=1)).square().sum(dim=1)
    return (difference * mask).mean()


def pseudo_label_loss(student_logits: Tensor, teacher_logits: Tensor, threshold: float = 0.95) -> Tensor:
    """Cross-entropy towards the teacher's arg-max label where the teacher is
    confident (Lee 2013; FixMatch, Sohn et al. 2020), zero elsewhere."""
    mask = confidence_mask(teacher_logits, threshold)
    targets = teacher_logits.detach().argmax(dim=1)
    return (F.cross_entropy(student_logits, targets, reduction="none") * mask).mean()


def class_balance_loss(student_logits: Tensor) -> Tensor:
    """Binary cross-entropy between the batch's mean class probability and the
    uniform distribution (French et al. 2018): keeps self-training from
    collapsing onto a few classes."""
    mean = student_logits.softmax(dim=1).mean(dim=0)
    uniform = torch.full_like(mean, 1.0 / mean.numel())
    return F.binary_cross_entropy(mean.clamp(1e-7, 1 - 1e-7), uniform)
