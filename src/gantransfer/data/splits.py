"""Seeded draws of a few labelled examples per class."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import DataError
from .images import ImageSet


def per_class_indices(labels: Tensor, k: int, seed: int, num_classes: int | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``k`` indices of each class; the rest are returned as unlabelled.

    Args:
        labels: int64 (N,), values in [0, num_classes).
        k: examples per class, >= 0. ``k = 0`` labels nothing.
        seed: the draw depends on nothing else, so the same seed always picks
            the same examples.
        num_classes: defaults to ``labels.max() + 1``.

    Returns:
        ``(labelled, unlabelled)``: int64 index tensors, disjoint, together a
        permutation of ``range(N)``; ``labelled`` is ordered by class.
    """
    if k < 0:
        raise DataError(f"k (labelled examples per class) must be >= 0, got {k}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        if len(members) < k:
            raise DataError(f"class {label} has only {len(members)} examples, fewer than k = {k}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    labelled = torch.cat(chosen) if chosen else torch.empty(0, dtype=torch.int64)
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[labelled] = False
    return labelled, torch.nonzero(mask).flatten()


def few_shot_split(images: ImageSet, k: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """``(labelled, unlabelled)`` subsets of ``images``: ``k`` per class and the rest."""
    labelled, unlabelled = per_class_indices(images.labels, k, seed, images.num_classes)
    return (
        images.subset(labelled, name=f"{images.name}[k={k},seed={seed}]"),
        images.subset(unlabelled, name=f"{images.name}[unlabelled]"),
    )
