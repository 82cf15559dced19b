"""GAN pretraining end to end on a few hundred synthetic digits: outputs, determinism, resume."""

from __future__ import annotations

import json
import signal
from dataclasses import replace

import pytest
import torch

from gantransfer.data import DataOptions
from gantransfer.engine.checkpoint import load_checkpoint
from gantransfer.engine.trainer import Callback
from gantransfer.training.pretrain import PretrainConfig, load_gan, pretrain


def _config(source, **overrides):
    base = dict(
        source=str(source), conditional=True, steps=12, batch_size=32, eval_every=6, quality_samples=0,
        generator_width=16, discriminator_width=8, feature_dim=32, latent_dim=16, seed=3,
    )
    return PretrainConfig(**{**base, **overrides})


def _weights(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "latest.pt")["modules"]


def _assert_same_weights(a, b):
    for network in a:
        for name, tensor in a[network].items():
            assert torch.equal(tensor, b[network][name]), f"{network}.{name} differs"


@pytest.mark.parametrize("objective", ["minimax", "wgan", "wgan-gp"])
def test_tiny_pretrain_writes_a_complete_run(source_digits_npz, tmp_path, objective):
    out = tmp_path / "run"
    result = pretrain(_config(source_digits_npz, objective=objective, steps=6, eval_every=3), out, progress_bar=False)
    assert result.step == 6 and not result.interrupted
    assert (out / "checkpoints" / "latest.pt").is_file()
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000003.png", "step_0000006.png"]
    assert any((out / "tensorboard").iterdir())
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["phase"] == "train"]
    assert train and all(k in train[-1] for k in ("d_loss", "g_loss", "epoch"))
    config = json.loads((out / "config.json").read_text())
    assert config["objective"] == objective and config["class_names"] == [str(i) for i in range(10)]
    gan = load_gan(out)
    assert gan.config.objective == objective and gan.step == 6
    images = gan.generator(torch.randn(10, 16), torch.arange(10))
    assert images.shape == (10, 1, 28, 28)


