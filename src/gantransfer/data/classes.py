"""The classes of an image set, checked against what a model or a GAN needs.

A class is a name; labels index into the set's ``class_names``. An ``.npz``
without a ``classes`` array has the classes ``0..max(y)``, so a stray label
of 57 among ten digits means 58 classes, 48 of them empty: an error where
every class must be learnt (a source domain), rather than a 58-class model.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from .images import ImageSet

_SHOWN = 8  # names listed in a message before "..."


def require_every_class(images: ImageSet) -> None:
    """Raise :class:`DataError` naming the classes of ``images`` that have no image."""
    counts = torch.bincount(images.labels, minlength=images.num_classes).tolist()
    empty = [name for name, count in zip(images.class_names, counts) if count == 0]
    if empty:
        raise DataError(
            f"{images.name}: {len(empty)} of its {images.num_classes} classes have no image ({_names(empty)}); "
            "a source needs images of every class (without a 'classes' array, an .npz's classes are 0..max(y))"
        )


def match_classes(images: ImageSet, class_names: tuple[str, ...], owner: str = "the classifier") -> ImageSet:
    """``images`` with labels indexing ``class_names`` instead of their own classes, matched by name.

    Raises :class:`DataError` naming the classes that occur in ``images`` but
    are not among ``class_names``; classes without images do not matter.
    """
    present = torch.unique(images.labels).tolist()
    unknown = [images.class_names[label] for label in present if images.class_names[label] not in class_names]
    if unknown:
        raise DataError(
            f"{images.name}: has images of class(es) {_names(unknown)}, which {owner} does not know "
            f"(its {len(class_names)} classes: {_names(list(class_names))})"
        )
    index = {name: position for position, name in enumerate(class_names)}
    mapping = torch.tensor([index.get(name, -1) for name in images.class_names], dtype=torch.int64)
    return ImageSet(images.images, mapping[images.labels], tuple(class_names), images.name, images.format)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN else "")
