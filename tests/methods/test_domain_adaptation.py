"""``dann`` and ``adda`` on tiny synthetic digits: the adversarial mechanics, then whole runs."""

from __future__ import annotations

import copy
import json
import math
import signal
from dataclasses import replace

import pytest
import torch

from gantransfer.data import AffineAugment, DataOptions
from gantransfer.engine.run_folder import RunFolder
from gantransfer.engine.seeding import seed_everything
from gantransfer.engine.trainer import Callback, LoopConfig, Progress, Trainer
from gantransfer.errors import ConfigError
from gantransfer.methods import DomainAdaptationOptions, TransferConfig, get_method, transfer
from gantransfer.methods.adda import build_adda, check_adda
from gantransfer.methods.config import ClassifierOptions
from gantransfer.methods.context import Stream, TransferContext, TransferData
from gantransfer.methods.dann import build_dann_task
from gantransfer.methods.stages import StageCache
from gantransfer.models.saving import load_classifier
from gantransfer.training.batchnorm import batchnorm_layers, image_batches, reestimate_batchnorm
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining, LabelledSource


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """One source-classifier stage for the whole module (it is the same tiny config throughout)."""
    return tmp_path_factory.mktemp("stages")


@pytest.fixture
def tiny(source_digits_npz, target_digits_npz):
    """Unsupervised source -> target on 300 / 200 synthetic digits with networks that train in seconds."""
    return TransferConfig(
        source=str(source_digits_npz),
        target=str(target_digits_npz),
        method="dann",
        k=0,
        classifier=ClassifierOptions(width=8, feature_dim=32),
        training=ClassifierTraining(steps=4, batch_size=16),
        source_training=ClassifierTraining(steps=6, batch_size=16),
        teacher=TeacherOptions(batch_size=16),
    ).with_options(
        feature_alignment=DomainAdaptationOptions(discriminator_hidden=16),
    )


def _context(config, tmp_path, stages) -> TransferContext:
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True, exist_ok=True)
    return TransferContext(config, TransferData.load(config, DataOptions()), StageCache(stages), run,
                           DataOptions(), progress_bar=False)


def _weights(module) -> dict[str, torch.Tensor]:
    """Trainable tensors only (BatchNorm running statistics move in any forward pass in train mode)."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[name], b[name]) for name in a)


# -- DANN ----------------------------------------------------------------------------------------------


def test_dann_trunk_gets_the_reversed_domain_gradient_and_discriminator_the_plain_one(tiny, tmp_path, stages):
    # No augmentation, so repeated objectives on the same batches are identical.
    config = replace(tiny, training=replace(tiny.training, augment=AffineAugment()))
    context = _context(config, tmp_path, stages)
    task = build_dann_task(context, context.labelled_sources(include_source=True))
    saved = copy.deepcopy(task.state_dict())
    trunk = list(task.classifier.trunk.parameters())
    critic = list(task.discriminator.parameters())

    def gradients(coefficient: float):
        task.load_state_dict(copy.deepcopy(saved))  # the same batches each time
        task.coefficient = lambda progress: coefficient
        total, losses = task.objective(Progress(0, 1))
        assert losses["grl_coefficient"] == coefficient
        grads = torch.autograd.grad(total, trunk + critic)
        return grads[: len(trunk)], grads[len(trunk) :]

    trunk_none, critic_none = gradients(0.0)  # cross-entropy only reaches the trunk
    trunk_reversed, critic_reversed = gradients(0.5)  # DANN
    trunk_plain, critic_plain = gradients(-0.5)  # as if the trunk helped the discriminator
    for none, rev, plain in zip(trunk_none, trunk_reversed, trunk_plain):
        assert torch.allclose(rev - none, -(plain - none), atol=1e-5)  # float32 sums over conv windows
    assert max(float((rev - none).abs().max()) for none, rev in zip(trunk_none, trunk_reversed)) > 1e-3
    # The discriminator itself learns to classify domains whatever lambda is, and really learns.
    for a, b, c in zip(critic_none, critic_reversed, critic_plain):
        assert torch.allclose(a, b) and torch.allclose(a, c)
    assert all(g.abs().sum() > 0 for g in critic_reversed)


def test_dann_step_updates_both_networks_and_follows_the_schedule(tiny, tmp_path, stages):
    context = _context(tiny, tmp_path, stages)
    task = build_dann_task(context, context.labelled_sources(include_source=True))
    trunk, critic = _weights(task.classifier.trunk), _weights(task.discriminator)
    steps = tiny.training.steps
    first = task.train_step(Progress(0, steps))
    assert first["grl_coefficient"] == 0.0  # Ganin's schedule starts at zero
    assert {"loss_source", "loss_domain", "domain_accuracy", "loss"} <= set(first)
    # The schedule reads the loop's progress: lambda = 2 / (1 + exp(-10 p)) - 1.
    assert task.train_step(Progress(steps // 2, steps))["grl_coefficient"] == pytest.approx(
        2 / (1 + math.exp(-10 * (steps // 2) / steps)) - 1)
    assert not _same(trunk, _weights(task.classifier.trunk))
    assert not _same(critic, _weights(task.discriminator))


def test_dann_on_other_labelled_sources_aligns_those(tiny, tmp_path, stages):
    """The hook for pixel-level methods: DANN on, e.g., source images translated to the target style."""
    context = _context(tiny, tmp_path, stages)
    translated = LabelledSource("translated", context.stream(context.data.source, 16, Stream.TRANSLATED_SOURCE))
    task = build_dann_task(context, [translated])
    assert task.source_domain == [0]
    assert "loss_translated" in task.train_step(Progress(0, 1))
    with pytest.raises(ConfigError, match="source domain"):
        build_dann_task(context, [translated], source_domain=["source"])


# -- ADDA ----------------------------------------------------------------------------------------------


def _batch_norm_inputs(task) -> list[int]:
    """Batch sizes the trunk's first BatchNorm layer sees, recorded from now on."""
    layer = next(m for m in task.classifier.trunk.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen: list[int] = []
    layer.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].shape[0]))
    return seen


