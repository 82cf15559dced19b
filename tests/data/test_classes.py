"""Every class of a source domain needs images (matching by name: test_classes_and_fingerprints.py)."""

from __future__ import annotations

import pytest
import torch

from gantransfer.data import ImageSet
from gantransfer.data.classes import require_every_class
from gantransfer.errors import DataError


def _images(labels, class_names, name="d.npz/train"):
    labels = torch.tensor(labels)
    return ImageSet(torch.zeros(len(labels), 1, 28, 28), labels, tuple(class_names), name)


def test_every_class_with_images_passes():
    require_every_class(_images([0, 1, 2, 2], "abc"))


def test_empty_classes_are_named():
    names = [str(i) for i in range(58)]
    with pytest.raises(DataError, match=r"d.npz/train: 47 of its 58 classes have no image "
                                        r"\(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, \.\.\. \(47 in all\)\)"):
        require_every_class(_images(list(range(10)) + [57], names))
