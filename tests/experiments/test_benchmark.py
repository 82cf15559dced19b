"""The benchmark runner end to end on tiny synthetic digits: results, report, resume, errors, trackers."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import signal
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gantransfer.cli.main import main
from gantransfer.data import DataOptions
from gantransfer.errors import ConfigError
from gantransfer.experiments import load_benchmark, run_benchmark, runner
from gantransfer.experiments.tracking import Trackers
from gantransfer.fileio import file_lock
from gantransfer.training.supervised import ClassifierTask

REPO = Path(__file__).resolve().parents[2]

# Networks small enough to train in seconds (as in tests/methods/test_methods.py).
TINY = {
    "classifier": {"width": 8, "feature_dim": 32},
    "training": {"steps": 6, "batch_size": 16},
    "source_training": {"steps": 6, "batch_size": 16},
    "teacher": {"batch_size": 16},
    "gan": {"conditional": True, "steps": 4, "batch_size": 16, "generator_width": 8, "discriminator_width": 8,
            "feature_dim": 32, "latent_dim": 8, "quality_samples": 0},
}


@pytest.fixture
def tiny_grid(source_digits_npz, target_digits_npz, tmp_path):
    """A two-cell grid (source-only at k=0, finetune at k=2, seed 0) as a YAML file."""
    grid = {
        "name": "tiny",
        "directions": [{"source": str(source_digits_npz), "target": str(target_digits_npz)}],
        "k": [2],
        "seeds": [0],
        "defaults": copy.deepcopy(TINY),
        "methods": [{"method": "source-only", "k": [0]}, "finetune"],
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path, grid


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tiny_grid_runs_end_to_end_and_writes_results_and_report(tiny_grid, tmp_path, capsys):
    config, _ = tiny_grid
    out = tmp_path / "bench"
    started = time.time()
    assert main(["benchmark", str(config), "--out", str(out), "--no-progress"]) == 0
    elapsed = time.time() - started
    printed = capsys.readouterr().out
    assert "[1/2] source300-target200/source-only/k0/seed0: running" in printed
    assert "[2/2] source300-target200/finetune/k2/seed0: accuracy" in printed

    lines = _lines(out / "results.jsonl")
    assert [line["cell"] for line in lines] == ["source300-target200/source-only/k0/seed0",
                                                "source300-target200/finetune/k2/seed0"]
    for line in lines:
        cell = out / "cells" / line["cell"]
        assert line["target_test_accuracy"] == json.loads((cell / "metrics.json").read_text())["target_test_accuracy"]
        assert line["wall_seconds"] > 0 and "CPU cores" in line["machine"]
    # Each cell's own clock (rounded to 0.1 s); the cells ran one after the other inside this call.
    assert sum(line["wall_seconds"] for line in lines) <= elapsed + 0.05 * len(lines)
    # The shared source classifier was trained once, inside the benchmark folder.
    assert len(list((out / "stages").glob("source-classifier-*"))) == 1

    report = (out / "report.md").read_text()
    assert "| finetune | labelled images only |" in report and "| source-only |" in report
    finetune = lines[1]["target_test_accuracy"]
    assert f"{100 * finetune:.1f}" in report
    page = (out / "report.html").read_text()
    assert "<table>" in page and "http://" not in page and "https://" not in page  # nothing fetched
    pictures = [line.split("](")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]
    names = " ".join(pictures)
    assert "accuracy_vs_k" in names and "confusion_" in names and "embedding_" in names
    for picture in pictures:
        assert Image.open(out / picture).format == "PNG"
        assert f'src="{picture}"' in page
    # The t-SNE map is cached in the cell, so re-rendering does not recompute it.
    assert (out / "cells" / lines[1]["cell"] / "embedding_tsne.png").is_file()
    # TensorBoard: one HParams run per finished cell.
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))


def test_interrupted_benchmark_resumes_without_recomputing_finished_cells(tiny_grid, tmp_path, monkeypatch):
    config, grid_dict = tiny_grid
    grid = load_benchmark(config)
    out = tmp_path / "bench"
    real_transfer, real_step = runner.transfer, ClassifierTask.train_step
    steps = {"n": 0}

    def counting_step(task, progress):
        steps["n"] += 1
        return real_step(task, progress)

    def interrupting_transfer(config, *args, **kwargs):
        if config.method == "finetune":  # Ctrl-C in the middle of the second cell's training
            def step(task, progress):
                steps["n"] += 1
                if steps["n"] == 3:
                    os.kill(os.getpid(), signal.SIGINT)
                return real_step(task, progress)
            monkeypatch.setattr(ClassifierTask, "train_step", step)
        return real_transfer(config, *args, **kwargs)

    monkeypatch.setattr(runner, "transfer", interrupting_transfer)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(grid, out, progress_bar=False, report=False, log=lambda line: None)
    first = out / "cells" / "source300-target200/source-only/k0/seed0"
    second = out / "cells" / "source300-target200/finetune/k2/seed0"
    assert (first / "metrics.json").is_file() and not (second / "metrics.json").is_file()
    assert (second / "checkpoints" / "latest.pt").is_file(), "the interrupted cell saved where it stopped"
    finished_at = (first / "metrics.json").stat().st_mtime_ns
    assert len(_lines(out / "results.jsonl")) == 1
    with open(out / "results.jsonl", "a") as handle:  # as if killed while appending a line
        handle.write('{"cell": "torn')

    calls = []

    def counting_transfer(config, *args, **kwargs):
        calls.append(config.method)
        return real_transfer(config, *args, **kwargs)

    monkeypatch.setattr(runner, "transfer", counting_transfer)
    monkeypatch.setattr(ClassifierTask, "train_step", counting_step)
    steps["n"] = 0
    records = run_benchmark(grid, out, progress_bar=False, report=False, log=lambda line: None)
    assert calls == ["finetune"], "the finished cell must not run again"
    assert steps["n"] == grid_dict["defaults"]["training"]["steps"] - 3, "the half-finished cell resumed at step 3"
    assert (first / "metrics.json").stat().st_mtime_ns == finished_at
    lines = _lines(out / "results.jsonl")
    assert [line["cell"] for line in lines] == [r["cell"] for r in records] and len(lines) == 2

    # A later edit of the grid that changes a finished cell's config is refused before anything runs.
    grid_dict["defaults"]["training"]["steps"] = 7
    config.write_text(yaml.safe_dump(grid_dict))
    with pytest.raises(Exception, match=r"another config \(changed: training\.steps\)"):
        run_benchmark(load_benchmark(config), out, progress_bar=False, report=False, log=lambda line: None)


def test_a_cell_stopped_before_its_first_checkpoint_restarts_cleanly(tmp_path):
    folder = tmp_path / "cell"
    (folder / "tensorboard").mkdir(parents=True)
    (folder / "metrics.jsonl").write_text('{"step": 50}\n')
    assert runner.clear_unresumable(folder)
    assert not (folder / "metrics.jsonl").exists() and not (folder / "tensorboard").exists()
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "latest.pt").write_bytes(b"x")
    (folder / "metrics.jsonl").write_text('{"step": 50}\n')
    assert not runner.clear_unresumable(folder), "a resumable cell keeps its log"


def _write_results(path: Path, lines: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_report_renders_from_a_hand_written_results_file(tmp_path, capsys):
    out = tmp_path / "study"
    lines = [
        {"source": "mnist", "target": "usps", "method": "finetune", "k": 10, "seed": s, "target_test_accuracy": a,
         "wall_seconds": 10.0}
        for s, a in ((0, 0.90), (1, 0.92), (2, 0.94))
    ] + [
        {"source": "mnist", "target": "usps", "method": "finetune", "k": 1, "seed": 0, "target_test_accuracy": 0.8},
        {"source": "mnist", "target": "usps", "method": "source-only", "k": 0, "seed": 0,
         "target_test_accuracy": 0.75, "self_train": True, "confusion_matrix": [[3, 1], [0, 4]]},
        {"source": "mnist", "target": "usps", "method": "oracle", "k": 0, "seed": 0, "target_test_accuracy": 0.96},
    ]
    _write_results(out / "results.jsonl", lines)
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    # finetune at k=10: mean 92.0, sample std 2.0 over three seeds; k=1 has one seed.
    assert "| finetune | labelled images only |  | 80.0 (n=1) | 92.0 ± 2.0 |  | 10s |" in report
    assert "| source-only-self-train | with unlabelled target images |" in report
    assert "96.0 (n=1)" in report and "all labels" in report
    # Published numbers appear in their own, marked table, not in ours.
    ours, published = report.split("Reference numbers", 1)
    assert "ADDA" not in ours and "89.4" in published and "not produced by this run" in published
    assert (out / "figures" / "accuracy_vs_k_mnist-usps.png").is_file()
    assert (out / "figures" / "confusion_mnist-usps_source-only-self-train_k0.png").is_file()
    assert "classifier file is not there" in report  # t-SNE skipped with a note, not a crash
    assert (out / "report.html").is_file()


@pytest.mark.parametrize("line, message", [
    ({"method": "finetune", "seed": 0, "target_test_accuracy": 0.9}, "line 1: missing key 'k'"),
    ({"method": "finetune", "k": 1, "seed": 0, "target_test_accuracy": 91.0}, "a fraction in [0, 1]"),
])
def test_a_bad_results_line_is_a_one_line_error(tmp_path, capsys, line, message):
    _write_results(tmp_path / "results.jsonl", [line])
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("edit, message", [
    (lambda g: g["methods"].append({"method": "finetune", "label": "ft2", "options": {"training": {"stepz": 3}}}),
     "methods[2].options.training: unknown key 'stepz'"),
    (lambda g: g["methods"].append("dann-typo"), "methods[2].method: unknown method 'dann-typo'"),
    (lambda g: g.update(k="ten"), "k: expected integers >= 0, got 'ten'"),
    (lambda g: g["defaults"].update(seed=3), "defaults.seed: set per cell by the grid; use seeds instead"),
    (lambda g: g.update(metods=[]), "unknown key 'metods'"),
    (lambda g: g["methods"].append("finetune"), "'finetune' appears twice"),
    (lambda g: g["defaults"]["training"].update(steps="many"), "defaults.training.steps: expected an integer"),
])
def test_a_broken_config_is_a_one_line_error_naming_the_key(tiny_grid, tmp_path, capsys, edit, message):
    path, grid = tiny_grid
    edit(grid)
    path.write_text(yaml.safe_dump(grid))
    assert main(["benchmark", str(path), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1 and str(path) in err
    assert not (tmp_path / "never").exists()


def test_shipped_configs_load_and_cover_the_protocol(capsys):
    quick = load_benchmark(REPO / "examples" / "mnist_usps_quick.yaml")
    assert 4 <= len(quick.cells()) <= 16
    full = load_benchmark(REPO / "examples" / "mnist_usps_full.yaml")
    directions = {(d.source, d.target) for d in full.directions}
    assert directions == {("mnist", "usps"), ("usps", "mnist")} and full.seeds == (0, 1, 2)
    methods = {m.method for m in full.methods}
    assert {"source-only", "target-only", "finetune", "oracle"} <= methods
    assert any(True in m.self_train for m in full.methods if m.method == "source-only"), "self-training alone"
    assert {1, 5, 10} <= set(full.k)
    assert main(["benchmark", str(REPO / "examples" / "mnist_usps_quick.yaml"), "--out", "unused", "--dry-run"]) == 0
    assert f"{len(quick.cells())} cells; nothing run" in capsys.readouterr().out


def _dotted(options: dict, prefix: str = "") -> list[str]:
    """The dotted keys of a nested options mapping: ``{"a": {"b": 1}}`` -> ``["a.b"]``."""
    keys = []
    for key, value in options.items():
        keys += _dotted(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]
    return keys


ZOOM = ("training.augment.scale", "source_training.augment.scale", "teacher.augment.scale")
#: the geometric augmentation switched off for every classifier of a run (the MNIST -> MNIST-M-style choice)
NO_AFFINE = {f"{group}.augment.{name}": 0.0 for group in ("source_training", "training", "teacher")
             for name in ("degrees", "translate", "scale")}


@pytest.mark.parametrize(
    ("name", "settings", "directions"),
    [
        ("mnist_usps_long.yaml", {"stage_seed": 0, "training.steps": 4000, **dict.fromkeys(ZOOM, 0.3)},
         {"mnist-usps", "usps-mnist"}),
        ("mnist_usps_kshot_long.yaml", {"stage_seed": 0, "training.steps": 4000}, {"mnist-usps"}),
        ("mnist_usps_scores.yaml", {"stage_seed": 0}, {"mnist-usps", "usps-mnist"}),
        ("mnist_mnistm.yaml", {"stage_seed": 0, "channels": 3, "translation.skip": True}, {"mnist-mnist-m"}),
        ("mnist_mnistm_quick.yaml", {"stage_seed": 0, "channels": 3, "source_training.steps": 1000,
                                     "training.steps": 400, "translation.steps": 500,
                                     "translation.content_weight": 10.0, "translation.task_weight": 1.0,
                                     "translation.semantic_weight": 0.0, **NO_AFFINE}, {"mnist-mnist-m"}),
        ("mnist_mnistm_recipe.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 100, **NO_AFFINE},
         {"mnist-mnist-m"}),
        ("mnist_mnistm_recipe_gan.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 100, **NO_AFFINE,
                                          "translation.content_weight": 10.0, "translation.task_weight": 1.0,
                                          "translation.semantic_weight": 0.0}, {"mnist-mnist-m"}),
        ("appearance_shift_pairs.yaml", {"stage_seed": 0, "translation.skip": True},
         {"synth-digits-mnist", "mnist-m-mnist"}),
        ("mnist_mnistm_fewshot.yaml", {"stage_seed": 0, "channels": 3, "unlabelled_target": False,
                                       "translation.skip": True, "translation.diff_augment": True},
         {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/1_start_choice.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 10},
         {"mnist-mnist-m"}),
        # (its translation.skip: false is the default, written out for the reader)
        ("mnist_mnistm_translators/2_free_start.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 10},
         {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/3_content_choice.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 10},
         {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/4_content_choice_wider.yaml",
         {"stage_seed": 0, "channels": 3, "validation_per_class": 10}, {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/5_content_chosen.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 10,
                                              "translation.content_weight": 10.0}, {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/6_noise_choice.yaml", {"stage_seed": 0, "channels": 3, "validation_per_class": 10,
                                             "translation.content_weight": 10.0, "translation.noise": 10},
         {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/7_longer_translation.yaml",
         {"stage_seed": 0, "channels": 3, "validation_per_class": 10, "translation.content_weight": 10.0,
          "translation.steps": 4000, "translation.eval_every": 1000}, {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/8_task_classifier_choice.yaml",
         {"stage_seed": 0, "channels": 3, "validation_per_class": 10, "translation.content_weight": 10.0,
          "translation.task_weight": 1.0}, {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/9_task_classifier_round_2.yaml",
         {"stage_seed": 0, "channels": 3, "validation_per_class": 10, "translation.content_weight": 10.0,
          "translation.semantic_weight": 0.0}, {"mnist-mnist-m"}),
        ("mnist_mnistm_translators/10_task_classifier_chosen.yaml",
         {"stage_seed": 0, "channels": 3, "validation_per_class": 10, "translation.content_weight": 10.0,
          "translation.semantic_weight": 0.0, "translation.task_weight": 1.0}, {"mnist-mnist-m"}),
        ("synth_digits_translators/1_choice.yaml", {"stage_seed": 0, "validation_per_class": 10},
         {"synth-digits-mnist"}),
        ("synth_digits_mnist_long.yaml", {"stage_seed": 0, "training.steps": 4000, "translation.skip": True},
         {"synth-digits-mnist"}),
    ],
)
def test_grids_change_only_their_documented_settings_for_every_cell(name, settings, directions):
    from gantransfer.config import to_dict
    from gantransfer.engine.identity import config_changes
    from gantransfer.experiments.grid import GRID_KEYS
    from gantransfer.methods import TransferConfig

    grid = load_benchmark(REPO / "examples" / name)
    row_options = {entry.name: set(_dotted(entry.options)) for entry in grid.methods}
    for cell in grid.cells():
        config = to_dict(cell.config)
        plain = to_dict(TransferConfig(**{key: config[key] for key in GRID_KEYS}))
        changed = set(config_changes(plain, config))
        # The protocol: one set of hyper-parameters for both directions, every seed and every method;
        # a row's own options (source replay, say) are what the row is about.
        own = row_options[cell.variant.removesuffix("-self-train")]
        # (a row that sets one of the grid's settings, the translators' start say, is about that setting)
        assert changed - own == set(settings) - own, cell.id
        for dotted, value in settings.items():
            part = config
            for key in dotted.split("."):
                part = part[key]
            assert part == value or dotted in own, (cell.id, dotted)
    assert {c.direction for c in grid.cells()} == directions


def test_wandb_missing_is_a_one_line_error(tiny_grid, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    path, _ = tiny_grid
    assert main(["benchmark", str(path), "--out", str(tmp_path / "b"), "--wandb"]) == 2
    assert "pip install 'gantransfer[wandb]'" in capsys.readouterr().err


def test_wandb_gets_each_cell_offline_by_default(tmp_path, monkeypatch):
    calls = []

    class Run:
        def log(self, values):
            calls.append(("log", values))

        def finish(self):
            calls.append(("finish",))

    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: calls.append(("init", kwargs)) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    record = {"cell": "a-b/finetune/k1/seed0", "direction": "a-b", "variant": "finetune", "method": "finetune",
              "k": 1, "seed": 0, "target_test_accuracy": 0.5, "wall_seconds": 2.0,
              "per_class_accuracy": {"0": 1.0, "1": 0.0}, "config": {"k": 1},
              "validation_scores": {"snd": 3.5, "dev": None}}
    trackers = Trackers(tmp_path, "tiny", wandb_project="proj")
    trackers.cell_finished(record)
    monkeypatch.setenv("WANDB_MODE", "online")
    trackers.cell_finished({**record, "cell": "a-b/finetune/k1/seed1", "seed": 1})
    trackers.close()
    inits = [c[1] for c in calls if c[0] == "init"]
    assert [i["mode"] for i in inits] == ["offline", "online"]
    assert inits[0]["dir"] == str(tmp_path) and inits[0]["project"] == "proj" and inits[0]["group"] == "tiny"
    assert inits[0]["config"]["k"] == 1 and inits[0]["config"]["transfer"] == {"k": 1}
    logged = [c[1] for c in calls if c[0] == "log"]
    assert logged[0]["target_test_accuracy"] == 0.5 and logged[0]["per_class_accuracy/1"] == 0.0
    assert logged[0]["validation_scores/snd"] == 3.5 and "validation_scores/dev" not in logged[0]
    assert [c[0] for c in calls].count("finish") == 2


def test_a_snapshot_of_the_results_continues_the_benchmark_elsewhere(tiny_grid, tmp_path, capsys):
    """benchmarks/snapshot.py: the committed results make a fresh folder skip the finished cells."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import snapshot
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    config, _ = tiny_grid
    first = tmp_path / "first"
    assert main(["benchmark", str(config), "--out", str(first), "--no-progress"]) == 0
    kept = tmp_path / "kept"
    assert snapshot.save(first, kept) == 2
    assert (kept / "report.md").is_file() and not list(kept.glob("**/*.safetensors"))

    again = tmp_path / "again"
    assert snapshot.restore(kept, again) == 2
    capsys.readouterr()
    assert main(["benchmark", str(config), "--out", str(again), "--no-progress", "--no-report"]) == 0
    assert "2 cells, 2 finished earlier" in capsys.readouterr().out
    assert not (again / "stages").exists() or not list((again / "stages").iterdir())  # nothing trained
    assert _lines(again / "results.jsonl") == _lines(first / "results.jsonl")


