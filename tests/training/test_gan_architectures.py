"""GAN pretraining with either architecture at 64 x 64 colour: training steps, load_gan, FreezeD."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from gantransfer.cli.main import main
from gantransfer.data import BatchStream
from gantransfer.engine.checkpoint import load_checkpoint
from gantransfer.engine.trainer import Progress
from gantransfer.errors import ConfigError
from gantransfer.models.generator import DcganGenerator
from gantransfer.models.sngan import ResidualTrunk, ResNetGenerator
from gantransfer.training.pretrain import GanTask, PretrainConfig, load_gan, pretrain


def _colour_npz(path, n=12, size=64, classes=3):
    """Each class a coloured square at its own place on a noisy background, N x H x W x 3 uint8."""
    rng = np.random.default_rng(0)
    x = (rng.random((n, size, size, 3)) * 60).astype(np.uint8)
    y = np.arange(n) % classes
    for i, label in enumerate(y):
        x[i, 8 + 16 * label : 24 + 16 * label, 8:24, label] = 255
    np.savez(path, x=x, y=y)
    return path


def _config(source, architecture, **overrides):
    base = {"source": str(source), "architecture": architecture, "objective": "hinge", "conditional": True, "image_size": 64,
                "channels": 3, "latent_dim": 8, "generator_width": 4, "discriminator_width": 4, "feature_dim": 8, "batch_size": 4,
                "steps": 3, "eval_every": 3, "quality_samples": 0, "seed": 0}
    return PretrainConfig(**{**base, **overrides})


@pytest.mark.parametrize("architecture", ["dcgan", "sngan"])
def test_hinge_pretraining_at_64_px_and_load_gan_round_trip(tmp_path, architecture):
    out = tmp_path / "run"
    result = pretrain(_config(_colour_npz(tmp_path / "colour.npz"), architecture), out, progress_bar=False)
    assert result.step == 3 and not result.interrupted
    train = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r.get("phase") == "train"]
    assert train and all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in train)
    stored = json.loads((out / "config.json").read_text())
    assert stored["architecture"] == architecture

    gan = load_gan(out)  # rebuilt from the stored config alone
    assert gan.config.architecture == architecture
    expected_type = ResNetGenerator if architecture == "sngan" else DcganGenerator
    assert type(gan.generator) is expected_type
    assert isinstance(gan.discriminator.trunk, ResidualTrunk) == (architecture == "sngan")
    modules = load_checkpoint(out / "checkpoints" / "latest.pt")["modules"]
    for name, tensor in gan.discriminator.state_dict().items():
        assert torch.equal(tensor, modules["discriminator"][name]), name
    images = gan.generator.generate(torch.tensor([0, 1, 2, 2]), seed=5)
    assert images.shape == (4, 3, 64, 64) and float(images.abs().max()) <= 1.0
    assert torch.equal(images, load_gan(out).generator.generate(torch.tensor([0, 1, 2, 2]), seed=5))
    assert gan.discriminator.features(images).shape == (4, 8)
    logits = gan.discriminator(images, torch.tensor([0, 1, 2, 2]))
    assert logits.shape == (4,) and torch.isfinite(logits).all()


def test_freezed_with_the_resnet_critic_freezes_its_lowest_stages():
    torch.manual_seed(0)
    images, labels = torch.rand(8, 3, 64, 64) * 2 - 1, torch.arange(8) % 3
    config = _config("unused", "sngan", freeze_discriminator_blocks=2)
    task = GanTask(config, ("a", "b", "c"), BatchStream((images, labels), 4, seed=0), "cpu")
    critic = task.discriminator
    assert len(critic.trunk.stages()) == 5  # 64 px: 4 residual blocks and the projection
    frozen = {n for n, p in critic.named_parameters() if not p.requires_grad}
    lowest = {f"trunk.blocks.{i}.{n}" for i in (0, 1) for n, _ in critic.trunk.blocks[i].named_parameters()}
    assert frozen == lowest and frozen
    trained = {id(p) for group in task.d_optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in critic.parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in critic.named_parameters()}
    task.train_step(Progress(0, 1))
    changed = {n for n, p in critic.named_parameters() if not torch.equal(p, before[n])}
    assert not changed & frozen
    assert {n for n in changed if n.startswith(("trunk.blocks.2", "trunk.blocks.3", "trunk.project", "head"))}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"freeze_discriminator_blocks": 5, "image_size": 28}, r"freeze_discriminator_blocks must be in 0\.\.4 .*at 28 px has 4 stages"),
        ({"freeze_discriminator_blocks": 6, "image_size": 64}, r"0\.\.5 .*at 64 px has 5 stages"),
        ({"image_size": 36}, "generator image_size"),
        ({"architecture": "sngan", "critic_norm": "batch"}, "critic_norm must be none"),
    ],
)
def test_impossible_settings_are_one_line_config_errors(values, message):
    with pytest.raises(ConfigError, match=message):
        PretrainConfig(**values)
    # Left to the data, the size is unknown: the networks are checked once it is inferred.
    PretrainConfig(freeze_discriminator_blocks=5)
    assert PretrainConfig(image_size=64, freeze_discriminator_blocks=5).freeze_discriminator_blocks == 5


def test_architecture_is_a_pretrain_flag(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    assert "--architecture ARCHITECTURE" in capsys.readouterr().out
    assert PretrainConfig(architecture="sngan", image_size=28, channels=1).discriminator_config(10).trunk.norm == "none"


@pytest.mark.parametrize("architecture", ["dcgan", "sngan"])
def test_a_run_resumes_with_either_architecture(tmp_path, digits_npz, architecture):
    # Resuming compares the stored config.json with the same config now: no change.
    config = PretrainConfig(source=str(digits_npz), architecture=architecture,
                            steps=1, batch_size=4, quality_samples=0, eval_every=1, latent_dim=4,
                            generator_width=4, discriminator_width=4, feature_dim=8)
    pretrain(config, tmp_path / "run", progress_bar=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["architecture"] == architecture
    assert pretrain(replace(config, steps=2), tmp_path / "run", resume=True, progress_bar=False).step == 2
