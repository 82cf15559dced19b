"""Validation scores without target labels: hand-computed values on toy tensors, and a
trained model ranked above an untrained one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from fitting import fit_classifier
from gantransfer.data.datasets.custom import array_to_images
from gantransfer.data.images import ImageSet
from gantransfer.evaluation import validation_scores as vs
from gantransfer.evaluation.validation import ValidationSettings, validate_classifier
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig
from gantransfer.training.supervised import ClassifierTraining


def test_entropy_of_uniform_is_log_k_and_of_one_hot_is_zero():
    probabilities = torch.tensor([[0.25] * 4, [0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    assert vs.entropy(probabilities).tolist() == pytest.approx([math.log(4), 0.0, math.log(2)])
    assert vs.mean_entropy(probabilities) == pytest.approx((math.log(4) + math.log(2)) / 3)


def test_information_maximization_by_hand():
    # Confident and covering every class: H(mean) = log 4, mean H = 0.
    assert vs.information_maximization(torch.eye(4)) == pytest.approx(math.log(4))
    # Identical rows, however confident: the mean is one of them, so IM = 0.
    assert vs.information_maximization(torch.tensor([[0.9, 0.1]] * 5)) == pytest.approx(0.0, abs=1e-12)
    # Rows [1, 0] and [.5, .5]: mean [.75, .25].
    h_mean = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = h_mean - math.log(2) / 2
    assert vs.information_maximization(torch.tensor([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(expected)


def test_snd_of_two_identical_clusters_by_hand():
    # Two clusters of m identical points on orthogonal axes: from each point, m - 1 neighbours at
    # similarity 1 and m at similarity 0 (itself left out).
    m, temperature = 3, 0.5
    vectors = torch.tensor([[1.0, 0.0]] * m + [[0.0, 2.0]] * m)  # lengths differ: SND normalises them
    total = (m - 1) * math.exp(1 / temperature) + m
    same, other = math.exp(1 / temperature) / total, 1 / total
    expected = -((m - 1) * same * math.log(same) + m * other * math.log(other))
    assert vs.soft_neighbourhood_density(vectors, temperature) == pytest.approx(expected)
    # Chunked rows give the same value (the diagonal is found in every chunk).
    assert vs.soft_neighbourhood_density(vectors, temperature, chunk=4) == pytest.approx(expected)


def test_snd_leaves_out_self_similarity():
    # Two points: each has one neighbour, so each row is one-hot and SND = 0.
    assert vs.soft_neighbourhood_density(torch.tensor([[1.0, 0.0], [0.6, 0.8]])) == pytest.approx(0.0)


def test_snd_of_clusters_is_above_snd_of_noise():
    generator = torch.Generator().manual_seed(0)
    centres = torch.eye(10)[[0] * 50 + [1] * 50]
    clusters = centres + 0.01 * torch.randn(100, 10, generator=generator)
    noise = torch.randn(100, 10, generator=generator)
    assert vs.soft_neighbourhood_density(clusters) > vs.soft_neighbourhood_density(noise) + 1.0


def test_dev_by_hand_with_the_control_variate():
    weights, losses = np.array([0.5, 1.0, 3.0]), np.array([1.0, 2.0, 3.0])
    # L = w * loss = 0.5, 2, 9: mean 23/6; Cov(L, w) = 12 / 2, Var(w) = 3.5 / 2; mean(w) = 1.5.
    eta = -6.0 / 1.75
    expected = 23 / 6 + eta * 1.5 - eta
    assert vs.deep_embedded_validation(losses, weights) == pytest.approx(expected)
    assert expected == pytest.approx(2.119047619)


def test_dev_with_equal_weights_is_the_mean_loss():
    losses = np.array([0.2, 1.0, 3.0, 0.4])
    assert vs.deep_embedded_validation(losses, np.ones(4)) == pytest.approx(losses.mean())


def test_dev_with_equal_domains_is_about_the_mean_loss():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 5))
    losses = rng.random(400)
    weights = vs.importance_weights(features, features.copy(), seed=0)
    assert np.abs(weights - 1).mean() < 0.15
    assert vs.deep_embedded_validation(losses, weights) == pytest.approx(losses.mean(), abs=0.05)


def test_importance_weights_grow_towards_the_target():
    rng = np.random.default_rng(1)
    source, target = rng.normal(size=(500, 1)), rng.normal(loc=1.0, size=(500, 1))
    weights = vs.importance_weights(source, target, seed=0)
    # The true ratio is exp(x - 1/2): increasing in x, 1 on average.
    assert spearmanr(weights, source[:, 0]).statistic > 0.95
    assert weights.mean() == pytest.approx(1.0, abs=0.25)


def test_collapse_rule_scales_with_the_number_of_classes():
    assert vs.collapse_threshold(10) == pytest.approx(0.55)
    assert vs.collapse_threshold(2) == pytest.approx(0.75)
    collapsed = torch.tensor([8] * 97 + [1, 2, 3])
    assert vs.prediction_collapse(collapsed, 10) == (8, pytest.approx(0.97))
    assert vs.prediction_collapse(torch.tensor([8] * 50 + list(range(10)) * 5), 10) is None  # 55 %: not above
    assert vs.prediction_collapse(torch.tensor([0] * 70 + [1] * 30), 2) is None
    assert vs.largest_class_share(torch.tensor([0] * 70 + [1] * 30), 2) == (0, pytest.approx(0.7))


def test_every_score_has_a_direction():
    assert {name for name, score in vs.SCORES.items() if not score.higher_is_better} == {"target_entropy", "dev"}


def _domain(make_digits, n: int, seed: int) -> ImageSet:
    x, y = make_digits(n=n, seed=seed)
    return ImageSet(array_to_images(x, "digits") * 2 - 1, torch.from_numpy(y).long(), tuple(map(str, range(10))))


def test_scores_rank_a_trained_model_above_an_untrained_one(make_digits):
    torch.manual_seed(0)
    config = ClassifierConfig(TrunkConfig(1, 28, 8, 32, "batch"), 10)
    train, source_validation, target = (_domain(make_digits, n, seed) for n, seed in ((200, 0), (100, 1), (100, 2)))
    untrained = Classifier(config).eval()
    trained = fit_classifier(Classifier(config), train, ClassifierTraining(steps=40, batch_size=16), seed=0)
    settings = ValidationSettings(images=100)
    labelled = target.subset(torch.arange(20))
    good, bad = (validate_classifier(model, target.images, source_validation, labelled, settings).scores
                 for model in (trained, untrained))
    for name, score in vs.SCORES.items():
        if name == "snd":
            continue  # SND is highest for identical outputs, which an untrained network comes close to
        better = good[name] > bad[name] if score.higher_is_better else good[name] < bad[name]
        assert better, (name, good[name], bad[name])
    assert good["source_accuracy"] > 0.9 and bad["source_accuracy"] < 0.5


def test_report_collapse_and_missing_sets(make_digits):
    target = _domain(make_digits, 40, 3)
    model = Classifier(ClassifierConfig(TrunkConfig(1, 28, 8, 32, "batch"), 10)).eval()
    with torch.no_grad():
        model.head[1].weight.zero_()
        model.head[1].bias.copy_(torch.arange(10.0))  # every image predicted as class 9
    report = validate_classifier(model, target.images)
    names = tuple(f"c{i}" for i in range(10))
    metrics = report.as_metrics(names)
    assert metrics["prediction_collapse"] == {"class": "c9", "fraction": 1.0, "threshold": pytest.approx(0.55)}
    assert "c9" in report.warning(names) and "100.0 %" in report.warning(names)
    assert metrics["validation_scores"]["source_accuracy"] is None and metrics["validation_scores"]["dev"] is None
    assert metrics["validation_scores"]["labelled_target_train_accuracy"] is None
    assert metrics["validation"]["images"] == {"target": 40}
