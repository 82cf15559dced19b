"""Run folders through the command line: one kind of run per folder, and runs that failed before training."""

from __future__ import annotations

import json

import pytest
import yaml

from gantransfer.cli.main import main


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
