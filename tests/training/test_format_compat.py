"""Configs stored by version 0.1 (image_size 28 and channels 1 written out) still load and
compare equal to a run that leaves the format to the data, and stage names carry the resolved format."""

from __future__ import annotations

import json
from pathlib import Path

from gantransfer.config import from_dict, to_dict
from gantransfer.data import ImageFormat
from gantransfer.engine.identity import comparable, config_changes
from gantransfer.engine.stage_cache import stage_key
from gantransfer.methods import TransferConfig
from gantransfer.training.pretrain import PretrainConfig
from gantransfer.training.self_training import TeacherOptions

STORED = json.loads((Path(__file__).parent / "stored_configs_0_1.json").read_text())


def test_a_transfer_config_of_0_1_loads_and_compares_equal():
    old = STORED["transfer"]
    loaded = from_dict(TransferConfig, old, where="metrics.json: config")
    assert loaded.format == ImageFormat(28, 1) and loaded.gan.image_size == 28
    assert config_changes(old, to_dict(TransferConfig()), TransferConfig) == [], "format left to the data"
    resolved = TransferConfig().with_format(ImageFormat(28, 1))
    assert config_changes(old, to_dict(resolved), TransferConfig) == []
    colour = TransferConfig().with_format(ImageFormat(64, 3))
    assert config_changes(old, to_dict(colour), TransferConfig) == [
        "channels", "gan.channels", "gan.image_size", "image_size"]


def test_a_pretrain_config_of_0_1_loads_and_compares_equal():
    old = dict(STORED["pretrain"])
    old.pop("class_names")
    loaded = from_dict(PretrainConfig, old)
    assert loaded.format == ImageFormat(28, 1)
    assert config_changes(old, to_dict(PretrainConfig()), PretrainConfig) == []
    assert config_changes(old, to_dict(PretrainConfig().with_format(ImageFormat(28, 1))), PretrainConfig) == []


def test_stage_names_carry_the_resolved_format():
    digits = TransferConfig().with_format(ImageFormat(28, 1)).gan_config()
    photos = TransferConfig().with_format(ImageFormat(64, 3)).gan_config()
    padded = TransferConfig().with_format(ImageFormat(28, 1, "pad")).gan_config()
    keys = {stage_key("source-gan", comparable(to_dict(config))) for config in (digits, photos, padded)}
    assert len(keys) == 3
    assert comparable(to_dict(digits))["image_size"] == 28 and comparable(to_dict(photos))["channels"] == 3


def test_the_self_training_group_of_0_1_is_read_as_teacher():
    old = json.loads(json.dumps(STORED["transfer"]))
    old["self_training"].update(teacher_decay=0.5, weight=7.0)
    loaded = from_dict(TransferConfig, old)
    assert (loaded.teacher.decay, loaded.teacher.weight) == (0.5, 7.0)
    changed = TransferConfig(teacher=TeacherOptions(decay=0.5, weight=7.0))
    assert config_changes(old, to_dict(changed), TransferConfig) == []
    assert config_changes(old, to_dict(TransferConfig()), TransferConfig) == ["teacher.decay", "teacher.weight"]
