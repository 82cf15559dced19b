"""Seeded draws: the test split of a domain that has none, and a few labelled examples per class."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from .images import ImageSet


@dataclass(frozen=True)
class SplitOptions:
    """How a test split is drawn for a domain that has none (one folder of class
    sub-folders, or one ``.npz``).

    Args:
        test_fraction: share of each class held out as the test split, in (0, 1).
        seed: seeds the draw; the same options always hold out the same images.
    """

    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


def stratified_split(labels: Tensor, options: SplitOptions) -> tuple[Tensor, Tensor]:
    """``(train, test)`` indices: ``test_fraction`` of each class (rounded, at least
    one, never all) in ``test``; a class of one image stays in ``train``.

    Args:
        labels: int64 (N,).

    Returns:
        Two sorted, disjoint int64 index tensors that together cover ``range(N)``.
    """
    generator = torch.Generator().manual_seed(options.seed)
    test = []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        count = len(members)
        held = min(count - 1, max(1, round(options.test_fraction * count))) if count > 1 else 0
        test.append(members[torch.randperm(count, generator=generator)[:held]])
    test_indices = torch.sort(torch.cat(test)).values if test else torch.empty(0, dtype=torch.int64)
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[test_indices] = False
    return torch.nonzero(mask).flatten(), test_indices


def per_class_indices(labels: Tensor, k: int, seed: int, num_classes: int | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``k`` indices of each class; the rest are returned as unlabelled.

    Args:
        labels: int64 (N,), values in [0, num_classes).
        k: examples per class, >= 0. ``k = 0`` labels nothing. Classes without
            any example (source classes the target lacks) are skipped.
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
        if len(members) == 0:
            continue
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
    return _labelled_subset(images, labelled, k, seed), images.subset(unlabelled, name=f"{images.name}[unlabelled]")


def few_shot_labelled(images: ImageSet, k: int, seed: int) -> ImageSet:
    """The labelled part of :func:`few_shot_split` alone, without copying the rest."""
    labelled, _ = per_class_indices(images.labels, k, seed, images.num_classes)
    return _labelled_subset(images, labelled, k, seed)


def _labelled_subset(images: ImageSet, labelled: Tensor, k: int, seed: int) -> ImageSet:
    return images.subset(labelled, name=f"{images.name}[k={k},seed={seed}]")
