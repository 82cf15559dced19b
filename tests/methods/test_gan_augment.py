"""gan-augment's generated target images carry the labels they were generated for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.evaluation.classification import predict_logits
from gantransfer.evaluation.plots import save_image_grid
from gantransfer.methods import ClassifierOptions, GanAugmentOptions, TransferConfig, transfer
from gantransfer.training.generation import generate_pixels
from gantransfer.training.pretrain import PretrainConfig, load_gan
from gantransfer.training.reference import ReferenceRecipe, reference_classifier
from gantransfer.training.supervised import ClassifierTraining

PER_CLASS = 50


@pytest.mark.slow  # a conditional GAN that draws readable digits: 800 steps, about half a minute
def test_generated_images_are_read_as_their_labels_by_a_reference_classifier(digit_domain, tmp_path):
    source, target = digit_domain("source"), digit_domain("mild")
    config = TransferConfig(
        source=source,
        target=target,
        method="gan-augment",
        k=5,
        classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=10, batch_size=16),
        # lr 1e-3 (not DCGAN's 2e-4) and a generator of width 32: at 400 steps, or width 16,
        # the samples were still noise that a reference classifier read at chance.
        gan=PretrainConfig(conditional=True, steps=800, batch_size=32, generator_width=32, discriminator_width=8,
                           feature_dim=32, latent_dim=16, lr_generator=1e-3, lr_discriminator=1e-3,
                           quality_samples=0, eval_every=0),
    ).with_options(
        gan_augment=GanAugmentOptions(adapt_steps=100, adapt_batch_size=16, synthetic_per_class=PER_CLASS,
                                      synthetic_batch_size=16),
    )
    out = tmp_path / "run"
    transfer(config, out, stages_dir=tmp_path / "stages", progress_bar=False)

    # The images the classifier trained on, drawn again from the adapted GAN the run saved...
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    # (as uint8 pixels, the set it trained on: the float images quantised by the grid writer instead
    # differ from them in a pixel or three by one level, where the last float bits fall otherwise)
    images = generate_pixels(load_gan(out / "target_gan").generator, labels, seed=config.seed + 777)
    # ...are those the run wrote: its sample grid is the first ten of each class.
    first = torch.cat([images[c * PER_CLASS : c * PER_CLASS + 10] for c in range(10)])
    save_image_grid(tmp_path / "again.png", first, columns=10)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")),
                          np.asarray(Image.open(out / "generated_samples.png")))

    # A judge that never saw a generated image: a classifier trained on the real target train split.
    reference = reference_classifier(target, recipe=ReferenceRecipe(steps=300, batch_size=64, width=8, feature_dim=32),
                                     progress=False)
    assert reference.info["test_accuracy"] >= 0.95
    predicted = predict_logits(reference.model, images).argmax(1)
    agreement = float((predicted == labels).float().mean())
    # Chance is 0.1; seeds 0 / 1 / 2 measured 0.83 / 0.80 / 0.78 (see the issue-14 report).
    assert agreement >= 0.7, agreement
