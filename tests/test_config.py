"""Config diffs: a nested diff changes only the values it names."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest

from gantransfer.config import from_dict, later_option, merge, to_dict
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



@dataclasses.dataclass(frozen=True)
class _Inner:
    width: int = 4
    style: str = later_option("plain")


@dataclasses.dataclass(frozen=True)
class _Outer:
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    sizes: tuple[int, ...] = (1, 2)
    mode: str = later_option("a")


def test_a_later_option_is_stored_only_away_from_its_default():
    # At its default the option leaves no trace, so configs stored before it existed
    # (and stage names hashed from them) stay the same; away from it, it is stored.
    assert to_dict(_Outer()) == {"inner": {"width": 4}, "sizes": [1, 2]}
    changed = _Outer(_Inner(style="fancy"), mode="b")
    assert to_dict(changed) == {"inner": {"width": 4, "style": "fancy"}, "sizes": [1, 2], "mode": "b"}
    assert from_dict(_Outer, to_dict(changed)) == changed
    assert from_dict(_Outer, to_dict(_Outer())) == _Outer()


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