@pytest.mark.parametrize("separate", [False, True])
def test_dann_domain_statistics_normalise_each_domain_on_its_own(tiny, tmp_path, stages, separate):
    options = replace(tiny.options.feature_alignment, domain_statistics=separate)
    context = _context(tiny.with_options(feature_alignment=options), tmp_path, stages)
    task = build_dann_task(context, context.labelled_sources(include_source=True))
    seen = _batch_norm_inputs(task)
    task.objective(Progress(0, 4))
    source, target = tiny.training.batch_size, tiny.training.batch_size
    assert seen == ([source, target] if separate else [source + target])


def test_dann_domain_statistics_leave_the_target_statistics_in_the_saved_classifier(tiny, tmp_path, stages):
    config = tiny.with_options(feature_alignment=replace(tiny.options.feature_alignment, domain_statistics=True))
    metrics = transfer(config, tmp_path / "run", stages_dir=stages, progress_bar=False)
    saved = load_classifier(tmp_path / "run" / "classifier.safetensors").model
    # The same weights with statistics re-estimated here on the target train images: identical.
    expected = copy.deepcopy(saved)
    target = TransferData.load(config, DataOptions()).target_train.images
    reestimate_batchnorm(expected, image_batches(target, 256))
    for got, wanted in zip(batchnorm_layers(saved), batchnorm_layers(expected)):
        assert torch.allclose(got.running_mean, wanted.running_mean, atol=1e-6)
        assert torch.allclose(got.running_var, wanted.running_var, atol=1e-6)
    assert metrics["notes"]["target_statistics_batches"] >= 1


def test_adda_discriminator_learns_and_encoder_step_leaves_it_and_the_head_alone(tiny, tmp_path, stages):
    context = _context(replace(tiny, method="adda"), tmp_path, stages)
    task = build_adda(context).task
    source = context.source_classifier()
    head, critic = _weights(task.classifier.head), _weights(task.discriminator)
    source_encoder, target_encoder = _weights(task.source_encoder), _weights(task.classifier.trunk)
    assert _same(source_encoder, _weights(source.trunk)) and _same(target_encoder, source_encoder)  # M_t = M_s

    # A step is two updates: first D, then M_t.
    discriminator_phase, encoder_phase = task.phases()
    assert discriminator_phase.optimizers == (task.discriminator_optimizer,)
    assert encoder_phase.optimizers == (task.optimizer,)
    loss, stats = discriminator_phase.loss(Progress(0, 3))
    assert set(stats) == {"domain_accuracy"} and loss.item() > 0
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in task.discriminator.parameters())
    assert all(p.grad is None for p in task.classifier.parameters())  # D's update leaves M_t alone
    task.discriminator_optimizer.step()
    assert not _same(critic, _weights(task.discriminator))

    task.discriminator_optimizer.zero_grad(set_to_none=True)
    total, losses = task.objective(Progress(0, 3))
    total.backward()
    assert set(losses) == {"loss_adversarial"}  # k = 0, source_weight = 0: pure ADDA
    assert all(p.grad is None for p in task.discriminator.parameters())
    assert all(p.grad is None for p in task.classifier.head.parameters())
    assert sum(float(p.grad.abs().sum()) for p in task.classifier.trunk.parameters()) > 0

    for step in range(3):
        assert {"loss_discriminator", "loss", "domain_accuracy"} <= set(task.train_step(Progress(step, 3)))
    assert _same(head, _weights(task.classifier.head))
    assert _same(source_encoder, _weights(task.source_encoder))
    assert not _same(target_encoder, _weights(task.classifier.trunk))


