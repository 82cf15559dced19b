"""Config diffs: a nested diff changes only the values it names."""

from __future__ import annotations

import dataclasses

import pytest

from gantransfer.config import from_dict, merge, to_dict, with_defaults
from gantransfer.engine.identity import config_changes
from gantransfer.errors import ConfigError
from gantransfer.methods import TransferConfig


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
    style: str = "plain"


@dataclasses.dataclass(frozen=True)
class _Outer:
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    sizes: tuple[int, ...] = (1, 2)
    mode: str = "a"


def test_every_option_is_written_out_and_reads_back_the_same():
    assert to_dict(_Outer()) == {"inner": {"width": 4, "style": "plain"}, "sizes": [1, 2], "mode": "a"}
    changed = _Outer(_Inner(style="fancy"), mode="b")
    assert from_dict(_Outer, to_dict(changed)) == changed
    stored = to_dict(TransferConfig())
    assert stored["classifier"]["backbone"] == "conv" and stored["classifier"]["backbone_weights"] is None
    assert from_dict(TransferConfig, stored) == TransferConfig()


def test_a_config_that_leaves_options_out_is_compared_at_their_defaults():
    assert with_defaults(_Outer, {"inner": {"style": "fancy"}, "extra": 1}) == {
        "inner": {"width": 4, "style": "fancy"}, "sizes": [1, 2], "mode": "a", "extra": 1}
    short = {"seed": 0, "classifier": {"norm": "batch"}}
    assert config_changes(short, to_dict(TransferConfig(seed=0)), TransferConfig) == []
    assert config_changes(short, to_dict(TransferConfig(seed=0, k=3)), TransferConfig) == ["k"]


def test_a_key_of_an_earlier_layout_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"config: unknown key 'self_training'"):
        from_dict(TransferConfig, {"self_training": {"weight": 1.0}})
    with pytest.raises(ConfigError, match=r"config: unknown key 'device'"):
        from_dict(TransferConfig, {"device": "cpu"})
