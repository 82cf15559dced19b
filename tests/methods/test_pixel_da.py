"""``pixel-da`` end to end on tiny synthetic digits: outputs, the shared translation stage, composition."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from gantransfer.cli.main import main
from gantransfer.data import DataOptions, load_domain, to_model_range
from gantransfer.engine.run_folder import RunFolder
from gantransfer.evaluation.classification import predict_logits
from gantransfer.methods import METHODS, ClassifierOptions, TransferConfig, transfer
from gantransfer.methods.context import TransferContext, TransferData
from gantransfer.methods.pixel_da import TRANSLATED_FILE, translated_source, translation_stage
from gantransfer.methods.stages import StageCache
from gantransfer.models.saving import load_classifier
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining
from gantransfer.training.translation import TranslationTraining, load_translation, translate


@pytest.fixture
def tiny(source_digits_npz, target_digits_npz, tmp_path):
    config = TransferConfig(
        source=str(source_digits_npz),
        target=str(target_digits_npz),
        method="pixel-da",
        k=0,
        stage_seed=0,
        classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=6, batch_size=16),
        source_training=ClassifierTraining(steps=6, batch_size=16),
        teacher=TeacherOptions(batch_size=16),
    ).with_options(
        translation=TranslationTraining(steps=3, batch_size=8, translator_width=4, residual_blocks=1,
                                        discriminator_width=4, eval_every=2),
    )
    return config, tmp_path


def _stages(tmp_path, kind):
    return sorted(p for p in (tmp_path / "stages").iterdir() if p.name.startswith(kind))


def test_registered_as_an_unsupervised_method():
    method = METHODS["pixel-da"]
    assert method.uses_unlabelled and method.default_init == "source"


@pytest.mark.parametrize("k", [0, 2])
def test_transfer_writes_a_complete_run(tiny, k, check_reported_accuracy):
    config, tmp_path = tiny
    out = tmp_path / f"k{k}"
    metrics = transfer(replace(config, k=k), out, stages_dir=tmp_path / "stages", progress_bar=False)
    check_reported_accuracy(metrics, out)
    assert metrics["method"] == "pixel-da" and metrics["k"] == k and metrics["uses_unlabelled_target"] is True
    assert json.loads((out / "metrics.json").read_text())["target_test_accuracy"] == metrics["target_test_accuracy"]
    assert load_classifier(out / "classifier.safetensors").class_names == tuple(str(i) for i in range(10))
    grid = Image.open(out / "translations.png")
    assert grid.format == "PNG" and grid.size == (10 * 30 + 2, 10 * 30 + 2)  # 3 source and 2 target row pairs
    notes = metrics["notes"]["translation"]
    assert notes["steps"] == 3 and notes["stage"].startswith("translation-")
    stage = tmp_path / "stages" / notes["stage"]
    # The agreement reported is the source classifier's on the final translations of the source.
    source = load_domain(config.source, "train")
    classifier = load_classifier(_stages(tmp_path, "source-classifier")[0] / "classifier.safetensors").model
    translated = translate(load_translation(stage).source_to_target, source.images)
    agreement = float((predict_logits(classifier, translated).argmax(1) == source.labels).float().mean())
    assert notes["translated_label_agreement"] == pytest.approx(agreement)
    assert (stage / TRANSLATED_FILE).is_file() and sorted(p.name for p in (stage / "samples").iterdir()) == [
        "step_0000002.png", "step_0000003.png"]
    # The classifier learns from the translated source, and from the k target images when there are any.
    train = [r for r in RunFolder(out).read_metrics() if r["phase"] == "train"][-1]
    assert "loss_translated_source" in train and ("loss_target_labelled" in train) == (k > 0)


def test_runs_of_any_k_and_seed_share_one_translation_stage(tiny):
    config, tmp_path = tiny
    for k, seed in ((0, 0), (2, 1)):
        transfer(replace(config, k=k, seed=seed), tmp_path / f"r{k}{seed}", stages_dir=tmp_path / "stages",
                 progress_bar=False)
    assert len(_stages(tmp_path, "translation")) == 1 and len(_stages(tmp_path, "source-classifier")) == 1


@pytest.mark.parametrize("unlabelled", [True, False], ids=["target-train-set", "k-images-only"])
def test_a_run_holding_out_validation_images_trains_translators_without_them(tiny, unlabelled):
    # The translators learn from the target train images (or the k labelled ones, drawn from what the
    # hold-out leaves): a run that holds 2 per class out for validation must not reuse translators that
    # saw them, nor the reverse.
    config, tmp_path = tiny
    config = replace(config, k=0 if unlabelled else 2, unlabelled_target=unlabelled)
    for held_out in (0, 2, 0, 2):
        transfer(replace(config, validation_per_class=held_out), tmp_path / f"v{held_out}",
                 stages_dir=tmp_path / "stages", progress_bar=False)
    assert len(_stages(tmp_path, "translation")) == 2


def test_translated_source_keeps_labels_changes_images_and_is_cached(tiny):
    config, tmp_path = tiny
    config = config.with_options(translation=replace(config.options.translation, steps=6))
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True)
    context = TransferContext(config, TransferData.load(config, DataOptions()), StageCache(tmp_path / "stages"), run,
                              DataOptions(), progress_bar=False)
    translation = translation_stage(context)
    translated = translated_source(context, translation)
    source = context.data.source
    assert torch.equal(translated.labels, source.labels) and translated.images.shape == source.images.shape
    assert translated.images.dtype == torch.uint8, "stored as 8-bit pixels, never as a float copy"
    assert (to_model_range(translated.images) - to_model_range(source.images)).abs().mean() > 0.1
    # 8-bit storage: within half a grey level of translating afresh.
    fresh = translation.source_to_target(to_model_range(source.images[:16])).detach()
    assert (fresh - to_model_range(translated.images[:16])).abs().max() <= 1 / 127.5 + 1e-6
    cached = translation.folder / TRANSLATED_FILE
    torch.save(torch.zeros_like(torch.load(cached, weights_only=True)), cached)
    assert int(translated_source(context, translation).images.max()) == 0, "the cached set is read, not redone"


def test_without_semantic_loss_no_source_classifier_is_trained(tiny):
    config, tmp_path = tiny
    # init random: the classifier itself does not start from the source classifier either.
    config = replace(config, init="random").with_options(
        translation=replace(config.options.translation, semantic_weight=0.0))
    metrics = transfer(config, tmp_path / "plain", stages_dir=tmp_path / "stages", progress_bar=False)
    assert "translated_label_agreement" not in metrics["notes"]["translation"]
    assert _stages(tmp_path, "source-classifier") == []


def test_the_task_loss_alone_still_trains_the_source_classifier_it_starts_from(tiny):
    config, tmp_path = tiny
    config = replace(config, init="random").with_options(
        translation=replace(config.options.translation, semantic_weight=0.0, task_weight=1.0))
    metrics = transfer(config, tmp_path / "task", stages_dir=tmp_path / "stages", progress_bar=False)
    assert "translated_label_agreement" in metrics["notes"]["translation"]
    assert len(_stages(tmp_path, "source-classifier")) == 1


def test_self_training_and_cli_options_compose(tiny):
    config, tmp_path = tiny
    out = tmp_path / "cli"
    code = main([
        "transfer", "--source", config.source, "--target", config.target, "--method", "pixel-da", "--k", "0",
        "--self-train", "--teacher-batch-size", "8", "--training-steps", "4", "--training-batch-size", "8",
        "--source-training-steps", "4", "--classifier-width", "8", "--classifier-feature-dim", "16",
        "--translation-steps", "2", "--translation-batch-size", "4", "--translation-translator-width", "4",
        "--translation-residual-blocks", "0", "--translation-discriminator-width", "4", "--translation-skip",
        "--translation-cycle-weight", "5", "--stages-dir", str(tmp_path / "stages"), "--out", str(out),
        "--no-progress",
    ])
    assert code == 0
    stored = json.loads((out / "config.json").read_text())
    assert stored["translation"]["steps"] == 2 and stored["translation"]["skip"] is True
    assert stored["translation"]["cycle_weight"] == 5.0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["self_train"] is True
    state = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)
    assert set(state["modules"]) == {"classifier", "teacher"}


def test_translated_and_original_source_together_for_the_mean_teacher(tiny):
    # Choi et al. 2019: the student learns from the source translated to the target style and from the
    # source as it is, the teacher follows it on the unlabelled target.
    from gantransfer.data import DataOptions
    from gantransfer.methods.context import TransferContext, TransferData
    from gantransfer.methods.pixel_da import build_pixel_da
    from gantransfer.methods.stages import StageCache

    config, tmp_path = tiny
    config = replace(config, source_weight=1.0, self_train=True)
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True, exist_ok=True)
    context = TransferContext(config, TransferData.load(config, DataOptions()), StageCache(tmp_path / "stages"), run,
                              DataOptions(), progress_bar=False)
    task = build_pixel_da(context).task
    assert sorted(source.name for source in task.sources) == ["source", "translated_source"]
    assert task.mean_teacher is not None
