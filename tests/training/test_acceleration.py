"""The speed options on the CPU: bf16 autocast, channels-last, fused optimisers and ``torch.compile``
(falling back to eager when compiling fails); each repeats exactly under a seed."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from gantransfer.cli.options import add_config_arguments, config_from_args
from gantransfer.config import from_dict
from gantransfer.engine.acceleration import Acceleration, CompiledOrEager, MixedPrecision, autocast_dtype, compiled
from gantransfer.engine.checkpoint import load_checkpoint
from gantransfer.errors import ConfigError
from gantransfer.methods import ClassifierOptions, TransferConfig, transfer
from gantransfer.models.wrappers import unwrap
from gantransfer.objectives.optim import OptimizerConfig
from gantransfer.training.pretrain import PretrainConfig, pretrain
from gantransfer.training.supervised import ClassifierTraining

CPU = torch.device("cpu")


def test_precision_on_the_cpu():
    with pytest.raises(ConfigError, match="precision must be one of"):
        Acceleration(precision="fp8")
    with pytest.raises(ConfigError, match="precision must be one of"):
        from_dict(TransferConfig, {"acceleration": {"precision": "half"}})
    with pytest.raises(ConfigError, match="device must be one of"):
        from_dict(PretrainConfig, {"acceleration": {"device": "gpu"}})
    assert autocast_dtype("auto", CPU) is None and autocast_dtype("fp32", CPU) is None, "auto is fp32 on the CPU"
    assert autocast_dtype("bf16", CPU) == torch.bfloat16
    with pytest.raises(ConfigError, match="'fp16' is for CUDA GPUs: on the CPU use bf16 or fp32"):
        MixedPrecision("fp16", CPU)
    assert not MixedPrecision("bf16", CPU).scaled, "bfloat16 has float32's range: nothing to scale"


def test_switches_take_auto_and_the_old_true_false():
    assert Acceleration() == Acceleration("auto", "auto", "auto", "auto")
    fast = Acceleration()
    assert fast.uses_channels_last("cpu") and not fast.uses_channels_last("cuda") and not fast.uses_channels_last("mps")
    assert Acceleration(channels_last=True).uses_channels_last("cuda")
    assert not fast.uses_compile("cpu") and not fast.uses_compile("cuda"), "auto: compiling measured no gain"
    assert Acceleration(compile=True).uses_compile("cpu") and not Acceleration(compile=True).uses_compile("mps")
    assert not Acceleration(channels_last=False).uses_channels_last("cpu")
    assert from_dict(TransferConfig, {"acceleration": {"channels_last": True, "compile": False}}).acceleration \
        == Acceleration(channels_last=True, compile=False), "a file written for the old on/off options still reads"
    with pytest.raises(ConfigError, match="compile must be true, false or auto, got 'fast'"):
        from_dict(TransferConfig, {"acceleration": {"compile": "fast"}})

    parser = argparse.ArgumentParser(exit_on_error=False)
    add_config_arguments(parser, TransferConfig)
    parse = lambda *flags: config_from_args(TransferConfig, parser.parse_args(list(flags))).acceleration
    assert parse("--channels-last").channels_last is True, "the bare flag still turns it on"
    assert parse("--channels-last", "off", "--compile", "on") == Acceleration(channels_last=False, compile=True)
    assert parse("--compile", "auto") == Acceleration()
    with pytest.raises(argparse.ArgumentError, match="expected auto, on or off, got 'maybe'"):
        parser.parse_args(["--compile", "maybe"])


def test_optimisers_take_the_fused_kernels_where_every_parameter_allows():
    network = nn.Linear(3, 2)
    assert OptimizerConfig("adam").build(network.parameters()).defaults["fused"] is True
    assert OptimizerConfig("sgd").build([{"params": network.parameters(), "lr": 0.1}]).defaults["fused"] is True
    assert OptimizerConfig("rmsprop").build(network.parameters()).defaults.get("fused") is None
    frozen_integers = [nn.Parameter(torch.zeros(2, dtype=torch.int64), requires_grad=False)]
    assert OptimizerConfig("sgd").build([*network.parameters(), *frozen_integers]).defaults["fused"] is None


def _tiny_gan(source, **overrides):
    base = dict(source=str(source), conditional=True, steps=4, batch_size=16, eval_every=0, quality_samples=0,
                generator_width=8, discriminator_width=8, feature_dim=16, latent_dim=8, seed=3)
    return PretrainConfig(**{**base, **overrides})


def _gan_weights(folder):
    return load_checkpoint(folder / "checkpoints" / "latest.pt")["modules"]


@pytest.mark.parametrize("objective", ["minimax", "wgan-gp"])
def test_channels_last_repeats_exactly_and_moves_only_the_last_bits(source_digits_npz, tmp_path, objective):
    runs = {"plain": Acceleration("cpu", channels_last=False), "nhwc": Acceleration("cpu", channels_last=True),
            "again": Acceleration("cpu", channels_last=True)}
    for name, acceleration in runs.items():
        pretrain(_tiny_gan(source_digits_npz, objective=objective, acceleration=acceleration), tmp_path / name,
                 progress_bar=False)
    plain, nhwc, again = (_gan_weights(tmp_path / name) for name in runs)
    for network in plain:
        for name, tensor in plain[network].items():
            assert torch.equal(nhwc[network][name], again[network][name]), f"{network}.{name} does not repeat"
            assert torch.allclose(tensor.float(), nhwc[network][name].float(), atol=1e-4), f"{network}.{name}"


def _tiny_transfer(source, target, **acceleration):
    return TransferConfig(
        source=str(source), target=str(target), method="target-only", k=2,
        classifier=ClassifierOptions(width=8, feature_dim=16), training=ClassifierTraining(steps=4, batch_size=16),
        acceleration=Acceleration("cpu", **acceleration),
    )


def _classifier_weights(folder):
    return load_file(folder / "classifier.safetensors")


def test_bf16_on_the_cpu_trains_repeats_and_is_not_fp32(source_digits_npz, target_digits_npz, tmp_path):
    for name, precision in (("fp32", "fp32"), ("bf16", "bf16"), ("again", "bf16")):
        transfer(_tiny_transfer(source_digits_npz, target_digits_npz, precision=precision), tmp_path / name,
                 stages_dir=tmp_path / "stages", progress_bar=False)
    fp32, bf16, again = (_classifier_weights(tmp_path / name) for name in ("fp32", "bf16", "again"))
    assert all(torch.equal(bf16[key], again[key]) for key in bf16)
    assert all(torch.isfinite(tensor).all() for tensor in bf16.values())
    assert any(not torch.equal(fp32[key], bf16[key]) for key in fp32), "bf16 autocast ran"


def test_compile_that_fails_trains_eagerly_after_one_notice(source_digits_npz, target_digits_npz, tmp_path,
                                                             monkeypatch, capsys):
    def failing_compile(module, **options):
        def call(*args, **kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\n\nmore detail")
        return call

    monkeypatch.setattr(torch, "compile", failing_compile)
    transfer(_tiny_transfer(source_digits_npz, target_digits_npz), tmp_path / "eager",
             stages_dir=tmp_path / "stages", progress_bar=False)
    capsys.readouterr()
    transfer(_tiny_transfer(source_digits_npz, target_digits_npz, compile=True), tmp_path / "fallback",
             stages_dir=tmp_path / "stages", progress_bar=False)
    notices = [line for line in capsys.readouterr().err.splitlines() if "torch.compile" in line]
    assert notices == ["gantransfer: torch.compile failed (RuntimeError: InvalidCxxCompiler: No working C++ "
                       "compiler found): training eagerly"]
    eager, fallback = _classifier_weights(tmp_path / "eager"), _classifier_weights(tmp_path / "fallback")
    assert all(torch.equal(eager[key], fallback[key]) for key in eager)


def test_the_compiled_wrapper_keeps_one_copy_of_the_parameters(restores_determinism):
    network = nn.Linear(3, 1)
    wrapper = compiled(network, Acceleration(compile=True), CPU)
    assert isinstance(wrapper, CompiledOrEager) and unwrap(wrapper) is network
    assert set(wrapper.state_dict()) == {"eager.weight", "eager.bias"} and len(list(wrapper.parameters())) == 2
    assert compiled(network, Acceleration(), CPU) is network


@pytest.fixture
def restores_determinism():
    """A compiled CPU run turns on deterministic algorithms for the process: turned back after the test."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])


