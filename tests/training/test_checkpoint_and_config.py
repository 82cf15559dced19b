"""Checkpoint files, run folders and config parsing."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from gantransfer.config import from_dict, load_yaml, to_dict
from gantransfer.engine.checkpoint import load_checkpoint, save_checkpoint
from gantransfer.engine.run_folder import RunFolder
from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.training.pretrain import PretrainConfig


def test_checkpoint_round_trip_without_pickled_code(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"kind": "gan", "step": 3, "weights": {"w": torch.ones(2)}, "rng": torch.get_rng_state()})
    state = load_checkpoint(path, kind="gan")
    assert state["step"] == 3 and torch.equal(state["weights"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"], "no temporary file may be left behind"


def test_checkpoint_refuses_arbitrary_objects_and_wrong_kind(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "kind": "gan", "obj": argparse.Namespace(code="rm -rf")}, path)
    with pytest.raises(CheckpointError, match="evil.pt: not a file this library wrote") as refused:
        load_checkpoint(path)
    # One line, and never torch's advice to load it with pickling switched on.
    assert "weights_only" not in str(refused.value) and "\n" not in str(refused.value)
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"kind": "classifier"})
    with pytest.raises(CheckpointError, match="expected 'gan'"):
        load_checkpoint(good, kind="gan")


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"kind": "gan", "big": torch.zeros(10_000)})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="c.pt: not a readable"):
        load_checkpoint(path)


def test_failed_write_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"kind": "gan", "step": 1})
    with pytest.raises(Exception):  # a lambda cannot be pickled
        save_checkpoint(path, {"kind": "gan", "step": lambda: None})
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_config_round_trip_and_unknown_keys():
    config = PretrainConfig(objective="wgan-gp", conditional=True, steps=10)
    assert from_dict(PretrainConfig, to_dict(config)) == config
    with pytest.raises(ConfigError, match="unknown key 'objectiv'"):
        from_dict(PretrainConfig, {"objectiv": "wgan"})
    with pytest.raises(ConfigError, match="config.batch_size: expected an integer"):
        from_dict(PretrainConfig, {"batch_size": "64"})
    with pytest.raises(ConfigError, match="unknown objective"):
        from_dict(PretrainConfig, {"objective": "lsgan"})


def test_yaml_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("objective: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_yaml(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path / "none.yaml")


def test_run_folder_refuses_to_mix_runs(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.prepare({"objective": "minimax", "steps": 5}, resume=False)
    save_checkpoint(run.latest_checkpoint, {"kind": "gan"})
    with pytest.raises(ConfigError, match="already holds a run"):
        run.prepare({"objective": "minimax", "steps": 5}, resume=False)
    with pytest.raises(ConfigError, match="changed: objective"):
        run.prepare({"objective": "wgan", "steps": 5}, resume=True)
    run.prepare({"objective": "minimax", "steps": 50}, resume=True)  # a longer budget is fine
    assert json.loads(run.config_path.read_text())["steps"] == 50