def test_a_cell_another_process_is_running_is_left_to_it_and_taken_up_after(tiny_grid, tmp_path):
    config, _ = tiny_grid
    grid = load_benchmark(config)
    out = tmp_path / "out"
    first, second = grid.cells()
    lines = []
    with file_lock(runner.claim_path(out, first)):  # as a second process running the first cell would
        records = run_benchmark(grid, out, progress_bar=False, report=False, log=lines.append)
    assert [r["cell"] for r in records] == [second.id]
    assert f"[1/2] {first.id}: running in another process; taking the next cell" in lines
    assert any("1 cells still running in other processes" in line for line in lines)
    assert not (out / "cells" / first.id / "metrics.json").exists()
    assert [line["cell"] for line in _lines(out / "results.jsonl")] == [second.id]

    # Once that process is gone (killed: the system drops its lock), the next run takes the cell up.
    lines.clear()
    records = run_benchmark(grid, out, progress_bar=False, report=False, log=lines.append)
    assert [r["cell"] for r in records] == [first.id, second.id]
    assert [line["cell"] for line in _lines(out / "results.jsonl")] == [first.id, second.id]
    assert not any("another process" in line for line in lines)


def test_a_cell_whose_stage_another_process_trains_is_put_off_until_the_later_cells_ran(tiny_grid, tmp_path):
    _, grid_dict = tiny_grid
    grid_dict = {**copy.deepcopy(grid_dict), "methods": ["source-only", "target-only"]}  # target-only: no stage
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump(grid_dict))
    grid = load_benchmark(config)
    stages = tmp_path / "stages"
    # The source classifier stage's folder name, from a run of the first cell alone; then emptied,
    # as a stage is while another process has only begun to train it.
    runner.run_cell(grid.cells()[0], tmp_path / "scratch", DataOptions(), stages, progress_bar=False)
    (folder,) = stages.iterdir()
    shutil.rmtree(folder)

    first, second = grid.cells()
    lines = []
    with contextlib.ExitStack() as other_process:
        other_process.enter_context(file_lock(folder / ".lock"))

        def log(line):
            lines.append(line)
            if line.startswith(f"[2/2] {second.id}: accuracy"):
                other_process.close()  # that process is gone; its stage is this one's to train

        records = run_benchmark(grid, tmp_path / "out", stages_dir=stages, progress_bar=False, report=False,
                                log=log)
    assert [r["cell"] for r in records] == [first.id, second.id]
    busy = f"[1/2] {first.id}: another process is training its stage {folder.name}; taking the next cell"
    order = [next(i for i, line in enumerate(lines) if line.startswith(text))
             for text in (busy, f"[2/2] {second.id}: accuracy", f"[1/2] {first.id}: accuracy")]
    assert order == sorted(order)
    assert (folder / "done.json").is_file()


