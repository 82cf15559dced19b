"""The transfer methods that reuse a GAN work with SNGAN's networks: init=gan copies the
spectrally normalised critic trunk, FreezeD freezes its lowest stages, the classifier saves."""

from __future__ import annotations

import pytest
import torch
from synthetic import write_digits_npz

from gantransfer.export import export_classifier
from gantransfer.methods import (
    ClassifierOptions,
    GanAugmentOptions,
    TransferConfig,
    transfer,
)
from gantransfer.models.saving import load_classifier
from gantransfer.models.sngan import ResidualTrunk
from gantransfer.training.pretrain import PretrainConfig, load_gan
from gantransfer.training.supervised import ClassifierTraining


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")  # torch's, on loading what export wrote
def test_gan_augment_on_a_resnet_gan(tmp_path):
    config = TransferConfig(
        source=str(write_digits_npz(tmp_path / "s.npz", seed=0)), target=str(write_digits_npz(tmp_path / "t.npz", seed=1)),
        method="gan-augment", k=2, classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=3, batch_size=16),
        gan=PretrainConfig(architecture="sngan", objective="hinge", conditional=True, steps=3, batch_size=16,
                           generator_width=8, discriminator_width=8, feature_dim=32, latent_dim=8, quality_samples=0),
    ).with_options(
        gan_augment=GanAugmentOptions(adapt_steps=2, adapt_batch_size=8, freeze_discriminator_blocks=2,
                                     synthetic_per_class=4, synthetic_batch_size=8),
    )
    metrics = transfer(config, tmp_path / "run", stages_dir=tmp_path / "stages", progress_bar=False)
    assert metrics["init"] == "gan" and metrics["notes"]["gan_trunk"]["backbone"] == "sngan"
    source = load_gan(next((tmp_path / "stages").glob("source-gan-*")))
    adapted = load_gan(tmp_path / "run" / "target_gan")
    same = [all(torch.equal(a, b) for a, b in zip(x.parameters(), y.parameters()))
            for x, y in zip(source.discriminator.trunk.stages(), adapted.discriminator.trunk.stages())]
    assert same == [True, True, False, False]  # 28 px: 3 residual blocks and the projection; FreezeD keeps 2
    saved = load_classifier(tmp_path / "run" / "classifier.safetensors")
    assert isinstance(saved.model.trunk, ResidualTrunk)
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    traced = torch.jit.load(str(export_classifier(saved, tmp_path / "classifier.pt")))
    assert torch.allclose(traced(images), saved.model(images), atol=1e-5)