def test_adda_uses_k_target_and_source_labels_when_given(tiny, tmp_path, stages):
    context = _context(replace(tiny, method="adda", k=2, source_weight=0.5), tmp_path, stages)
    _, losses = build_adda(context).task.objective(Progress(0, 1))
    assert {"loss_adversarial", "loss_target_labelled", "loss_source"} <= set(losses)


def test_adda_refuses_other_inits(tiny):
    with pytest.raises(ConfigError, match="init must be 'source'"):
        check_adda(replace(tiny, method="adda", init="random"))
    check_adda(replace(tiny, method="adda"))  # its default init, source


# -- both, end to end ----------------------------------------------------------------------------------


# Each method with k = 0 and k = 2, and with and without self-training (not all eight pairs: time).
@pytest.mark.parametrize("method, k, self_train",
                         [("dann", 0, False), ("dann", 2, True), ("adda", 0, True), ("adda", 2, False)])
def test_runs_end_to_end(tiny, tmp_path, stages, method, k, self_train, check_reported_accuracy):
    out = tmp_path / "run"
    metrics = transfer(replace(tiny, method=method, k=k, self_train=self_train), out, stages_dir=stages,
                       progress_bar=False)
    written = json.loads((out / "metrics.json").read_text())
    assert written["target_test_accuracy"] == metrics["target_test_accuracy"]
    check_reported_accuracy(metrics, out)
    assert metrics["uses_unlabelled_target"] is True and metrics["init"] == "source" and metrics["k"] == k
    checkpoint = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)
    assert "discriminator" in checkpoint["modules"] and "discriminator" in checkpoint["optimizers"]
    assert ("teacher" in checkpoint["modules"]) == self_train
    saved = load_classifier(out / "classifier.safetensors").model
    if self_train:  # the teacher is what gets evaluated and saved
        teacher = checkpoint["modules"]["teacher"]
        assert all(torch.equal(tensor, teacher[name]) for name, tensor in saved.state_dict().items())
    if method == "adda":  # C(M_t(.)): the source head, unchanged
        source = load_classifier(next(stages.glob("source-classifier-*")) / "classifier.safetensors").model
        assert _same(_weights(source.head), _weights(saved.head))
    losses = [r for r in RunFolder(out).read_metrics() if r["phase"] == "train"]
    assert losses and "domain_accuracy" in losses[-1]


@pytest.mark.parametrize("method", ["dann", "adda"])
def test_resume_gives_the_same_weights(tiny, tmp_path, stages, method):
    config = replace(tiny, method=method, self_train=True)

    class StopAt(Callback):  # a Ctrl-C at the end of step 2
        def on_step_end(self, trainer, losses):
            if trainer.step == 2:
                signal.raise_signal(signal.SIGINT)

    def fit(folder, resume, callbacks=()):
        seed_everything(config.seed)  # as transfer() does: the discriminator's initial weights
        plan = get_method(method).build(_context(config, tmp_path / folder, stages))
        loop = LoopConfig(steps=4, progress_bar=False, tensorboard=False)
        result = Trainer(plan.task, RunFolder(tmp_path / folder), loop, {}, callbacks=callbacks).fit(resume=resume)
        return plan.task, result

    straight, _ = fit("straight", False)
    assert fit("halves", False, [StopAt()])[1].step == 2
    resumed, result = fit("halves", True)
    assert result.step == 4 and not result.interrupted
    for name, module in straight.modules().items():
        other = resumed.modules()[name].state_dict()
        assert all(torch.equal(t, other[key]) for key, t in module.state_dict().items()), name


def test_options_are_validated_and_reach_the_command_line(tmp_path):
    from gantransfer.cli.main import build_parser
    from gantransfer.cli.options import config_from_args

    with pytest.raises(ConfigError, match="domain_weight"):
        DomainAdaptationOptions(domain_weight=-1.0)
    args = build_parser().parse_args(["transfer", "--out", str(tmp_path), "--method", "dann", "--k", "0",
                                      "--feature-alignment-domain-weight", "0.3", "--no-feature-alignment-grl-schedule"])
    config = config_from_args(TransferConfig, args)
    alignment = config.options.feature_alignment
    assert alignment.domain_weight == 0.3 and alignment.grl_schedule is False