def test_a_grid_is_not_continued_on_other_images_than_its_finished_cells_read(tiny_grid, tmp_path):
    _, grid_dict = tiny_grid
    source = tmp_path / "mine" / "source300.npz"  # the same cell names, in a file this test may change
    source.parent.mkdir()
    shutil.copy(grid_dict["directions"][0]["source"], source)
    grid_dict = copy.deepcopy(grid_dict)
    grid_dict["directions"][0]["source"] = str(source)
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump(grid_dict))
    out = tmp_path / "out"
    first = run_benchmark(load_benchmark(config), out, progress_bar=False, report=False, log=lambda line: None)
    assert first[0]["packages"]["torch"] == torch.__version__  # what the numbers were made with
    (out / "cells" / first[1]["cell"] / "metrics.json").unlink()  # the second cell is to run again

    with np.load(source) as stored:
        x, y = stored["x"].copy(), stored["y"]
    x[0] = 255 - x[0]  # one image edited: the domain is no longer the one the first cell read
    np.savez(source, x=x, y=y)
    with pytest.raises(ConfigError, match=r"finished cells read other images than the domains hold now: "
                                          rf"{source} was .* in 1 finished cells \({first[0]['cell']}\)"):
        run_benchmark(load_benchmark(config), out, progress_bar=False, report=False, log=lambda line: None)


