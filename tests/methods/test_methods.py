"""Every transfer method on tiny synthetic digits: outputs, mechanics, composition."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest
import torch
from PIL import Image

from gantransfer.data import DataOptions
from gantransfer.engine.run_folder import RunFolder
from gantransfer.engine.stage_cache import StageBusy
from gantransfer.engine.trainer import Callback, Progress, Trainer
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.fileio import file_lock
from gantransfer.methods import (METHODS, ClassifierOptions, GanAugmentOptions, GanFeatureOptions, TransferConfig,
                                 transfer)
from gantransfer.methods.context import TransferContext, TransferData
from gantransfer.methods.stages import StageCache
from gantransfer.models.saving import load_classifier
from gantransfer.training.pretrain import PretrainConfig, load_gan
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining
from gantransfer.training.translation import TranslationTraining


@pytest.fixture
def tiny(source_digits_npz, target_digits_npz, tmp_path):
    """A tiny source -> target setting (300 / 200 synthetic digits) whose networks train in seconds."""
    config = TransferConfig(
        source=str(source_digits_npz),
        target=str(target_digits_npz),
        k=2,
        classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=6, batch_size=16),
        source_training=ClassifierTraining(steps=6, batch_size=16),
        teacher=TeacherOptions(batch_size=16),
        gan=PretrainConfig(conditional=True, steps=4, batch_size=16, generator_width=8, discriminator_width=8,
                           feature_dim=32, latent_dim=8, quality_samples=0),
    ).with_options(
        gan_augment=GanAugmentOptions(adapt_steps=3, adapt_batch_size=8, synthetic_per_class=4,
                                     synthetic_batch_size=8),
        translation=TranslationTraining(steps=2, batch_size=8, translator_width=4, residual_blocks=1,
                                        discriminator_width=4),
    )
    return config, tmp_path


def _context(config, tmp_path):
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True, exist_ok=True)
    return TransferContext(config, TransferData.load(config, DataOptions()), StageCache(tmp_path / "stages"), run,
                           DataOptions(), progress_bar=False)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_writes_a_complete_run(tiny, method, check_reported_accuracy):
    config, tmp_path = tiny
    out = tmp_path / method
    started = time.time()
    metrics = transfer(replace(config, method=method), out, stages_dir=tmp_path / "stages", progress_bar=False)
    elapsed = time.time() - started
    check_reported_accuracy(metrics, out)
    assert set(metrics["per_class_accuracy"]) == {str(i) for i in range(10)}
    assert metrics["method"] == method and metrics["k"] == 2 and metrics["seed"] == 0
    # The run's own clock, rounded to 0.1 s: within the time this call took (its stages included).
    assert 0 < metrics["wall_seconds"] <= elapsed + 0.05
    assert json.loads((out / "metrics.json").read_text())["target_test_accuracy"] == metrics["target_test_accuracy"]
    assert Image.open(out / "confusion_matrix.png").format == "PNG"
    saved = load_classifier(out / "classifier.safetensors")
    assert saved.class_names == tuple(str(i) for i in range(10))
    if method == "gan-augment":
        grid = Image.open(out / "generated_samples.png")
        assert grid.size[1] > grid.size[0] / 2  # ten rows, one per class
        assert (out / "target_gan" / "checkpoints" / "latest.pt").is_file()
    if method in ("pixel-da", "cycada"):
        assert Image.open(out / "translations.png").format == "PNG"
        assert metrics["uses_unlabelled_target"] is True


def test_cycada_aligns_the_translated_source_with_the_target(tiny):
    config, tmp_path = tiny
    out = tmp_path / "cycada"
    transfer(replace(config, method="cycada"), out, stages_dir=tmp_path / "stages", progress_bar=False)
    state = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)
    assert set(state["modules"]) == {"classifier", "discriminator"}, "feature-level: a domain discriminator"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["phase"] == "train"][-1]
    assert "loss_translated_source" in train and "loss_domain" in train
    assert "loss_source" not in train, "pixel-level: the translated images replace the source images"


def test_finished_run_is_returned_not_recomputed(tiny):
    config, tmp_path = tiny
    first = transfer(replace(config, method="target-only"), tmp_path / "r", stages_dir=tmp_path / "s",
                     progress_bar=False)
    (tmp_path / "r" / "checkpoints" / "latest.pt").unlink()
    again = transfer(replace(config, method="target-only"), tmp_path / "r", stages_dir=tmp_path / "s",
                     progress_bar=False)
    assert again == first


def test_shared_stages_are_trained_once(tiny):
    config, tmp_path = tiny
    for seed_method in ("finetune", "source-only"):
        transfer(replace(config, method=seed_method), tmp_path / seed_method, stages_dir=tmp_path / "s",
                 progress_bar=False)
    assert len([p for p in (tmp_path / "s").iterdir() if p.name.startswith("source-classifier")]) == 1


def test_a_stage_another_process_trains_is_not_waited_for_when_the_caller_says_so(tiny):
    """wait_for_stages=False: a stage that another process is training raises StageBusy before
    the run trains anything; a finished stage whose lock is held (a run looking at it) is waited for."""
    config, tmp_path = tiny
    stages = tmp_path / "s"
    transfer(replace(config, method="source-only"), tmp_path / "first", stages_dir=stages, progress_bar=False)
    folder = next(stages.glob("source-classifier-*"))
    (folder / "done.json").rename(folder / "done.kept")  # as while the stage is still training
    with file_lock(folder / ".lock"):
        with pytest.raises(StageBusy) as busy:
            transfer(replace(config, method="finetune"), tmp_path / "second", stages_dir=stages,
                     progress_bar=False, wait_for_stages=False)
    assert busy.value.folder == folder
    assert not (tmp_path / "second" / "metrics.json").exists()
    assert not (folder / "done.json").exists()  # nothing trained it meanwhile

    (folder / "done.kept").rename(folder / "done.json")
    held = threading.Event()

    def look_at_the_stage():
        with file_lock(folder / ".lock"):
            held.set()
            time.sleep(1.0)

    looker = threading.Thread(target=look_at_the_stage)
    looker.start()
    held.wait()
    started = time.time()
    metrics = transfer(replace(config, method="finetune"), tmp_path / "second", stages_dir=stages,
                       progress_bar=False, wait_for_stages=False)
    looker.join()
    assert metrics["method"] == "finetune" and time.time() - started > 0.5


def test_same_seed_same_accuracy_and_k_draw(tiny):
    config, tmp_path = tiny
    a = transfer(replace(config, method="target-only"), tmp_path / "a", stages_dir=tmp_path / "s", progress_bar=False)
    b = transfer(replace(config, method="target-only"), tmp_path / "b", stages_dir=tmp_path / "s", progress_bar=False)
    assert a["confusion_matrix"] == b["confusion_matrix"]


def test_gan_init_copies_the_discriminator_trunk(tiny):
    config, tmp_path = tiny
    context = _context(config, tmp_path)
    classifier, groups = context.initial_classifier("gan")
    trunk = context.source_gan().discriminator.trunk.state_dict()
    for name, tensor in classifier.trunk.state_dict().items():
        assert torch.equal(tensor, trunk[name]), name
    lrs = sorted(group["lr"] for group in groups)
    assert lrs == pytest.approx([config.training.optimizer.lr * config.trunk_lr_scale, config.training.optimizer.lr])


def test_frozen_trunk_stays_frozen_and_linear_probe_keeps_statistics(tiny):
    config, tmp_path = tiny
    for options in (GanFeatureOptions(freeze_trunk=True), GanFeatureOptions(linear_probe=True)):
        out = tmp_path / f"frozen-{options.linear_probe}"
        transfer(replace(config, method="gan-features").with_options(gan_features=options), out,
                 stages_dir=tmp_path / "s", progress_bar=False)
        trained = load_classifier(out / "classifier.safetensors").model.trunk.state_dict()
        gan_trunk = load_gan(next((tmp_path / "s").glob("source-gan-*"))).discriminator.trunk.state_dict()
        weights = [n for n in trained if "running" not in n and "num_batches" not in n]
        assert weights and all(torch.equal(trained[n], gan_trunk[n]) for n in weights)
        statistics = [n for n in trained if "running" in n]
        same = all(torch.equal(trained[n], gan_trunk[n]) for n in statistics)
        assert same == options.linear_probe


def test_unfrozen_trunk_does_change(tiny):
    config, tmp_path = tiny
    out = tmp_path / "free"
    transfer(replace(config, method="gan-features"), out, stages_dir=tmp_path / "s", progress_bar=False)
    trained = load_classifier(out / "classifier.safetensors").model.trunk.state_dict()
    gan_trunk = load_gan(next((tmp_path / "s").glob("source-gan-*"))).discriminator.trunk.state_dict()
    assert not torch.equal(trained["blocks.0.weight"], gan_trunk["blocks.0.weight"])


def test_gan_augment_adapts_with_freezed_and_composes_with_gan_trunk(tiny):
    config, tmp_path = tiny
    out = tmp_path / "composed"
    metrics = transfer(replace(config, method="gan-augment", init="gan"), out, stages_dir=tmp_path / "s",
                       progress_bar=False)
    assert metrics["init"] == "gan" and metrics["notes"]["gan_adapted"] is True
    source = load_gan(next((tmp_path / "s").glob("source-gan-*")))
    adapted = load_gan(out / "target_gan")
    frozen = config.options.gan_augment.freeze_discriminator_blocks
    source_stages = source.discriminator.trunk.stages()
    adapted_stages = adapted.discriminator.trunk.stages()
    for index, (a, b) in enumerate(zip(source_stages, adapted_stages)):
        same = all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
        assert same == (index < frozen), f"trunk layer {index}"
    assert not torch.equal(source.generator.project.weight, adapted.generator.project.weight)


def test_self_training_saves_the_teacher(tiny):
    config, tmp_path = tiny
    metrics = transfer(replace(config, method="source-only", self_train=True), tmp_path / "st",
                       stages_dir=tmp_path / "s", progress_bar=False)
    assert metrics["self_train"] is True and metrics["uses_unlabelled_target"] is True
    state = torch.load(tmp_path / "st" / "checkpoints" / "latest.pt", weights_only=True)
    assert set(state["modules"]) == {"classifier", "teacher"}


@pytest.mark.parametrize("source_weight, expected",
                         [(0.0, {"target_labelled": 1.0}), (0.5, {"target_labelled": 1.0, "source": 0.5})])
def test_finetune_replays_the_labelled_source_when_weighted(tiny, source_weight, expected):
    from gantransfer.methods.baselines import build_finetune

    config, tmp_path = tiny
    task = build_finetune(_context(replace(config, method="finetune", source_weight=source_weight), tmp_path)).task
    assert {source.name: source.weight for source in task.sources} == expected
    _, losses = task.objective(Progress(0, 1))
    assert {f"loss_{name}" for name in expected} == {key for key in losses if key.startswith("loss_")}


def test_methods_without_labels_explain_themselves(tiny):
    from gantransfer.errors import ConfigError

    config, tmp_path = tiny
    with pytest.raises(ConfigError, match="nothing labelled to learn from"):
        transfer(replace(config, method="target-only", k=0), tmp_path / "none", stages_dir=tmp_path / "s",
                 progress_bar=False)


def test_validation_split_is_held_out_and_reported(tiny):
    config, tmp_path = tiny
    config = replace(config, validation_per_class=3)
    data = TransferData.load(config, DataOptions())
    assert len(data.target_validation) == 30
    assert len(data.target_train) == 200 - len(data.target_test) - 30, "validation comes out of the train split"
    held_out = {image.numpy().tobytes() for image in data.target_validation.images}
    assert not any(image.numpy().tobytes() in held_out for image in data.target_labelled.images)
    other_seed = TransferData.load(replace(config, seed=5), DataOptions())
    assert torch.equal(other_seed.target_validation.images, data.target_validation.images)
    metrics = transfer(replace(config, method="target-only"), tmp_path / "v", stages_dir=tmp_path / "s",
                       progress_bar=False)
    saved = load_classifier(tmp_path / "v" / "classifier.safetensors")
    assert metrics["target_validation_accuracy"] == evaluate_classifier(saved.model, data.target_validation).accuracy


@pytest.mark.parametrize("method, stopped_task", [("finetune", "ClassifierTask"), ("gan-augment", "GanTask")])
def test_a_stage_stopped_by_a_signal_is_resumed_not_taken_for_finished(tiny, monkeypatch, method, stopped_task):
    """Ctrl-C inside a shared stage (source classifier) or the GAN adaptation stops the run;
    the next run resumes the stage instead of using a half-trained one."""
    import signal

    from gantransfer.training import pretrain as pretrain_module
    from gantransfer.training import supervised

    config, tmp_path = tiny
    owner = supervised if stopped_task == "ClassifierTask" else pretrain_module
    cls = getattr(owner, stopped_task)

    class Interrupt(Callback):
        steps = 0

        def on_step_end(self, trainer, losses):
            # GanTask: only the adaptation to the target counts (not the source GAN stage).
            task = trainer.task
            if type(task) is cls and (stopped_task == "ClassifierTask" or task.config.source == config.target):
                self.steps += 1
                if self.steps == 2:
                    signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        transfer(replace(config, method=method), tmp_path / "run", stages_dir=tmp_path / "s", progress_bar=False,
                 callbacks=[Interrupt()])
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert not list((tmp_path / "s").glob("source-classifier-*/done.json")) or stopped_task != "ClassifierTask"
    assert not (tmp_path / "run" / "target_gan" / "done.json").exists()
    metrics = transfer(replace(config, method=method), tmp_path / "run", stages_dir=tmp_path / "s",
                       progress_bar=False)
    assert metrics["method"] == method
    steps = {"ClassifierTask": config.source_training.steps,
             "GanTask": config.options.gan_augment.adapt_steps}[stopped_task]
    folder = (next((tmp_path / "s").glob("source-classifier-*")) if stopped_task == "ClassifierTask"
              else tmp_path / "run" / "target_gan")
    assert torch.load(folder / "checkpoints" / "latest.pt", weights_only=True)["step"] == steps


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"auto"}))  # auto's build runs whole candidate runs
def test_a_method_trains_nothing_in_its_build_once_its_stages_are_trained(tiny, method, monkeypatch):
    config, tmp_path = tiny
    context = _context(replace(config, method=method), tmp_path)
    context.train_stages(context.stages_needed(METHODS[method]))

    def refuse(trainer, *arguments, **options):
        raise AssertionError(f"{method}'s build trained {type(trainer.task).__name__}: declare it in Method.stages")

    monkeypatch.setattr(Trainer, "fit", refuse)
    METHODS[method].build(context)
