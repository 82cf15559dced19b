"""Classes matched by name (not position) with an optional class map; domains named by their
content, so changed data gets new stages and reference classifiers."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from synthetic import write_colour_folder
from gantransfer.data import DataOptions, ImageFormat, describe_domain, match_classes
from gantransfer.errors import ConfigError, DataError
from gantransfer.training.reference import ReferenceRecipe, reference_path
from gantransfer.methods import TransferConfig
from gantransfer.methods.context import TransferData


def _load(tmp_path, source_classes, target_classes, class_map=None):
    source = write_colour_folder(tmp_path / "src", source_classes, per_class=5, size=(16, 16), seed=0)
    target = write_colour_folder(tmp_path / "tgt", target_classes, per_class=5, size=(16, 16), seed=1)
    config = TransferConfig(source=str(source), target=str(target), k=1, class_map=class_map)
    return TransferData.load(config, DataOptions())


def test_target_classes_are_matched_to_source_classes_by_name(tmp_path):
    # "dog" is the target's first folder but the source's second class.
    data = _load(tmp_path, ("cat", "dog", "emu"), ("dog", "emu"))
    assert data.target_train.class_names == ("cat", "dog", "emu")
    assert set(data.target_train.labels.tolist()) == {1, 2} and set(data.target_test.labels.tolist()) == {1, 2}
    assert data.classes.missing_in_target == ("cat",)
    assert torch.bincount(data.target_labelled.labels, minlength=3).tolist() == [0, 1, 1]
    record = data.record()
    assert record["classes"]["source_classes_missing_in_target"] == ["cat"]


def test_a_target_class_the_source_lacks_is_a_one_line_error(tmp_path):
    with pytest.raises(DataError) as error:
        _load(tmp_path, ("cat", "dog"), ("dog", "dgo"))
    message = str(error.value)
    assert "\n" not in message and "'dgo'" in message and "is not a class of the source" in message and "closest: dog" in message
    assert "--class-map" in message


def test_a_class_map_renames_target_classes(tmp_path):
    (tmp_path / "map.yaml").write_text("hound: dog\nkitty: cat\n")
    data = _load(tmp_path, ("cat", "dog"), ("hound", "kitty"), class_map=str(tmp_path / "map.yaml"))
    assert data.classes.renamed == {"hound": "dog", "kitty": "cat"}
    assert data.classes.source_of == (1, 0)
    (tmp_path / "typo.json").write_text('{"houndd": "dog"}')
    with pytest.raises(ConfigError, match="typo.json: renames 'houndd'"):
        _load(tmp_path / "b", ("cat", "dog"), ("hound",), class_map=str(tmp_path / "typo.json"))


def test_match_classes_by_name_not_position():
    match = match_classes(("0", "1", "2", "3"), ("3", "1"))
    assert match.source_of == (3, 1) and match.missing_in_target == ("0", "2")


def test_a_changed_folder_has_another_key_and_reference_path(tmp_path):
    root = write_colour_folder(tmp_path / "amazon", ("cat", "dog"), per_class=5, size=(16, 16))
    before = describe_domain(str(root)).key
    recipe, fmt = ReferenceRecipe(), ImageFormat(16, 3)
    reference_before = reference_path(str(root), fmt, recipe, DataOptions(cache_dir=str(tmp_path / "cache")))
    assert before.startswith(str(root.resolve()) + "@")
    assert describe_domain(str(root)).key == before, "the same files, the same key"
    picture = root / "cat" / "000.png"
    os.utime(picture, ns=(picture.stat().st_atime_ns, picture.stat().st_mtime_ns + 10**9))
    after = describe_domain(str(root)).key
    assert after != before
    assert reference_path(str(root), fmt, recipe, DataOptions(cache_dir=str(tmp_path / "cache"))) != reference_before
    (root / "dog" / "004.png").unlink()
    assert describe_domain(str(root)).key not in (before, after)


def test_another_projects_folder_of_the_same_name_is_another_domain(tmp_path):
    one = write_colour_folder(tmp_path / "a" / "data" / "amazon", ("cat",), per_class=3, size=(16, 16))
    two = write_colour_folder(tmp_path / "b" / "data" / "amazon", ("cat",), per_class=3, size=(16, 16))
    assert describe_domain(str(one)).key != describe_domain(str(two)).key


def test_npz_key_follows_its_bytes(tmp_path, digits_npz):
    before = describe_domain(str(digits_npz)).key
    data = dict(np.load(digits_npz))
    data["x"][0, 0, 0] ^= 1
    np.savez(digits_npz, **data)
    assert describe_domain(str(digits_npz)).key != before
