"""Every transfer run ends with validation scores (no target labels) in metrics.json and metrics.jsonl,
and says when its target predictions collapsed. Synthetic data only."""

from __future__ import annotations

import json
import numpy as np
import pytest
import torch

from gantransfer.cli.main import main
from gantransfer.methods import ClassifierOptions, Method, MethodPlan, TransferConfig, transfer
from gantransfer.methods.registry import METHODS
from gantransfer.models import Classifier
from gantransfer.training.supervised import ClassifierTraining


@pytest.fixture
def domains(tmp_path, make_digits):
    """A source folder with train.npz and test.npz, and a target .npz (one file: both splits)."""
    source = tmp_path / "source"
    source.mkdir()
    for split, seed in (("train", 0), ("test", 1)):
        x, y = make_digits(n=60, seed=seed)
        np.savez(source / f"{split}.npz", x=x, y=y)
    x, y = make_digits(n=40, seed=2)
    np.savez(tmp_path / "target.npz", x=255 - x, y=y)  # inverted: another domain
    return source, tmp_path / "target.npz"


def _config(source, target, **changes) -> TransferConfig:
    tiny = ClassifierTraining(steps=4, batch_size=16)
    settings = {"k": 1, "classifier": ClassifierOptions(8, 32), "training": tiny, "source_training": tiny, **changes}
    return TransferConfig(source=str(source), target=str(target), **settings)


def test_a_run_reports_its_validation_scores(domains, tmp_path):
    source, target = domains
    out = tmp_path / "run"
    metrics = transfer(_config(source, target, method="finetune"), out, stages_dir=tmp_path / "s", progress_bar=False)
    scores = metrics["validation_scores"]
    assert set(scores) == {"source_accuracy", "target_entropy", "information_maximization", "snd", "dev",
                           "labelled_target_train_accuracy"}
    assert all(isinstance(value, float) for value in scores.values()), scores
    # The target .npz is one file: 20 % of each class (one of its four images) is drawn as its test split.
    assert metrics["validation"]["images"] == {"target": 30, "source": 60, "labelled_target": 10}
    assert json.loads((out / "metrics.json").read_text())["validation_scores"] == scores
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if r["phase"] == "validation"]
    assert len(logged) == 1 and logged[0]["step"] == 4 and logged[0]["snd"] == scores["snd"]


def test_a_source_of_one_file_is_scored_on_its_drawn_test_split(domains, tmp_path):
    _, target = domains
    metrics = transfer(_config(target, target, method="source-only", k=0), tmp_path / "run",
                       stages_dir=tmp_path / "s", progress_bar=False)
    scores = metrics["validation_scores"]
    # The source classifier never trained on the drawn test images, so they score it.
    assert isinstance(scores["source_accuracy"], float) and isinstance(scores["dev"], float)
    assert metrics["validation"]["images"]["source"] == 10
    assert scores["labelled_target_train_accuracy"] is None  # k = 0
    assert isinstance(scores["information_maximization"], float)


def test_collapsed_predictions_are_reported(domains, tmp_path, monkeypatch, capsys):
    source, target = domains

    def build_constant(context):
        model = Classifier(context.config.classifier_config(context.data.num_classes)).eval()
        with torch.no_grad():
            model.head[1].weight.zero_()
            model.head[1].bias.copy_(torch.nn.functional.one_hot(torch.tensor(8), 10).float())
        return MethodPlan(model=model)

    monkeypatch.setitem(METHODS, "constant", Method("constant", build_constant, "random", "always 8"))
    out = tmp_path / "run"
    metrics = transfer(_config(source, target, method="constant"), out, stages_dir=tmp_path / "s",
                       progress_bar=False)
    assert metrics["prediction_collapse"] == {"class": "8", "fraction": 1.0, "threshold": pytest.approx(0.55)}
    err = capsys.readouterr().err
    assert "warning: the target predictions collapsed: class '8' takes 100.0 %" in err
    assert len([line for line in err.splitlines() if "warning" in line]) == 1

    # A source classifier trained a little longer, on a target like its source: no collapse, no warning.
    trained = ClassifierTraining(steps=30, batch_size=16)
    balanced = transfer(_config(source, source, method="source-only", k=0, source_training=trained), tmp_path / "ok",
                        stages_dir=tmp_path / "s", progress_bar=False)
    assert balanced["prediction_collapse"] is None and balanced["validation"]["largest_class_fraction"] < 0.55
    assert "warning" not in capsys.readouterr().err


def test_the_command_line_prints_the_scores(domains, tmp_path, capsys):
    source, target = domains
    code = main(["transfer", "--source", str(source), "--target", str(target), "--method", "source-only", "--k", "0",
                 "--source-training-steps", "3", "--classifier-width", "8", "--classifier-feature-dim", "16",
                 "--out", str(tmp_path / "run"), "--stages-dir", str(tmp_path / "s"), "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert printed["validation_scores"] == stored["validation_scores"] and "prediction_collapse" in printed


def test_pick_prefers_the_best_score_among_runs_that_did_not_collapse():
    from gantransfer.methods.auto import pick

    def run(im, dev, collapsed=False):
        return {"validation_scores": {"information_maximization": im, "dev": dev},
                "prediction_collapse": {"class": "1", "fraction": 0.9} if collapsed else None}

    results = {"a": run(1.0, 0.5), "b": run(2.0, 0.1, collapsed=True), "c": run(1.5, 0.3)}
    assert pick(results) == "c"
    assert pick(results, "dev") == "c", "lower is better for dev; b collapsed"
    assert pick({"a": run(1.0, 0.5, True), "b": run(2.0, 0.1, True)}) == "b", "all collapsed: best of all"


def test_auto_trains_the_candidates_keeps_the_pick_and_resumes(domains, tmp_path, monkeypatch):
    from gantransfer.methods.auto import SELECTION_SCORE, candidates
    from gantransfer.models.saving import load_classifier
    from gantransfer.training.supervised import ClassifierTask

    source, target = domains
    config = _config(source, target, method="auto")
    out = tmp_path / "auto"
    metrics = transfer(config, out, stages_dir=tmp_path / "s", progress_bar=False)
    names = [name for name, _, _ in candidates(1)]
    assert sorted(p.name for p in (out / "candidates").iterdir()) == sorted(names)
    runs = {name: json.loads((out / "candidates" / name / "metrics.json").read_text()) for name in names}
    assert all(run["target_test_accuracy"] is None for run in runs.values()), "candidates never read the test set"
    assert isinstance(metrics["target_test_accuracy"], float)
    healthy = [n for n in names if runs[n]["prediction_collapse"] is None] or names
    best = max(healthy, key=lambda n: runs[n]["validation_scores"][SELECTION_SCORE])
    assert metrics["notes"]["auto"]["picked"] == best
    kept = load_classifier(out / "classifier.safetensors").model.state_dict()
    winner = load_classifier(out / "candidates" / best / "classifier.safetensors").model.state_dict()
    assert all(torch.equal(kept[name], winner[name]) for name in kept)

    # Resumable: with the final files gone, a re-run trains nothing again and picks the same.
    (out / "metrics.json").unlink()
    steps = []
    real = ClassifierTask.train_step
    monkeypatch.setattr(ClassifierTask, "train_step",
                        lambda task, progress: steps.append(1) or real(task, progress))
    again = transfer(config, out, stages_dir=tmp_path / "s", progress_bar=False)
    assert steps == [] and again["notes"]["auto"] == metrics["notes"]["auto"]