def test_same_seed_same_numbers(source_digits_npz, tmp_path):
    pretrain(_config(source_digits_npz, steps=5), tmp_path / "a", progress_bar=False)
    pretrain(_config(source_digits_npz, steps=5), tmp_path / "b", progress_bar=False)
    _assert_same_weights(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    pretrain(_config(source_digits_npz, steps=5, seed=4), tmp_path / "c", progress_bar=False)
    a, c = _weights(tmp_path / "a"), _weights(tmp_path / "c")
    assert not torch.equal(a["generator"]["project.weight"], c["generator"]["project.weight"])


@pytest.mark.parametrize("objective", ["minimax", "wgan-gp"])
def test_interrupted_run_resumes_exactly(source_digits_npz, tmp_path, monkeypatch, objective):
    config = _config(source_digits_npz, objective=objective)
    pretrain(config, tmp_path / "straight", progress_bar=False)

    # Deliver SIGINT at the end of step 7: the trainer saves and stops; a second call with resume
    # continues from there.
    class Interrupt(Callback):
        def on_step_end(self, trainer, losses):
            if trainer.step == 7:
                signal.raise_signal(signal.SIGINT)

    first = pretrain(config, tmp_path / "resumed", progress_bar=False, callbacks=[Interrupt()])
    assert first.interrupted and first.step == 7
    second = pretrain(config, tmp_path / "resumed", resume=True, progress_bar=False)
    assert second.step == 12 and not second.interrupted
    _assert_same_weights(_weights(tmp_path / "straight"), _weights(tmp_path / "resumed"))
    steps = [r["step"] for r in map(json.loads, (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines())]
    assert steps == sorted(steps) and steps[-1] == 12, "the log continues without repeating steps"

    def curve(run):
        records = map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
        return [{k: v for k, v in r.items() if k != "time"} for r in records]

    assert curve("resumed") == curve("straight"), "the logged curve is the uninterrupted run's"
    assert sorted(p.name for p in (tmp_path / "resumed" / "samples").iterdir()) == [
        "step_0000006.png", "step_0000012.png"]


def test_resume_refuses_other_config(source_digits_npz, tmp_path):
    from gantransfer.errors import ConfigError

    pretrain(_config(source_digits_npz, steps=2), tmp_path / "r", progress_bar=False)
    with pytest.raises(ConfigError, match="changed: objective"):
        pretrain(_config(source_digits_npz, steps=2, objective="wgan"), tmp_path / "r", resume=True, progress_bar=False)


@pytest.mark.real_data  # a built-in domain found through DataOptions.data_dir alone
def test_pretrain_reads_data_dir_option(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("GANTRANSFER_DATA")
    config = _config("usps", steps=1, conditional=False)
    result = pretrain(config, tmp_path / "u", DataOptions(data_dir=str(data_dir)), progress_bar=False)
    assert result.step == 1


def test_resumed_run_counts_the_time_of_earlier_sessions(source_digits_npz, tmp_path, monkeypatch):
    import time as time_module

    from gantransfer.engine import trainer as trainer_module

    config = _config(source_digits_npz, steps=4)
    pretrain(config, tmp_path / "r", progress_bar=False)
    first = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["elapsed_seconds"]
    assert first > 0
    # The second session starts 1000 s "later": only its own time may be added.
    real_time = time_module.time
    monkeypatch.setattr(trainer_module.time, "time", lambda: real_time() + 1000)
    result = pretrain(replace(config, steps=6), tmp_path / "r", resume=True, progress_bar=False)
    assert result.earlier_seconds == pytest.approx(first)
    total = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["elapsed_seconds"]
    assert first < total < first + 100


# --- the generator's moving average ---------------------------------------------------------------


def test_ema_warmup_follows_early_training_then_reaches_the_decay():
    from gantransfer.training.pretrain import ema_warmup_rate

    assert ema_warmup_rate(0.999, 0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema_warmup_rate(0.999, 90) == pytest.approx(0.91)
    assert ema_warmup_rate(0.999, 100_000) == 0.999
    assert ema_warmup_rate(0.5, 10) == 0.5


def test_multi_tensor_ema_equals_the_per_tensor_formula_bit_for_bit():
    from gantransfer.training.pretrain import ema_with_warmup

    torch.manual_seed(0)
    averaged = [torch.randn(5, 3), torch.randn(7)]
    current = [torch.randn(5, 3), torch.randn(7)]
    expected = [a * 0.91 + c * (1.0 - 0.91) for a, c in zip(averaged, current)]
    ema_with_warmup(0.999)(averaged, current, torch.tensor(90))
    assert all(torch.equal(a, e) for a, e in zip(averaged, expected))
    # Integer buffers (BatchNorm's batch count) are averaged and truncated as AveragedModel does.
    counts = [torch.tensor(5)]
    ema_with_warmup(0.999)(counts, [torch.tensor(6)], torch.tensor(90))
    assert counts[0].dtype == torch.int64 and int(counts[0]) == int(5 * 0.91 + 6 * (1 - 0.91))


@pytest.mark.slow
def test_a_gan_that_never_evaluates_still_saves_every_checkpoint_interval(source_digits_npz, tmp_path):
    """One checkpoint policy for every loop: a crash loses at most CHECKPOINT_EVERY steps, even where
    nothing is evaluated before the end."""
    from gantransfer.engine.trainer import CHECKPOINT_EVERY

    class Crash(Callback):
        def on_step_end(self, trainer, losses):
            if trainer.step == CHECKPOINT_EVERY + 1:
                raise RuntimeError("the machine went down")

    config = _config(source_digits_npz, steps=CHECKPOINT_EVERY + 2, eval_every=0, batch_size=8,
                     generator_width=4, discriminator_width=4, feature_dim=8, latent_dim=4)
    with pytest.raises(RuntimeError, match="went down"):
        pretrain(config, tmp_path / "r", progress_bar=False, callbacks=[Crash()])
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["step"] == CHECKPOINT_EVERY
