"""Run folders through the command line: one kind of run per folder, the README's resume, runs that
failed before training, and temporaries that killed writes left behind."""

from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path

import pytest
import torch
import yaml

from gantransfer.cli.main import main
from gantransfer.engine.checkpoint import load_checkpoint
from gantransfer.training import pretrain as pretrain_module

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_command(fragment: str) -> list[str]:
    """The arguments of the README's example line that contains ``fragment`` (its comment left out)."""
    (line,) = [line for line in README.read_text().splitlines()
               if line.startswith("gantransfer ") and fragment in line]
    return shlex.split(line.split("#")[0])[1:]


def _weights(run: Path) -> dict:
    return load_checkpoint(run / "checkpoints" / "latest.pt")["modules"]


# -- one kind of run per folder ------------------------------------------------------------------

@pytest.mark.parametrize("written_by", ["this version", "an older version"])
def test_pretrain_refuses_a_folder_holding_a_transfer_run(written_by, transfer_run, digits_npz, one_line_error,
                                                          tree, tiny_gan_args):
    if written_by == "an older version":
        (transfer_run / "run.json").unlink()  # recognised by its metrics.json
    before = tree(transfer_run)
    for resume in ([], ["--resume"]):
        err = one_line_error(main(["pretrain", "--source", str(digits_npz), *tiny_gan_args, *resume,
                                   "--out", str(transfer_run), "--no-progress"]))
        assert f"{transfer_run} holds a transfer run, not a gan run: choose another folder" in err
    assert tree(transfer_run) == before


@pytest.mark.parametrize("written_by", ["this version", "an older version"])
def test_transfer_refuses_a_folder_holding_a_gan_run(written_by, gan_run, digits_npz, one_line_error, tree,
                                                     tiny_transfer_args):
    if written_by == "an older version":
        (gan_run / "run.json").unlink()  # recognised by its config.json
    before = tree(gan_run)
    err = one_line_error(main(["transfer", "--source", str(digits_npz), "--target", str(digits_npz),
                               *tiny_transfer_args, "--out", str(gan_run), "--no-progress"]))
    assert f"{gan_run} holds a gan run, not a transfer run" in err
    assert tree(gan_run) == before


def test_benchmark_refuses_a_folder_holding_a_transfer_run(transfer_run, digits_npz, tmp_path, one_line_error, tree):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"name": "g", "directions": [{"source": str(digits_npz), "target": str(digits_npz)}],
                                    "k": [1], "seeds": [0], "methods": ["target-only"]}))
    before = tree(transfer_run)
    err = one_line_error(main(["benchmark", str(grid), "--out", str(transfer_run), "--no-progress"]))
    assert f"{transfer_run} holds a transfer run, not a benchmark run" in err
    assert tree(transfer_run) == before


def test_run_folders_say_what_they_hold(gan_run, transfer_run):
    assert json.loads((gan_run / "run.json").read_text())["kind"] == "gan"
    assert json.loads((transfer_run / "run.json").read_text())["kind"] == "transfer"


# -- resume --------------------------------------------------------------------------------------

def test_the_readme_resume_command_continues_an_interrupted_run_exactly(tmp_path, digits_npz, monkeypatch, capsys,
                                                                         tiny_gan_args):
    first = ["pretrain", "--source", str(digits_npz), *tiny_gan_args, "--no-progress"]
    assert main([*first, "--out", str(tmp_path / "straight")]) == 0

    original = pretrain_module.GanTask.train_step
    calls = {"n": 0}

    def interrupting_step(self, progress):  # Ctrl-C during step 3: the trainer finishes it, saves and stops
        calls["n"] += 1
        if calls["n"] == 3:
            signal.raise_signal(signal.SIGINT)
        return original(self, progress)

    monkeypatch.setattr(pretrain_module.GanTask, "train_step", interrupting_step)
    assert main([*first, "--out", str(tmp_path / "runs" / "mnist-wgangp")]) == 130
    monkeypatch.setattr(pretrain_module.GanTask, "train_step", original)
    capsys.readouterr()

    resume = _readme_command("--resume")
    assert resume == ["pretrain", "--out", "runs/mnist-wgangp", "--resume"]
    monkeypatch.chdir(tmp_path)
    assert main(resume) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["step"] == 4 and not printed["interrupted"]
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "runs" / "mnist-wgangp")
    for network, tensors in straight.items():
        for name, tensor in tensors.items():
            assert torch.equal(tensor, resumed[network][name]), f"{network}.{name} differs"


def test_resume_takes_the_stored_options_a_larger_budget_and_refuses_changes(gan_run, capsys, one_line_error,
                                                                             tree):
    before = tree(gan_run)
    err = one_line_error(main(["pretrain", "--out", str(gan_run), "--resume", "--objective", "wgan", "--seed", "5",
                               "--no-progress"]))
    assert f"{gan_run}: cannot resume with a different config (changed: objective, seed)" in err
    assert tree(gan_run) == before
    # Repeating a stored option is fine, and the budget may grow.
    assert main(["pretrain", "--out", str(gan_run), "--resume", "--conditional", "--steps", "6", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 6


# -- runs refused before training ----------------------------------------------------------------

def test_a_transfer_refused_for_its_k_writes_nothing_and_the_corrected_command_runs(tmp_path, digits_npz,
                                                                                    one_line_error, tree,
                                                                                    tiny_transfer_args):
    command = ["transfer", "--source", str(digits_npz), "--target", str(digits_npz), *tiny_transfer_args,
               "--out", str(tmp_path / "run"), "--no-progress"]
    before = tree(tmp_path)
    err = one_line_error(main([*command, "--k", "600"]))
    assert "fewer than k = 600" in err
    assert tree(tmp_path) == before
    assert main(command) == 0


def test_a_transfer_refused_by_its_method_writes_nothing_and_the_corrected_command_runs(
        tmp_path, digits_npz, one_line_error, tree):
    # adda's check of init runs before any data is read or file written (Method.check).
    command = ["transfer", "--source", str(digits_npz), "--target", str(digits_npz), "--method", "adda", "--k", "0",
               "--training-steps", "2", "--training-batch-size", "8", "--source-training-steps", "2",
               "--source-training-batch-size", "8", "--classifier-width", "8", "--classifier-feature-dim", "16",
               "--stages-dir", str(tmp_path / "stages"), "--out", str(tmp_path / "run"), "--no-progress"]
    before = tree(tmp_path)
    err = one_line_error(main([*command, "--init", "random"]))
    assert "init must be 'source'" in err
    assert tree(tmp_path) == before
    assert main(command) == 0


# -- temporaries of killed writes ----------------------------------------------------------------

def test_resuming_removes_the_temporaries_of_killed_writes_and_nothing_else(gan_run, capsys):
    stale = [gan_run / "checkpoints" / ".latest.pt.k3j_x9q2.tmp", gan_run / ".config.json.abcdefgh.tmp",
             gan_run / "samples" / ".step_0000002.png.0a1b2c3d.tmp"]
    kept = [gan_run / "checkpoints" / ".latest.pt.tmp", gan_run / "notes.abcdefgh.tmp",
            gan_run / "checkpoints" / "mine.tmp"]
    for path in stale + kept:
        path.write_bytes(b"x" * 100)
    assert main(["pretrain", "--out", str(gan_run), "--resume", "--no-progress"]) == 0
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)

