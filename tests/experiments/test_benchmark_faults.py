"""Faults of the machine a benchmark runs on: a full disk at each place the library writes, a stage
cache nobody may write, and a process the kernel kills mid-cell. Each stops in one line (or not at
all), leaves nothing inconsistent, and the rerun ends with the numbers and weights of a run that never
failed.

Every file the library writes goes through :mod:`gantransfer.fileio` (atomic replacement of
checkpoints, stage weights, markers, metrics, results and reports; appends to ``metrics.jsonl``), so
faults are injected there, as the kernel would raise them.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import yaml

from gantransfer import fileio
from gantransfer.cli.main import main
from gantransfer.fileio import is_temporary
from test_benchmark import TINY

pytestmark = pytest.mark.slow


class FailingWrites:
    """Stands in for ``fileio``'s ``os`` and ``open``: counts the library's writes and fails with
    ``OSError(code)`` the ``fail_at``-th one (1-based; 0: none) and every one under ``read_only``,
    recording which function of the library asked for each."""

    def __init__(self, fail_at: int = 0, code: int = errno.ENOSPC, read_only: Path | None = None):
        self.fail_at, self.code, self.read_only = fail_at, code, read_only
        self.sites: list[str] = []

    def _write(self, path) -> None:
        self.sites.append(_caller())
        if len(self.sites) == self.fail_at or (self.read_only is not None and self.read_only in Path(path).parents):
            raise OSError(self.code, os.strerror(self.code), str(path))

    def replace(self, source, destination) -> None:  # fileio.os.replace: an atomic write's last step
        self._write(destination)
        os.replace(source, destination)

    def __getattr__(self, name):  # the rest of fileio.os
        return getattr(os, name)

    def open(self, path, mode="r", *args, **kwargs):  # fileio.open: appends, locks
        if set(mode) & set("wax+"):
            self._write(path)
        return open(path, mode, *args, **kwargs)


def _caller() -> str:
    """``module:function`` of the innermost frame outside fileio (and this file) that led to a write."""
    for frame in reversed(traceback.extract_stack()):
        if "gantransfer" in frame.filename and not frame.filename.endswith("fileio.py"):
            return f"{Path(frame.filename).stem}:{frame.name}"
    return "?"


def _benchmark(config: Path, out: Path, monkeypatch, writes: FailingWrites | None = None, *extra: str) -> int:
    with monkeypatch.context() as patch:
        if writes is not None:
            patch.setattr(fileio, "os", writes)
            patch.setattr(fileio, "open", writes.open, raising=False)
        return main(["benchmark", str(config), "--out", str(out), "--no-progress", *extra])


def _outcome(out: Path) -> dict[str, object]:
    """What a finished benchmark computed: each cell's results line (less its clock) and the hash of
    every weights file in the folder (cells and stages)."""
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for line in lines:
        line.pop("wall_seconds"), line.pop("machine")
    weights = {str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in sorted(out.rglob("*.safetensors")) if "stages" not in path.parts}
    return {"results": lines, "weights": weights}


def _stage_weights(stages: Path) -> dict[str, str]:
    return {str(path.relative_to(stages)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(stages.rglob("*.safetensors"))}


@pytest.fixture
def grid(source_digits_npz, target_digits_npz, tmp_path) -> Path:
    """Two cells on a shared source stage, checkpoints every other step: each kind of write happens."""
    settings = copy.deepcopy(TINY)
    settings["training"]["eval_every"] = 2
    settings["source_training"]["eval_every"] = 2
    grid = {"name": "faults", "directions": [{"source": str(source_digits_npz), "target": str(target_digits_npz)}],
            "k": [2], "seeds": [0], "defaults": settings,
            "methods": [{"method": "source-only", "k": [0]}, "finetune"]}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


@pytest.fixture
def clean_run(grid, tmp_path, monkeypatch):
    """The grid run once without a fault: its folder, its outcome and the writes it made, in order."""
    writes = FailingWrites()
    assert _benchmark(grid, tmp_path / "clean", monkeypatch, writes) == 0
    return tmp_path / "clean", _outcome(tmp_path / "clean"), writes.sites


def test_a_full_disk_at_each_write_site_stops_in_one_line_and_the_rerun_ends_as_if_it_never_happened(
        grid, clean_run, tmp_path, monkeypatch, capsys):
    _, expected, sites = clean_run
    first_write_of_each_site: dict[str, int] = {}
    for index, site in enumerate(sites, 1):
        first_write_of_each_site.setdefault(site, index)
    # Each kind of file a run writes is among them: checkpoints, stage weights and markers, the metrics
    # log, results, figures and the report.
    assert {"checkpoint:save_checkpoint", "saving:save_classifier", "stage_cache:train_once", "logger:log",
            "results:write_results", "report:render_report"} <= set(first_write_of_each_site), sorted(sites)
    capsys.readouterr()

    for site, index in first_write_of_each_site.items():
        out = tmp_path / f"full-at-{index}"
        assert _benchmark(grid, out, monkeypatch, FailingWrites(fail_at=index)) == 2, site
        printed = capsys.readouterr().err
        error = printed.strip().splitlines()[-1]  # above it: the notices a run prints as it starts
        assert error.startswith("gantransfer benchmark: error: ") and "No space left on device" in error, site
        assert "Traceback" not in printed and printed.count("error") == 1, (site, printed)
        assert not [path for path in out.rglob("*") if is_temporary(path)], f"{site}: a temporary file was left"
        for line in (out / "results.jsonl").read_text().splitlines() if (out / "results.jsonl").exists() else []:
            assert (out / "cells" / json.loads(line)["cell"] / "metrics.json").is_file(), site
        # Space freed: the same command finishes, with the numbers and weights of the clean run.
        assert _benchmark(grid, out, monkeypatch) == 0, site
        capsys.readouterr()
        assert _outcome(out) == expected, site


def test_a_read_only_stage_cache_serves_its_finished_stages_and_refuses_to_train_new_ones(
        grid, clean_run, tmp_path, monkeypatch, capsys):
    clean, expected, _ = clean_run
    stages = clean / "stages"
    before = _stage_weights(stages)
    read_only = FailingWrites(code=errno.EROFS, read_only=stages)
    out = tmp_path / "shared-stages"
    assert _benchmark(grid, out, monkeypatch, read_only, "--stages-dir", str(stages)) == 0
    assert _outcome(out) == expected and _stage_weights(stages) == before
    capsys.readouterr()

    # A stage the cache does not hold cannot be trained there: one line says so and what to do.
    original = grid.read_text()
    changed = yaml.safe_load(original)
    changed["defaults"]["source_training"]["steps"] = 5
    grid.write_text(yaml.safe_dump(changed))
    assert _benchmark(grid, tmp_path / "new-stage", monkeypatch, read_only, "--stages-dir", str(stages)) == 2
    printed = capsys.readouterr().err
    assert "Traceback" not in printed and printed.count("error") == 1
    error = printed.strip().splitlines()[-1]
    assert "is not trained there and the folder cannot be written" in error and "Read-only file system" in error
    assert "--stages-dir" in error and _stage_weights(stages) == before

    # A damaged stage in it is named, not trained again over the read-only files, nor used.
    (weights,) = [path for path in stages.rglob("*.safetensors")]
    weights.write_bytes(weights.read_bytes()[:-10])
    grid.write_text(original)
    assert _benchmark(grid, tmp_path / "damaged", monkeypatch, read_only, "--stages-dir", str(stages)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "is damaged" in error and weights.name in error and "cannot be written" in error


def test_a_benchmark_killed_mid_cell_under_nice_resumes_to_the_numbers_of_a_run_never_killed(
        grid, clean_run, tmp_path, monkeypatch):
    """The kernel's out-of-memory killer sends SIGKILL: nothing runs after it, as with ``kill -9``."""
    _, expected, _ = clean_run
    out = tmp_path / "killed"
    script = (
        "import os, signal, sys\n"
        "from gantransfer.cli.main import main\n"
        "from gantransfer.training import supervised\n"
        "step = supervised.ClassifierTask.train_step\n"
        "calls = []\n"
        "def dying_step(task, progress):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 9:  # the finetune cell's third step, after the source stage's six\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return step(task, progress)\n"
        "supervised.ClassifierTask.train_step = dying_step\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    command = ["nice", "-n", "10", sys.executable, "-c", script, "benchmark", str(grid), "--out", str(out),
               "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == -signal.SIGKILL, result.stderr
    finetune = out / "cells" / "source300-target200" / "finetune" / "k2" / "seed0"
    assert (finetune / "checkpoints" / "latest.pt").is_file() and not (finetune / "metrics.json").exists()
    assert _benchmark(grid, out, monkeypatch) == 0
    assert _outcome(out) == expected
