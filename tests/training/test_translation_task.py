"""The translation task on a few hundred synthetic digits: gradients, frozen classifier, learning, resume."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from fitting import fit_classifier
from PIL import Image

from gantransfer.data import load_domain, to_model_range
from gantransfer.engine.checkpoint import load_checkpoint
from gantransfer.engine.logger import RunLogger
from gantransfer.engine.run_folder import RunFolder
from gantransfer.engine.seeding import seed_everything
from gantransfer.engine.trainer import LoopConfig, Progress, Trainer
from gantransfer.errors import ConfigError
from gantransfer.losses.translation import foreground_mask, masked_pairwise_mse
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig
from gantransfer.training.supervised import ClassifierTraining
from gantransfer.training.translation import (TranslationTask, TranslationTraining, load_translation, preview_indices,
                                              save_translation_grid, stored_config, translate)

TINY = TranslationTraining(steps=4, batch_size=16, translator_width=4, residual_blocks=1, discriminator_width=4,
                           eval_every=2)


@pytest.fixture(scope="module")
def domains(source_digits_npz, target_digits_npz):
    return load_domain(str(source_digits_npz), "train"), load_domain(str(target_digits_npz), "train")


@pytest.fixture(scope="module")
def classifier(domains):
    """A small source classifier, trained well enough to be confident on the source images."""
    seed_everything(0)
    model = Classifier(ClassifierConfig(TrunkConfig(width=8, feature_dim=32), 10))
    return fit_classifier(model, domains[0], ClassifierTraining(steps=150, batch_size=32), seed=0)


def _task(domains, classifier, options=TINY, seed=0):
    seed_everything(seed)
    return TranslationTask(options, domains[0], domains[1], classifier, seed)


def _quiet_logger(tmp_path):
    return RunFolder(tmp_path), RunLogger(RunFolder(tmp_path), tensorboard=False, enabled=False)


def test_adversarial_gradients_reach_discriminators_and_translators(domains, classifier):
    task = _task(domains, classifier)
    source, target = to_model_range(domains[0].images[:8]), to_model_range(domains[1].images[:8])
    g = task.generator_losses(source, target)
    d = task.discriminator_losses(source, target, g["fake_source"], g["fake_target"])
    d["d_loss"].backward()
    for name in ("target_discriminator", "source_discriminator"):
        for pname, p in task.modules()[name].named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{pname} got no gradient"
    translators = [*task.source_to_target.parameters(), *task.target_to_source.parameters()]
    assert all(p.grad is None for p in translators), "the discriminators' loss must not train the translators"
    g["g_adversarial"].backward()
    for pname, p in task.source_to_target.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"source_to_target.{pname} got no gradient"


def test_a_step_trains_all_four_networks_and_leaves_the_classifier_alone(domains, classifier):
    task = _task(domains, classifier)
    frozen = {k: v.clone() for k, v in classifier.state_dict().items()}
    before = {name: [p.detach().clone() for p in m.parameters()] for name, m in task.modules().items()}
    losses = task.train_step(Progress(0, 1))
    for key in ("g_loss", "g_adversarial", "cycle", "semantic", "d_loss"):
        assert torch.isfinite(torch.tensor(losses[key])), key
    for name, module in task.modules().items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[name], module.parameters()))
        assert changed, f"{name} did not change"
    for key, value in classifier.state_dict().items():
        assert torch.equal(value, frozen[key]), f"classifier {key} changed (BatchNorm statistics included)"
    assert not classifier.training and not any(p.requires_grad for p in classifier.parameters())


def test_the_task_classifier_starts_as_the_source_classifier_and_trains_with_the_translators(domains, classifier):
    options = replace(TINY, task_weight=1.0)
    task = _task(domains, classifier, options)
    frozen = {k: v.clone() for k, v in classifier.state_dict().items()}
    start = {k: v.clone() for k, v in task.task_classifier.state_dict().items()}
    assert all(torch.equal(start[k], frozen[k]) for k in frozen) and task.task_classifier is not task.classifier
    source, labels = to_model_range(domains[0].images[:8]), domains[0].labels[:8]
    g = task.generator_losses(source, to_model_range(domains[1].images[:8]), labels)
    assert float(g["task"].detach()) > 0
    parts = g["g_adversarial"] + options.cycle_weight * g["cycle"] + g["semantic"] + g["task"]
    assert torch.allclose(g["g_loss"], parts)  # the task loss is in the translators' total
    g["task"].backward()  # the translations' cross-entropy under the task classifier trains the translator
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in task.source_to_target.parameters())
    task.source_to_target.zero_grad()
    losses = task.train_step(Progress(0, 1))
    assert losses["task"] > 0 and losses["task_classifier"] > 0
    assert set(task.optimizers()) == {"translators", "discriminators", "task_classifier"}
    assert any(not torch.equal(v, start[k]) for k, v in task.modules()["task_classifier"].state_dict().items())
    assert all(torch.equal(v, frozen[k]) for k, v in classifier.state_dict().items())
    with pytest.raises(ValueError, match="labels"):
        task.generator_losses(source, source)
    with pytest.raises(ConfigError, match="task"):
        _task(domains, None, replace(TINY, semantic_weight=0.0, task_weight=1.0))
    assert "task_classifier" not in _task(domains, classifier).modules()


def test_the_task_loss_keeps_the_labels_of_translations_for_the_task_classifier(domains, classifier, tmp_path):
    # As the semantic-loss test: no cycle, free translators; only the task loss ties a translation to its
    # label. At a negligible weight the task classifier still trains on the translations, but the
    # translators are free to lose the label, and it reads fewer of them.
    run, logger = _quiet_logger(tmp_path)
    agreement = {}
    for weight in (1e-6, 1.0):
        options = replace(TINY, steps=50, semantic_weight=0.0, cycle_weight=0.0, task_weight=weight, lr=5e-3,
                          translator_width=8)
        task = _task(domains, classifier, options)
        for _ in range(options.steps):
            task.train_step(Progress(0, 1))
        agreement[weight] = task.evaluate(options.steps, run, logger)["task_classifier_agreement"]
        assert task.task_classifier.training  # evaluation restores its mode
    assert agreement[1.0] > 0.6 and agreement[1.0] > agreement[1e-6] + 0.1, agreement


def test_cycle_reconstruction_improves(domains, classifier, tmp_path):
    # The translators start far from the identity and must learn to reconstruct.
    options = replace(TINY, steps=40, translator_width=8, semantic_weight=0.0, lr=1e-3)
    task = _task(domains, None, options)
    run, logger = _quiet_logger(tmp_path)
    start = task.evaluate(0, run, logger)
    for _ in range(options.steps):
        task.train_step(Progress(0, 1))
    end = task.evaluate(options.steps, run, logger)
    for key in ("cycle_error_source", "cycle_error_target"):
        assert end[key] < 0.6 * start[key], (key, start[key], end[key])


def test_semantic_loss_keeps_the_labels_of_translated_images(domains, classifier, tmp_path):
    run, logger = _quiet_logger(tmp_path)
    agreement = {}
    for weight in (0.0, 1.0):
        # No cycle loss and translators that start from noise, not from the identity (skip),
        # which would keep the labels anyway: only the semantic loss can keep them.
        options = replace(TINY, steps=50, semantic_weight=weight, cycle_weight=0.0, lr=5e-3, translator_width=8)
        task = _task(domains, classifier, options)
        for _ in range(options.steps):
            task.train_step(Progress(0, 1))
        agreement[weight] = task.evaluate(options.steps, run, logger)["translated_label_agreement"]
    assert agreement[1.0] > 0.45 and agreement[1.0] > agreement[0.0] + 0.3, agreement


def test_content_loss_keeps_the_shapes_of_the_source_foreground(domains):
    # Translators free of the identity and of every other tie to their input: without the content
    # loss nothing keeps the digit strokes; with it their variance of change on the strokes stays small.
    change = {}
    for weight in (0.0, 100.0):
        options = replace(TINY, steps=40, content_weight=weight, cycle_weight=0.0, semantic_weight=0.0, lr=5e-3,
                          translator_width=8)
        task = _task(domains, None, options)
        for _ in range(options.steps):
            losses = task.train_step(Progress(0, 1))
        assert (losses["content"] > 0) == (weight > 0)
        source = task.monitor_images[:200]
        change[weight] = float(masked_pairwise_mse(source, translate(task.source_to_target, source),
                                                   foreground_mask(source)))
    assert change[100.0] < 0.5 * change[0.0], change


@pytest.mark.parametrize("options", [TINY, replace(TINY, noise=4)], ids=["plain", "noise"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(domains, classifier, tmp_path, options):
    def fit(folder, steps, resume):
        task = _task(domains, classifier, options)
        run = RunFolder(folder)
        stored = stored_config(options, domains[0].format)
        run.prepare(stored, resume=resume)
        Trainer(task, run, LoopConfig(steps=steps, eval_every=2, progress_bar=False, tensorboard=False),
                stored).fit(resume=resume)

    fit(tmp_path / "straight", 4, False)
    fit(tmp_path / "resumed", 2, False)
    fit(tmp_path / "resumed", 4, True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")["modules"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")["modules"]
    for network in a:
        for name, tensor in a[network].items():
            assert torch.equal(tensor, b[network][name]), f"{network}.{name}"
    assert sorted(p.name for p in (tmp_path / "straight" / "samples").iterdir()) == [
        "step_0000002.png", "step_0000004.png"]
    translation = load_translation(tmp_path / "straight")
    assert translation.step == 4 and translation.options == options and translation.folder == tmp_path / "straight"
    images = domains[0].images[:5]
    expected = a["source_to_target"]
    assert all(torch.equal(v, expected[k]) for k, v in translation.source_to_target.state_dict().items())
    assert translate(translation.source_to_target, images, batch_size=2).shape == images.shape


def test_a_stage_with_noise_is_rebuilt_with_it_and_translates_the_same_set_every_time(domains, tmp_path):
    options = replace(TINY, semantic_weight=0.0, noise=6)
    task = _task(domains, None, options)
    assert task.source_to_target.config.noise == 6 and task.target_to_source.config.noise == 0
    losses = task.train_step(Progress(0, 1))
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values())
    run = RunFolder(tmp_path / "noisy")
    stored = stored_config(options, domains[0].format)
    run.prepare(stored, resume=False)
    Trainer(task, run, LoopConfig(steps=2, eval_every=2, progress_bar=False, tensorboard=False), stored).fit()
    translation = load_translation(tmp_path / "noisy")
    assert translation.options.noise == 6 and translation.source_to_target.config.noise == 6
    images = domains[0].images[:6]
    once = translate(translation.source_to_target, images, batch_size=4)
    assert torch.equal(once, translate(translation.source_to_target, images, batch_size=4))
    same_image = translate(translation.source_to_target, images[:1].expand(4, -1, -1, -1))
    assert (same_image[1:] - same_image[0]).abs().max() > 0  # each copy has its own noise vector
    with pytest.raises(ConfigError, match="noise"):
        replace(TINY, noise=-1)


def test_translation_grid_pairs_each_image_with_its_translation(domains, tmp_path):
    task = _task(domains, None, replace(TINY, semantic_weight=0.0))
    source = domains[0].images[preview_indices(domains[0].labels, 2)]
    assert len(source) == 20
    path = tmp_path / "grid.png"
    save_translation_grid(path, task.source_to_target, task.target_to_source, source, domains[1].images[:7])
    width, height = Image.open(path).size
    # 4 source rows and 2 target rows (7 images padded to 10), 28 px + 2 px padding each.
    assert (width, height) == (10 * 30 + 2, 6 * 30 + 2)
    assert torch.equal(domains[0].labels[preview_indices(domains[0].labels, 2)][:10], torch.arange(10))


def test_semantic_loss_without_classifier_and_bad_objectives_are_refused(domains):
    with pytest.raises(ConfigError, match="source classifier"):
        TranslationTask(TINY, domains[0], domains[1], None, 0)
    with pytest.raises(ConfigError, match="minimax, least-squares or hinge"):
        TranslationTraining(objective="wgan-gp")
    with pytest.raises(ConfigError):
        TranslationTraining(cycle_weight=-1.0)
