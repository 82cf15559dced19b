"""Config diffs: a nested diff changes only the values it names."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from gantransfer.config import added_field, from_dict, merge, to_dict
from gantransfer.errors import ConfigError
from gantransfer.methods import ClassifierOptions, TransferConfig


def test_a_nested_diff_starts_from_the_fields_own_default():
    # TransferConfig's default GAN is conditional and its target training runs 1500 steps of 64
    # images; a diff of one value must keep the rest of those defaults, not PretrainConfig's or
    # ClassifierTraining's class defaults (an unconditional GAN, batches of 128).
    default = TransferConfig()
    config = from_dict(TransferConfig, {"gan": {"steps": 300}, "training": {"steps": 7}})
    assert config.gan.steps == 300 and config.gan.conditional == default.gan.conditional is True
    assert config.gan.quality_samples == default.gan.quality_samples == 0
    assert config.training.steps == 7 and config.training.batch_size == default.training.batch_size == 64
    assert config.source_training == default.source_training
    with pytest.raises(ConfigError, match=r"config\.gan: unknown key 'stepz'"):
        from_dict(TransferConfig, {"gan": {"stepz": 1}})


def test_merge_is_recursive_and_leaves_its_inputs_alone():
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    assert merge(base, {"a": {"b": 5}, "e": 6}) == {"a": {"b": 5, "c": 2}, "d": 3, "e": 6}
    assert base == {"a": {"b": 1, "c": 2}, "d": 3}


@dataclass(frozen=True)
class _Options:
    old: int = 1
    new: str = added_field("default")


def test_an_added_field_is_stored_only_when_it_differs_from_its_default():
    assert to_dict(_Options()) == {"old": 1}
    assert to_dict(_Options(new="other")) == {"old": 1, "new": "other"}
    assert from_dict(_Options, {"old": 1}) == _Options()


def test_added_backbone_options_are_stored_only_when_they_differ_from_their_default():
    # A config that does not use an option added later serialises exactly as before the
    # option existed (run configs, classifier metadata and stage names stay the same).
    assert to_dict(TransferConfig())["classifier"] == {"width": 32, "feature_dim": 256, "norm": "batch",
                                                       "dropout": 0.0}
    config = replace(TransferConfig(), classifier=ClassifierOptions(backbone="resnet18"))
    stored = to_dict(config)
    assert stored["classifier"]["backbone"] == "resnet18" and "backbone_weights" not in stored["classifier"]
    assert from_dict(TransferConfig, stored) == config
    assert from_dict(TransferConfig, to_dict(TransferConfig())) == TransferConfig()