def test_a_cell_finished_meanwhile_by_another_process_is_not_run_again(tiny_grid, tmp_path, monkeypatch):
    config, _ = tiny_grid
    grid = load_benchmark(config)
    done = tmp_path / "done"
    run_benchmark(grid, done, progress_bar=False, report=False, log=lambda line: None)

    out = tmp_path / "out"
    real_run_cell, ran = runner.run_cell, []

    def run_cell_while_another_process_finishes_the_next(cell, out_folder, *args):
        ran.append(cell.id)
        record = real_run_cell(cell, out_folder, *args)
        finetune = "source300-target200/finetune/k2/seed0"
        shutil.copytree(done / "cells" / finetune, out_folder / "cells" / finetune)
        return record

    monkeypatch.setattr(runner, "run_cell", run_cell_while_another_process_finishes_the_next)
    records = run_benchmark(grid, out, progress_bar=False, report=False, log=lambda line: None)
    assert ran == ["source300-target200/source-only/k0/seed0"]
    assert [r["cell"] for r in records] == [r["cell"] for r in _lines(done / "results.jsonl")]


def test_the_source_free_gain_pairs_each_cell_with_its_real_source_and_no_replay_runs(monkeypatch):
    """benchmarks/source_free_gain.py on hand-written lines: counterparts found by config, seeds matched."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import source_free_gain

    def line(accuracy, seed, source_weight=0.0, source_free=False, method="finetune", k=10):
        config = {"method": method, "k": k, "seed": seed, "source_weight": source_weight}
        if source_free:
            config["source_free"] = True  # committed cells of earlier grids do not write it out
        return {"variant": f"{method}-{source_weight}-{source_free}", "k": k, "config": config,
                "target_test_accuracy": accuracy}

    records = [line(0.90, 0), line(0.92, 1), line(0.95, 0, 1.0), line(0.97, 1, 1.0),
               line(0.94, 0, 1.0, True), line(0.95, 1, 1.0, True), line(0.99, 2, 1.0, True),  # seed 2: alone
               line(0.80, 0, method="pixel-da"), line(0.81, 0, source_free=True, method="pixel-da"),
               # k = 0: DANN adapts from the source batches; without them it is the source classifier
               line(0.20, 0, method="source-only", k=0), line(0.50, 0, method="dann", k=0),
               line(0.44, 0, source_free=True, method="dann", k=0),
               line(0.30, 0, method="cycada", k=0), line(0.31, 0, source_free=True, method="cycada", k=0),
               line(0.60, 0, method="adda", k=0), line(0.55, 0, source_free=True, method="adda", k=0),
               line(0.70, 0, method="source-only", k=0, source_weight=0.5)]  # another config: not adda's
    replay, pixel_da, dann, cycada, adda = source_free_gain.gains(records)
    assert replay["seeds"] == [0, 1]
    assert replay["none"] == pytest.approx(91.0) and replay["real"] == pytest.approx(96.0)
    assert replay["generated"] == pytest.approx(94.5) and replay["kept"] == pytest.approx(0.7)
    # pixel-da at k = 10 replays nothing; without source images it is finetune, which beats it: no gain
    assert pixel_da["seeds"] == [0] and pixel_da["none"] == pytest.approx(90.0)
    assert pixel_da["real"] == pytest.approx(80.0) and pixel_da["kept"] is None
    assert dann["none"] == pytest.approx(20.0) and dann["real_gain"] == pytest.approx(30.0)
    assert dann["kept"] == pytest.approx(0.8)
    assert cycada["kept"] == pytest.approx(1.1)
    assert adda["kept"] == pytest.approx(35 / 40)
    assert replay["row"] == "finetune-1.0-True k=10"
    named = [{**record, "direction": "a-b"} for record in records]  # a grid of several pairs names each row's
    assert source_free_gain.gains(named)[0]["row"] == "a-b: finetune-1.0-True k=10"


def test_a_grid_at_one_k_gets_bars_not_a_plot_against_k(tmp_path):
    out = tmp_path / "one-k"
    _write_results(out / "results.jsonl", [
        {"source": "mnist", "target": "usps", "method": method, "k": 0, "seed": seed, "target_test_accuracy": accuracy}
        for method, accuracy in (("source-only", 0.7), ("dann", 0.8), ("oracle", 0.95)) for seed in (0, 1)])
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "Accuracy against k" not in report and not (out / "figures" / "accuracy_vs_k_mnist-usps.png").exists()
    assert "### Accuracy by method" in report
    assert "| source-only | source labels only |" in report and "| oracle | every target train label |" in report
    assert Image.open(out / "figures" / "accuracy_mnist-usps.png").format == "PNG"
