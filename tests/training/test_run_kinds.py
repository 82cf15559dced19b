"""Run folders: their kinds (recorded, or recognised in folders of older versions), runs that failed
before training, and the temporaries that killed atomic writes leave."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gantransfer.engine.checkpoint import save_checkpoint
from gantransfer.engine.run_folder import RunFolder
from gantransfer.engine.run_kinds import check_folder, folder_kind, record_kind
from gantransfer.errors import ConfigError
from gantransfer.fileio import is_temporary, remove_stale_temporaries


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


def test_a_write_killed_midway_leaves_a_temporary_that_only_it_matches(tmp_path):
    target = tmp_path / "checkpoints" / "latest.pt"
    killed = ("import os, signal, sys\nfrom gantransfer.fileio import atomic_write\n"
              "def write(tmp):\n    open(tmp, 'w').write('half a checkpoint')\n    os.kill(os.getpid(), signal.SIGKILL)\n"
              "atomic_write(sys.argv[1], write)\n")
    result = subprocess.run([sys.executable, "-c", killed, str(target)], capture_output=True)
    assert result.returncode == -9
    (left,) = list(target.parent.iterdir())
    assert is_temporary(left) and left.name.startswith(".latest.pt.")
    others = [".latest.pt.tmp", "latest.pt", "mine.abcdefgh.tmp", ".latest.pt.abcdefgh.tmp.keep",
              ".latest.pt.ABCDEFGH.tmp", ".latest.pt.abcdefg.tmp"]
    for name in others:
        (target.parent / name).write_text("not ours")
    (target.parent / ".folder.abcdefgh.tmp").mkdir()
    (target.parent / ".link.abcdefgh.tmp").symlink_to(target.parent / "latest.pt")

    assert remove_stale_temporaries(target.parent) == [left]
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(others + [".folder.abcdefgh.tmp",
                                                                               ".link.abcdefgh.tmp"])


def test_preparing_a_run_clears_stale_temporaries_in_its_own_folders(tmp_path):
    run = RunFolder(tmp_path / "run")
    stale = [run.root / ".metrics.jsonl.abcdefgh.tmp", run.checkpoints / ".latest.pt.x1y2z3w4.tmp",
             run.samples / ".step_0000010.png.q_w_e_r_.tmp"]
    elsewhere = run.root / "target_gan" / ".latest.pt.x1y2z3w4.tmp"  # another run's folder: left to that run
    for path in stale + [elsewhere]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    run.prepare({"seed": 0}, resume=True)
    assert not any(path.exists() for path in stale) and elsewhere.exists()
