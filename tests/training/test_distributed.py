"""Data-parallel training under torchrun, and what names a stage whatever the speed options.

The two end-to-end tests start ``torchrun --nproc_per_node 2`` (gloo, CPU)
on the real ``pretrain`` and ``transfer`` commands and compare them with
single-process runs of the same configs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch import nn

import gantransfer
from gantransfer.config import to_dict
from gantransfer.data import BatchStream
from gantransfer.engine.acceleration import Acceleration
from gantransfer.engine.checkpoint import load_checkpoint
from gantransfer.engine.distributed import DistributedContext, setup
from gantransfer.engine.identity import comparable, config_changes
from gantransfer.errors import ConfigError
from gantransfer.methods import TransferConfig, transfer
from gantransfer.models.wrappers import unwrap
from gantransfer.training.pretrain import PretrainConfig, pretrain

# --- one process: the context changes nothing ---------------------------------------------------


def test_without_torchrun_the_context_is_one_process_on_the_asked_device(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = setup("cpu")
    assert (context.rank, context.world_size, context.is_main, context.enabled) == (0, 1, True, False)
    assert context.device == torch.device("cpu") and not torch.distributed.is_initialized()
    network = nn.Linear(2, 2)
    assert context.wrap(network) is network
    assert context.broadcast({"a": 1}) == {"a": 1} and context.any(True) and not context.any(False)
    assert context.mean({"loss": 2.5}) == {"loss": 2.5}
    data = torch.arange(50).float()
    mine, plain = context.stream((data,), 8, seed=4), BatchStream((data,), 8, seed=4)
    for _ in range(9):
        assert torch.equal(next(mine)[0], next(plain)[0])


def test_global_batch_must_split_evenly():
    assert DistributedContext(rank=1, world_size=4).shard(64) == 16
    with pytest.raises(ConfigError, match="does not split evenly over 3 processes: use a multiple of 3"):
        DistributedContext(rank=0, world_size=3).shard(64)


def test_rank_streams_are_slices_of_the_single_process_stream():
    data = torch.arange(30).float()
    ranks = [DistributedContext(rank=r, world_size=3).stream((data,), 12, seed=1) for r in range(3)]
    single = BatchStream((data,), 12, seed=1)
    for _ in range(7):  # crosses epoch boundaries
        assert torch.equal(torch.cat([next(stream)[0] for stream in ranks]), next(single)[0])
    assert ranks[2].state_dict() == single.state_dict(), "the stream state is global, so any N can resume it"


def test_per_step_seeds_differ_between_ranks_and_repeat():
    def draw(rank, step):
        DistributedContext(rank=rank, world_size=2).seed_step(7, step)
        return torch.rand(4)

    assert not torch.equal(draw(0, 5), draw(1, 5))
    assert not torch.equal(draw(0, 5), draw(0, 6))
    assert torch.equal(draw(1, 5), draw(1, 5))


def test_unwrap_reaches_the_network_inside_torch_compile():
    network = nn.Linear(3, 1)
    assert unwrap(network) is network
    wrapped = torch.compile(network)  # compiles lazily: nothing runs here
    assert unwrap(wrapped) is network
    assert set(unwrap(wrapped).state_dict()) == {"weight", "bias"}


def test_config_comparison_fills_what_a_stored_config_leaves_out():
    current = to_dict(TransferConfig(seed=0))
    # A hand-written or shortened file: options left out hold their defaults; the named device
    # counts as auto where auto goes.
    stored = {key: value for key, value in current.items() if key not in ("validation_per_class", "acceleration")}
    stored["acceleration"] = {"device": "cpu", "compile": True}
    stored["gan"] = {k: v for k, v in stored["gan"].items() if k != "acceleration"}
    assert config_changes(stored, current, TransferConfig) == []
    assert config_changes({**stored, "seed": 1}, current, TransferConfig) == ["seed"]
    assert config_changes(stored, to_dict(TransferConfig(validation_per_class=5)), TransferConfig) == ["validation_per_class"]
    # Without the dataclass, a key only one side has is a change.
    assert config_changes({"seed": 0, "old": 1}, {"seed": 0}) == ["old"]
    assert config_changes({"a": {"b": 1}}, {"a": {"b": 2}}) == ["a.b"]


def _identity(**acceleration):
    return comparable(to_dict(PretrainConfig(acceleration=Acceleration(**acceleration))))


def test_stage_names_ignore_speed_only_options():
    base = _identity()
    assert "precision" not in base and "compile" not in base and "channels_last" not in base
    assert "acceleration" not in base and base["device"] == "auto"
    assert _identity(compile=True, channels_last=True) == base
    assert _identity(precision="fp16")["precision"] == "fp16"


def test_stage_names_do_not_depend_on_how_the_same_device_was_asked_for(monkeypatch):
    assert _identity(device="cpu") == _identity(device="auto")
    # Where auto would take a GPU, asking for the CPU names another stage.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _identity(device="cpu")["device"] == "cpu"
    assert _identity(device="cuda")["device"] == "auto"


def test_stage_names_of_the_default_source_gan_are_those_of_the_flat_layout():
    # Stages cached before the device options were one nested config keep their names.
    from gantransfer.engine.stage_cache import stage_key

    flat = {k: v for k, v in to_dict(PretrainConfig()).items() if k != "acceleration"} | {"device": "auto"}
    assert stage_key("source-gan", _identity()) == stage_key("source-gan", flat)


def _tiny_gan(source, **overrides):
    base = dict(source=str(source), conditional=True, steps=4, batch_size=16, eval_every=0, quality_samples=0,
                generator_width=8, discriminator_width=8, feature_dim=16, latent_dim=8, seed=3)
    return PretrainConfig(**{**base, **overrides})


# --- two processes under torchrun ------------------------------------------------------------------


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 -m gantransfer.cli.main ARGS`` on the CPU."""
    env = dict(os.environ)
    source_root = str(Path(gantransfer.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env["OMP_NUM_THREADS"] = "1"
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "gantransfer.cli.main", *args, "--device", "cpu", "--no-progress"]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"torchrun failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
    return done


@pytest.mark.slow
def test_pretrain_on_two_processes_resumes_across_process_counts(source_digits_npz, tmp_path):
    """1 process trains 6 steps; 2 processes resume it to 12; 1 process resumes that to 18."""
    config = _tiny_gan(source_digits_npz, objective="wgan-gp", steps=6, batch_size=32, eval_every=6)
    pretrain(config, tmp_path / "single", progress_bar=False)
    shutil.copytree(tmp_path / "single", tmp_path / "mixed")
    pretrain(replace(config, steps=12), tmp_path / "single", resume=True, progress_bar=False)

    options = yaml.safe_dump({k: v for k, v in to_dict(config).items() if v is not None})
    (tmp_path / "gan.yaml").write_text(options)
    done = _torchrun(["pretrain", "--out", "mixed", "--config", "gan.yaml", "--steps", "12", "--resume"], tmp_path)
    printed = json.loads(done.stdout)  # rank 0 alone prints: exactly one JSON document
    assert printed["step"] == 12 and not printed["interrupted"]

    run = tmp_path / "mixed"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["phase"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 12, "one rank logs, without repeats"
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000006.png", "step_0000012.png"]
    two = load_checkpoint(run / "checkpoints" / "latest.pt")
    one = load_checkpoint(tmp_path / "single" / "checkpoints" / "latest.pt")
    assert two["step"] == 12
    assert two["task_state"] == one["task_state"], "2 processes consumed exactly the single process's global batches"
    # Agreement: the noise differs per rank, so weights differ, but the losses of steps 7-12 agree
    # (2 processes: the mean over both) far closer than they moved since step 6.
    single = [json.loads(line) for line in (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()]
    at6, at12 = (next(r for r in single if r["step"] == s and r["phase"] == "train") for s in (6, 12))
    mixed12 = next(r for r in records if r["step"] == 12 and r["phase"] == "train")
    for key in ("d_adversarial", "gradient_penalty", "real_score", "fake_score", "g_loss"):
        tolerance = 0.1 + 0.05 * abs(at12[key])
        assert abs(mixed12[key] - at12[key]) < tolerance, (key, mixed12[key], at12[key])
    assert abs(at12["d_adversarial"] - at6["d_adversarial"]) > 3 * (0.1 + 0.05 * abs(at12["d_adversarial"]))

    # And back to one process.
    result = pretrain(replace(config, steps=18), run, resume=True, progress_bar=False)
    assert result.step == 18 and load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 18


@pytest.mark.slow
@pytest.mark.parametrize("method", ["finetune", "dann"])
def test_transfer_on_two_processes_matches_one_process(source_digits_npz, target_digits_npz, tmp_path, method):
    """Without noise or BatchNorm, 2 processes on halves of each batch equal 1 process up to rounding
    (dann: its domain discriminator, a second network, is averaged over processes too)."""
    # SGD, unlike Adam, would also notice gradients summed instead of averaged over processes.
    training = {"steps": 8, "batch_size": 16, "augment": {"degrees": 0.0, "translate": 0.0, "scale": 0.0},
                "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}
    settings = {
        "source": str(source_digits_npz), "target": str(target_digits_npz), "method": method, "k": 2,
        "classifier": {"width": 8, "feature_dim": 32, "norm": "layer"},
        "training": training, "source_training": training,
    }
    (tmp_path / "transfer.yaml").write_text(yaml.safe_dump(settings))
    done = _torchrun(["transfer", "--out", "two", "--config", "transfer.yaml", "--stages-dir", "stages2"], tmp_path)
    printed = json.loads(done.stdout)
    assert printed["method"] == method

    from gantransfer.config import from_dict

    single = transfer(from_dict(TransferConfig, settings), tmp_path / "one", stages_dir=tmp_path / "stages1",
                      progress_bar=False)
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["target_test_accuracy"] == single["target_test_accuracy"] == printed["target_test_accuracy"]
    (stage,) = (tmp_path / "stages2").iterdir()  # the source-classifier stage, trained once by both ranks
    for folder in (stage, tmp_path / "two"):
        a = load_file(tmp_path / ("stages1/" + stage.name if folder == stage else "one") / "classifier.safetensors")
        b = load_file(folder / "classifier.safetensors")
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-5)
