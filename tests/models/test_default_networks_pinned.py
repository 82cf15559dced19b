"""The default 28 x 28 grey networks are pinned: committed benchmark numbers and cached
checkpoints depend on their layers, parameter names and shapes and seeded outputs.

``reference_networks.json`` was captured from the code before depth followed the
resolution (commit 2f3eba5), by running this module's ``capture()`` against it:
``PYTHONPATH=<old checkout>/src python tests/models/test_default_networks_pinned.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gantransfer.config import to_dict
from gantransfer.data import ImageFormat
from gantransfer.models import (
    Classifier,
    ClassifierConfig,
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    TrunkConfig,
)
from gantransfer.models.translator import Translator, TranslatorConfig
from gantransfer.training.pretrain import PretrainConfig
from gantransfer.training.translation import TranslationTraining

REFERENCE = Path(__file__).with_name("reference_networks.json")
GAN = PretrainConfig(conditional=True, image_size=28, channels=1)  # the benchmark's source GAN (minimax)


def _networks():
    """name -> (builder, seeded input maker, call) for every network that is pinned."""
    image = lambda size=28, channels=1: torch.rand(4, channels, size, size) * 2 - 1
    labels = torch.arange(4)
    return {
        "generator": (lambda: Generator(GeneratorConfig()), lambda: (torch.randn(4, 64),)),
        "generator_conditional": (lambda: Generator(GAN.generator_config(10)), lambda: (torch.randn(4, 64), labels)),
        "discriminator": (lambda: Discriminator(DiscriminatorConfig()), lambda: (image(),)),
        "discriminator_conditional": (lambda: Discriminator(GAN.discriminator_config(10)),
                                      lambda: (image(), labels)),
        "critic_wgan_gp": (lambda: Discriminator(PretrainConfig(objective="wgan-gp", conditional=True, image_size=28, channels=1)
                                                 .discriminator_config(10)), lambda: (image(), labels)),
        "classifier": (lambda: Classifier(ClassifierConfig()), lambda: (image(),)),
        "translator": (lambda: Translator(TranslatorConfig()), lambda: (image(),)),
        "translation_discriminator": (lambda: Discriminator(TranslationTraining().discriminator_config(
            ImageFormat(28, 1))), lambda: (image(),)),
        # 32 px colour trunks and translators keep today's layout too (the 32 px generator does not).
        "classifier_32_rgb": (lambda: Classifier(ClassifierConfig(TrunkConfig(3, 32))), lambda: (image(32, 3),)),
        "translator_32_rgb": (lambda: Translator(TranslatorConfig(3, 32)), lambda: (image(32, 3),)),
    }


def _describe(build, inputs) -> dict:
    torch.manual_seed(0)
    network = build()
    torch.manual_seed(1)
    args = inputs()
    train_out = network(*args).detach()
    eval_out = network.eval()(*args).detach()
    return {
        "state": {key: list(value.shape) for key, value in network.state_dict().items()},
        "parameter_sum": float(sum(p.detach().double().sum() for p in network.parameters())),
        "train_output": [float(v) for v in train_out.flatten()[:16]],
        "train_output_sum": float(train_out.double().sum()),
        "eval_output": [float(v) for v in eval_out.flatten()[:16]],
        "eval_output_sum": float(eval_out.double().sum()),
    }


def _configs() -> dict:
    """The stored forms of the default configs: stage names, stored runs and benchmark
    cells are keyed by them, so a new option must not change them at its default."""
    return {"pretrain": to_dict(PretrainConfig(image_size=28, channels=1)), "trunk": to_dict(TrunkConfig()),
            "generator": to_dict(GeneratorConfig()), "translator": to_dict(TranslatorConfig()),
            "translation": to_dict(TranslationTraining()), "classifier": to_dict(ClassifierConfig())}


def capture() -> dict:
    return {"networks": {name: _describe(*spec) for name, spec in _networks().items()}, "configs": _configs()}


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize("name", sorted(_networks()))
def test_default_network_is_unchanged(reference, name):
    expected = reference["networks"][name]
    actual = _describe(*_networks()[name])
    assert actual["state"] == expected["state"], "parameter names or shapes changed"
    assert actual["parameter_sum"] == pytest.approx(expected["parameter_sum"], rel=1e-9, abs=1e-9), \
        "seeded initialisation changed (layers built in another order?)"
    for key in ("train_output", "eval_output"):
        assert actual[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key
        assert actual[key + "_sum"] == pytest.approx(expected[key + "_sum"], rel=1e-5, abs=1e-5), key


# Moved into a nested ``acceleration`` config by another change, outside what this test pins.
_ACCELERATION = ("device", "precision", "channels_last", "compile", "acceleration")


def _pinned_part(stored: dict, expected: dict) -> dict:
    """``stored`` restricted to the keys ``expected`` has (at any depth): options added since are
    written out too, at their defaults, and are not what this test pins."""
    return {key: _pinned_part(stored[key], value) if isinstance(value, dict) and isinstance(stored.get(key), dict)
            else stored.get(key) for key, value in expected.items()}


def test_default_configs_store_as_before(reference):
    """The default settings of the networks, as stored, are what they were."""
    stored, expected = _configs(), reference["configs"]
    for name in ("trunk", "generator", "translator", "translation", "classifier"):
        assert _pinned_part(stored[name], expected[name]) == expected[name], name
    keep = lambda config: {k: v for k, v in config.items() if k not in _ACCELERATION}
    assert _pinned_part(keep(stored["pretrain"]), keep(expected["pretrain"])) == keep(expected["pretrain"])


if __name__ == "__main__":
    REFERENCE.write_text(json.dumps(capture(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE}")
