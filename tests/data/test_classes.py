"""The classes of an image set: every source class needs images; targets are matched to a model's classes by name."""

from __future__ import annotations

import pytest
import torch

from gantransfer.data import ImageSet
from gantransfer.data.classes import match_classes, require_every_class
from gantransfer.errors import DataError


def _images(labels, class_names, name="d.npz/train"):
    labels = torch.tensor(labels)
    return ImageSet(torch.zeros(len(labels), 1, 28, 28), labels, tuple(class_names), name)


def test_every_class_with_images_passes():
    require_every_class(_images([0, 1, 2, 2], "abc"))


def test_empty_classes_are_named():
    names = [str(i) for i in range(58)]
    with pytest.raises(DataError, match=r"d.npz/train: 47 of its 58 classes have no image "
                                        r"\(10, 11, 12, 13, 14, 15, 16, 17, \.\.\. \(47 in all\)\)"):
        require_every_class(_images(list(range(10)) + [57], names))


def test_classes_are_matched_by_name():
    matched = match_classes(_images([0, 1, 1, 2], ["c", "a", "b"]), ("a", "b", "c"))
    assert matched.labels.tolist() == [2, 0, 0, 1] and matched.class_names == ("a", "b", "c")


def test_a_class_without_images_need_not_be_known():
    matched = match_classes(_images([0, 0], ["a", "unused"]), ("a", "b"))
    assert matched.labels.tolist() == [0, 0]


def test_classes_the_model_lacks_are_named():
    with pytest.raises(DataError, match=r"d.npz/train: has images of class\(es\) 57, which the classifier does not "
                                        r"know \(its 2 classes: 0, 1\)"):
        match_classes(_images([0, 1, 57], [str(i) for i in range(58)]), ("0", "1"))