@pytest.mark.slow  # compiling takes about half a minute
def test_a_compiled_cpu_run_trains_and_resumes_exactly(source_digits_npz, tmp_path, restores_determinism):
    config = _tiny_gan(source_digits_npz, steps=6,
                       acceleration=Acceleration("cpu", compile=True))
    pretrain(config, tmp_path / "straight", progress_bar=False)
    pretrain(replace(config, steps=3), tmp_path / "resumed", progress_bar=False)
    result = pretrain(config, tmp_path / "resumed", resume=True, progress_bar=False)
    assert result.step == 6
    straight, resumed = _gan_weights(tmp_path / "straight"), _gan_weights(tmp_path / "resumed")
    for network in straight:
        for name, tensor in straight[network].items():
            assert torch.equal(tensor, resumed[network][name]), f"{network}.{name} differs after resuming"
    eager = _tiny_gan(source_digits_npz, steps=6, acceleration=Acceleration("cpu", compile=False))
    pretrain(eager, tmp_path / "eager", progress_bar=False)
    plain = _gan_weights(tmp_path / "eager")
    assert all(torch.allclose(plain["generator"][k].float(), straight["generator"][k].float(), atol=1e-3)
               for k in plain["generator"]), "compiled and eager training agree to float rounding"


def test_a_bf16_source_classifier_is_a_stage_of_its_own(source_digits_npz, target_digits_npz, tmp_path):
    def run(name, **acceleration):
        config = replace(_tiny_transfer(source_digits_npz, target_digits_npz, **acceleration), method="source-only",
                         source_training=ClassifierTraining(steps=3, batch_size=16))
        transfer(config, tmp_path / name, stages_dir=tmp_path / "stages", progress_bar=False)
        stages = (tmp_path / "stages").iterdir()
        return sorted(path.name for path in stages if path.name.startswith("source-classifier"))

    first = run("auto")
    assert len(first) == 1
    assert len(run("bf16", precision="bf16")) == 2, "bf16 reused the fp32 source classifier"
    assert run("auto-again") == run("bf16-again", precision="bf16"), "each precision finds its own stage again"
