"""The scikit-learn facade on in-memory arrays, and the lazy top-level API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from gantransfer.errors import ConfigError, DataError

# Networks and budgets small enough to fit in seconds.
TINY = dict(classifier_width=8, classifier_feature_dim=32, training_steps=3, training_batch_size=16,
            source_training_steps=3, source_training_batch_size=16, teacher_batch_size=16,
            progress_bar=False)


@pytest.fixture
def arrays(make_digits):
    """Source (60 labelled images), target (40 images, inverted) and its true labels."""
    x_source, y_source = make_digits(n=60, seed=0)
    x_target, y_target = make_digits(n=40, seed=1)
    return x_source, y_source, 255 - x_target, y_target


def _one_label_per_class(y: np.ndarray) -> np.ndarray:
    partial = np.full_like(y, -1)
    partial[:10] = y[:10]  # the first ten images are one of each class
    return partial


def test_fit_predict_save_load_on_arrays(arrays, tmp_path):
    from gantransfer import GanTransfer

    x_source, y_source, x_target, y_target = arrays
    model = GanTransfer("finetune", **TINY).fit(x_target, _one_label_per_class(y_target), source=(x_source, y_source))
    assert model.metrics_["k"] == 1 and model.metrics_["target_test_accuracy"] is None  # arrays: no test split
    scores = model.metrics_["validation_scores"]
    assert model.metrics_["validation"]["images"] == {"target": 40, "source": 6, "labelled_target": 10}
    assert isinstance(scores["source_accuracy"], float) and isinstance(scores["labelled_target_train_accuracy"], float)

    predicted = model.predict(x_target)
    assert predicted.shape == (40,) and predicted.dtype == np.int64 and set(predicted) <= set(range(10))
    probabilities = model.predict_proba(x_target)
    assert probabilities.shape == (40, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(probabilities.argmax(axis=1), predicted)
    assert model.transform(x_target).shape == (40, 32)
    assert model.score(x_target, y_target) == pytest.approx(float(np.mean(predicted == y_target)))
    # Other layouts and types of the same images give the same predictions.
    assert np.array_equal(model.predict(x_target[..., None]), predicted)  # N x H x W x C
    assert np.array_equal(model.predict(torch.from_numpy(x_target / 255.0).float()[:, None]), predicted)

    path = model.save(tmp_path / "model.safetensors")
    loaded = GanTransfer.load(path)
    assert np.array_equal(loaded.predict(x_target), predicted)
    assert np.allclose(loaded.predict_proba(x_target), probabilities)
    assert loaded.get_params() == model.get_params()
    assert loaded.metrics_["validation_scores"] == scores and loaded.class_names_ == model.class_names_


def test_fit_on_domain_paths_reads_their_test_splits(make_digits, tmp_path):
    from gantransfer import GanTransfer

    for name, seeds in (("source", (0, 1)), ("target", (2, 3))):
        (tmp_path / name).mkdir()
        for split, seed in zip(("train", "test"), seeds):
            x, y = make_digits(n=30, seed=seed)
            np.savez(tmp_path / name / f"{split}.npz", x=x, y=y)
    model = GanTransfer("source-only", **TINY).fit(str(tmp_path / "target"), source=tmp_path / "source")
    metrics = model.metrics_
    assert metrics["k"] == 0 and isinstance(metrics["target_test_accuracy"], float)
    assert metrics["validation"]["images"] == {"target": 30, "source": 30}  # the source's own test split


def test_params_follow_scikit_learn_conventions():
    from gantransfer import GanTransfer

    model = GanTransfer("dann", training_steps=5, self_train=True)
    params = model.get_params()
    assert params["method"] == "dann" and params["training_steps"] == 5 and params["self_train"] is True
    assert params["training_optimizer_betas"] == (0.9, 0.999) and params["out"] is None
    assert not {"source", "target", "k"} & set(params)
    model.set_params(training_steps=7, feature_alignment_domain_weight=0.5)
    config = model.transfer_config()
    assert config.training.steps == 7 and config.method == "dann"
    assert config.options.feature_alignment.domain_weight == 0.5
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert "training_steps=7" in repr(model)
    with pytest.raises(TypeError, match="unexpected parameter 'trainig_steps'"):
        GanTransfer(trainig_steps=3)
    with pytest.raises(ValueError):
        model.set_params(trainig_steps=3)
    with pytest.raises(ConfigError, match=r"GanTransfer\.training\.steps: expected an integer"):
        GanTransfer(training_steps="many").transfer_config()


def test_grid_search_picks_with_a_validation_score(arrays):
    from gantransfer import GanTransfer, validation_scorer

    x_source, y_source, x_target, _ = arrays
    everything = np.arange(len(x_target))
    search = GridSearchCV(GanTransfer("source-only", **TINY), {"self_train": [False, True]},
                          scoring=validation_scorer("information_maximization"), cv=[(everything, everything)])
    search.fit(x_target, source=(x_source, y_source))
    # The search's scores are the score of each candidate fitted on its own (runs are seeded).
    alone = GanTransfer("source-only", **{**TINY, "self_train": True}).fit(x_target, source=(x_source, y_source))
    expected = alone.validation_scores(x_target)["information_maximization"]
    assert search.cv_results_["mean_test_score"][1] == pytest.approx(expected)
    best = int(np.argmax(search.cv_results_["mean_test_score"]))
    assert search.best_params_ == {"self_train": [False, True][best]}
    # A lower-is-better score is negated, so that scikit-learn's "greater is better" holds.
    assert validation_scorer("dev")(alone, x_target) == pytest.approx(-alone.validation_scores(x_target)["dev"])


def test_bad_input_is_a_one_line_error(arrays):
    from gantransfer import GanTransfer

    x_source, y_source, x_target, y_target = arrays
    model = GanTransfer("oracle", **TINY)
    with pytest.raises(DataError, match=r"y: expected 40 integer labels"):
        model.fit(x_target, y_target[:5], source=(x_source, y_source))
    with pytest.raises(DataError, match=r"y: labels must lie in \[0, 9\] or be -1"):
        model.fit(x_target, y_target + 5, source=(x_source, y_source))
    with pytest.raises(ConfigError, match="'oracle' trains on every target label"):
        model.fit(x_target, _one_label_per_class(y_target), source=(x_source, y_source))
    with pytest.raises(DataError, match="source: expected a domain name, a path, or a pair"):
        model.fit(x_target, source=x_source)
    with pytest.raises(ConfigError, match="unknown validation score 'accuracy'"):
        from gantransfer import validation_scorer

        validation_scorer("accuracy")


def test_import_gantransfer_is_lazy():
    # A fresh interpreter: this one has imported everything already. (That a name, once used,
    # is the real object is test_the_main_api_is_exposed.)
    import gantransfer

    code = ("import sys, gantransfer\n"
            "print('GanTransfer' in dir(gantransfer), sorted(m for m in sys.modules if m.startswith('gantransfer')),"
            " 'torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(gantransfer.__file__).parents[1])}  # this checkout's package
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "True ['gantransfer'] False"


def test_the_main_api_is_exposed():
    import gantransfer
    from gantransfer.data import register_domain
    from gantransfer.methods import TransferConfig, register_method, transfer
    from gantransfer.models.saving import load_classifier
    from gantransfer.prediction import predict_files
    from gantransfer.training.pretrain import PretrainConfig, pretrain

    expected = {"transfer": transfer, "pretrain": pretrain, "TransferConfig": TransferConfig,
                "PretrainConfig": PretrainConfig, "load_classifier": load_classifier,
                "predict_files": predict_files, "register_domain": register_domain,
                "register_method": register_method}
    for name, value in expected.items():
        assert getattr(gantransfer, name) is value and name in dir(gantransfer)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gantransfer.nope


def test_a_changed_source_file_trains_a_new_source_stage(tmp_path, make_digits):
    from gantransfer import GanTransfer

    x, y = make_digits(n=60, seed=0)
    source = tmp_path / "source.npz"
    np.savez(source, x=x, y=y)
    stages = tmp_path / "stages"
    model = GanTransfer("source-only", **TINY, stages_dir=str(stages))
    model.fit(str(source), source=str(source))
    x[:, :4] = 255 - x[:, :4]  # the same path, other images
    np.savez(source, x=x, y=y)
    model.fit(str(source), source=str(source))
    assert len(list(stages.glob("source-classifier-*"))) == 2, "the stage is named by the content, not the path"
