"""Adaptation with scarce data: few-shot (no unlabelled target images) and source-free
(no source images at the target, only the source classifier and the source GAN)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gantransfer.data import DataOptions
from gantransfer.engine.run_folder import RunFolder
from gantransfer.errors import ConfigError
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.methods import ClassifierOptions, DomainAdaptationOptions, TransferConfig, transfer
from gantransfer.methods.context import TransferContext, TransferData
from gantransfer.methods.stages import StageCache
from gantransfer.training.generation import LOW_AGREEMENT
from gantransfer.training.pretrain import PretrainConfig
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining
from gantransfer.training.translation import TranslationTask, TranslationTraining

TINY_GAN = PretrainConfig(conditional=True, steps=6, batch_size=16, generator_width=8, discriminator_width=4,
                          feature_dim=16, latent_dim=8, quality_samples=0, eval_every=0)


@pytest.fixture
def tiny(source_digits_npz, target_digits_npz):
    return TransferConfig(
        source=str(source_digits_npz),
        target=str(target_digits_npz),
        method="pixel-da",
        k=2,
        classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=3, batch_size=16, eval_every=0),
        source_training=ClassifierTraining(steps=4, batch_size=16, eval_every=0),
        teacher=TeacherOptions(batch_size=8),
        gan=TINY_GAN,
        generated_source_per_class=7,
    ).with_options(
        feature_alignment=DomainAdaptationOptions(discriminator_hidden=16),
        translation=TranslationTraining(steps=3, batch_size=8, translator_width=4, residual_blocks=1,
                                        discriminator_width=4, eval_every=0),
    )


def _context(config, tmp_path) -> TransferContext:
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True, exist_ok=True)
    return TransferContext(config, TransferData.load(config, DataOptions()), StageCache(tmp_path / "stages"), run,
                           DataOptions(), progress_bar=False)


def _spy_translation_images(monkeypatch) -> list[tuple[int, int]]:
    """Record (source images, target images) of every translation stage trained."""
    seen = []
    original = TranslationTask.__init__

    def recording(self, options, source, target, *args, **kwargs):
        seen.append((len(source), len(target)))
        original(self, options, source, target, *args, **kwargs)

    monkeypatch.setattr(TranslationTask, "__init__", recording)
    return seen


def test_few_shot_translation_learns_from_the_k_labelled_images_alone(tiny, tmp_path, monkeypatch):
    seen = _spy_translation_images(monkeypatch)
    few_shot = replace(tiny, unlabelled_target=False).with_options(
        translation=replace(tiny.options.translation, diff_augment=True))
    metrics = transfer(few_shot, tmp_path / "run", stages_dir=tmp_path / "stages", progress_bar=False)
    assert seen == [(300 - 60, 2 * 10)], "the translators saw the source train split and the 2 x 10 labelled images"
    assert metrics["uses_unlabelled_target"] is False
    assert metrics["validation"]["images"]["target"] == 20  # the scores, too, see only those images
    # With the unlabelled images the same method reads the whole target train split.
    transfer(tiny, tmp_path / "full", stages_dir=tmp_path / "stages", progress_bar=False)
    assert seen[-1] == (240, 160)


def test_few_shot_needs_labelled_images():
    with pytest.raises(ConfigError, match="k must be >= 1"):
        TransferConfig(k=0, unlabelled_target=False)


def test_diff_augment_reaches_the_translation_discriminators(tiny, source_digits_npz):
    from gantransfer.data import ImageFormat, load_domain

    images = load_domain(str(source_digits_npz), "train", ImageFormat(28, 1))
    options = replace(tiny.options.translation, diff_augment=True, semantic_weight=0.0)
    task = TranslationTask(options, images, images, None, seed=0)
    batch = torch.rand(8, 1, 28, 28) * 2 - 1
    plain = task.target_discriminator(batch)
    torch.manual_seed(0)
    augmented = task._judge(task.target_discriminator, batch)
    assert not torch.allclose(plain, augmented), "the discriminator saw the images as they are"
    task_plain = TranslationTask(replace(options, diff_augment=False), images, images, None, seed=0)
    assert torch.equal(task_plain._judge(task_plain.target_discriminator, batch),
                       task_plain.target_discriminator(batch))
    losses = task.train_step(None)
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values())


def test_source_free_adaptation_reads_generated_images_only(tiny, tmp_path):
    config = replace(tiny, method="dann", k=0, source_free=True)
    context = _context(config, tmp_path)
    generated = context.adaptation_source()
    assert generated.images.shape == (70, 1, 28, 28) and generated.images.dtype == torch.uint8
    assert torch.bincount(generated.labels).tolist() == [7] * 10
    real = {image.numpy().tobytes() for image in context.data.source.images}
    assert not any(image.numpy().tobytes() in real for image in generated.images)
    (source_stream,) = [s.stream for s in context.labelled_sources(include_source=True) if s.name == "source"]
    images, labels = next(source_stream)
    generated_floats = {tuple(image.flatten()[:40].tolist()) for image in generated.images.float() / 255 * 2 - 1}
    assert all(tuple(image.flatten()[:40].tolist()) in generated_floats for image in images), \
        "DANN's labelled source batches are drawn from the generated set"
    # The real source still trains the source classifier (at the source site): the stage is the real one.
    assert context.adaptation_source_key() != context.source_key


def test_a_source_free_run_has_no_source_scores_and_says_so(tiny, tmp_path, capsys, monkeypatch):
    config = replace(tiny, method="dann", k=0, source_free=True)
    metrics = transfer(config, tmp_path / "run", stages_dir=tmp_path / "stages", progress_bar=False)
    warned = capsys.readouterr().err
    # The source classifier judges the generated images; a 4-step GAN's labels do not hold, and the user is told.
    context = _context(config, tmp_path)  # the run's stages, so the run's GAN and source classifier
    agreement = evaluate_classifier(context.source_classifier(), context.adaptation_source()).accuracy
    assert metrics["notes"]["source_free"] == {"generated_per_class": 7, "source_classifier_agreement": agreement}
    assert agreement < LOW_AGREEMENT
    assert f"reads only {100 * agreement:.1f}% of the source GAN's 70 generated images" in warned
    # benchmarks/generated_source_agreement.py finds the same pair of stages and the same share.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import generated_source_agreement

    (judge,) = (tmp_path / "stages").glob("source-classifier-*")
    other_format = tmp_path / "stages" / "source-classifier-other-format"  # the same source, in colour
    shutil.copytree(judge, other_format)
    identity = json.loads((other_format / "done.json").read_text())
    (other_format / "done.json").write_text(json.dumps({**identity, "format": {"size": 32, "channels": 3}}))
    (row,) = generated_source_agreement.agreements(tmp_path / "stages", per_class=7, seed=config.shared_seed)
    assert row["agreement"] == agreement and row["classifier"] == judge.name
    assert metrics["validation_scores"]["source_accuracy"] is None and metrics["validation_scores"]["dev"] is None
    real = transfer(replace(config, source_free=False), tmp_path / "real", stages_dir=tmp_path / "stages",
                    progress_bar=False)
    assert isinstance(real["validation_scores"]["source_accuracy"], float)


def test_source_free_needs_a_conditional_gan(tiny, tmp_path):
    config = replace(tiny, method="dann", k=0, source_free=True, gan=replace(TINY_GAN, conditional=False))
    with pytest.raises(ConfigError, match="must be conditional"):
        _context(config, tmp_path).adaptation_source()


def test_few_shot_self_training_adabn_and_dann_read_the_k_images(tiny, tmp_path, monkeypatch):
    config = replace(tiny, method="dann", unlabelled_target=False, self_train=True)
    context = _context(config, tmp_path)
    assert len(context.data.target_train) == 160 and len(context.data.target_labelled) == 20
    assert context.unlabelled_target() is context.data.target_labelled
    assert len(context.self_training_stream()) == 20
    assert context.unlabelled_target_key() != context.target_key, "a few-shot translation stage is another stage"
    import gantransfer.methods.adabn as adabn

    seen = []
    monkeypatch.setattr(adabn, "image_batches", lambda images, size: seen.append(len(images)) or iter([]))
    with pytest.raises(ValueError):  # no batches: the spy gave none
        adabn.build_adabn(_context(replace(config, method="adabn", self_train=False), tmp_path))
    assert seen == [20]
