"""A stored config holds the image format its run resolved from the data: it compares equal to a
config that leaves the format to the data, and stage names carry the resolved format."""

from __future__ import annotations

from gantransfer.config import from_dict, to_dict
from gantransfer.data import ImageFormat
from gantransfer.engine.identity import comparable, config_changes
from gantransfer.engine.stage_cache import stage_key
from gantransfer.methods import TransferConfig
from gantransfer.training.pretrain import PretrainConfig


def test_a_stored_transfer_config_with_its_resolved_format_compares_equal_to_one_left_to_the_data():
    stored = to_dict(TransferConfig().with_format(ImageFormat(28, 1)))
    loaded = from_dict(TransferConfig, stored, where="metrics.json: config")
    assert loaded.format == ImageFormat(28, 1) and loaded.gan.image_size == 28
    assert config_changes(stored, to_dict(TransferConfig()), TransferConfig) == [], "format left to the data"
    colour = TransferConfig().with_format(ImageFormat(64, 3))
    assert config_changes(stored, to_dict(colour), TransferConfig) == [
        "channels", "gan.channels", "gan.image_size", "image_size"]


def test_a_stored_pretrain_config_with_its_resolved_format_compares_equal_to_one_left_to_the_data():
    stored = to_dict(PretrainConfig().with_format(ImageFormat(28, 1)))
    assert from_dict(PretrainConfig, stored).format == ImageFormat(28, 1)
    assert config_changes(stored, to_dict(PretrainConfig()), PretrainConfig) == []
    assert config_changes(stored, to_dict(PretrainConfig().with_format(ImageFormat(32, 1))), PretrainConfig) == [
        "image_size"]


def test_stage_names_carry_the_resolved_format():
    digits = TransferConfig().with_format(ImageFormat(28, 1)).gan_config()
    photos = TransferConfig().with_format(ImageFormat(64, 3)).gan_config()
    padded = TransferConfig().with_format(ImageFormat(28, 1, "pad")).gan_config()
    keys = {stage_key("source-gan", comparable(to_dict(config))) for config in (digits, photos, padded)}
    assert len(keys) == 3
    assert comparable(to_dict(digits))["image_size"] == 28 and comparable(to_dict(photos))["channels"] == 3
