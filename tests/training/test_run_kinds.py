"""Run folders: their kinds (recorded, or recognised in folders of older versions), and runs that failed
before training."""

from __future__ import annotations

import json

import pytest

from gantransfer.errors import ConfigError
from gantransfer.training.checkpoint import save_checkpoint
from gantransfer.training.run_folder import RunFolder
from gantransfer.training.run_kinds import check_folder, folder_kind, record_kind


@pytest.mark.parametrize("files, kind", [
    ({"benchmark.json": {"name": "g"}, "results.jsonl": None}, "benchmark"),
    ({"metrics.json": {"target_test_accuracy": 0.9}, "config.json": {"method": "finetune"}}, "transfer"),
    ({"config.json": {"method": "finetune"}}, "transfer"),  # a transfer stopped before it finished
    ({"config.json": {"objective": "minimax", "class_names": ["0", "1"]}}, "gan"),
    ({"config.json": {"source": "mnist", "classifier": {}}, "done.json": {}}, "stage"),
    ({"unrelated.txt": None}, None),
])
def test_folders_of_older_versions_are_recognised_by_their_files(tmp_path, files, kind):
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content) if content is not None else "text")
    assert folder_kind(tmp_path) == kind


def test_a_gan_checkpoint_without_its_config_is_still_a_gan_run(tmp_path):
    save_checkpoint(tmp_path / "checkpoints" / "latest.pt", {"kind": "gan"})
    assert folder_kind(tmp_path) == "gan"


def test_the_recorded_kind_decides_and_is_written_once(tmp_path):
    record_kind(tmp_path / "run", "benchmark")
    record_kind(tmp_path / "run", "benchmark")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["kind"] == "benchmark"
    check_folder(tmp_path / "run", "benchmark")
    with pytest.raises(ConfigError, match="holds a benchmark run, not a gan run"):
        check_folder(tmp_path / "run", "gan")
    (tmp_path / "run" / "run.json").write_text("[]")
    with pytest.raises(ConfigError, match="run.json: says no kind of run"):
        folder_kind(tmp_path / "run")


def test_a_run_that_failed_before_training_does_not_hold_its_folder(tmp_path):
    # A bad option found after config.json was written (e.g. inside a method) leaves only the config:
    # the corrected command may use the folder. Once anything else is there, the config must match.
    run = RunFolder(tmp_path / "run")
    run.prepare({"objective": "minimax", "seed": 0}, resume=True, kind="gan")
    run.prepare({"objective": "wgan", "seed": 0}, resume=True, kind="gan")
    assert json.loads(run.config_path.read_text())["objective"] == "wgan"
    run.metrics_path.write_text('{"step": 1}\n')
    with pytest.raises(ConfigError, match="changed: objective"):
        run.prepare({"objective": "minimax", "seed": 0}, resume=True, kind="gan")


def test_a_stored_config_that_is_not_json_is_one_line(tmp_path):
    run = RunFolder(tmp_path)
    save_checkpoint(run.latest_checkpoint, {"kind": "gan"})
    run.config_path.write_text('{"objective": ')
    with pytest.raises(ConfigError, match=r"config.json: not valid JSON \(line 1\)"):
        run.prepare({"objective": "minimax"}, resume=True)
