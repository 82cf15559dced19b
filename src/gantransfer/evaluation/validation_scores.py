"""Validation scores that need no target labels: small pure functions on predictions and features.

Which of several trained models (methods, settings) to keep, when the target
has no labels to check them on? Musgrave et al. 2022 ("Benchmarking
validation methods for unsupervised domain adaptation") compare the
candidates; these are the ones the protocol asks for. Each score has a
direction (:data:`SCORES`): whether a higher or a lower value should mean a
better model. None of them reads a target label; ``labelled_target_train_accuracy``
reads the k labelled target *train* images only, which the methods train on.

Shapes: probabilities (N, K), rows summing to 1; features (N, D); labels
int64 (N,). Logarithms are natural, so entropies are in nats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Score:
    """What a score means.

    Attributes:
        name: its key in ``metrics.json`` (``validation_scores``) and ``results.jsonl``.
        higher_is_better: True when a higher value should mean a better model.
        summary: one line for reports.
        reference: the paper it comes from.
    """

    name: str
    higher_is_better: bool
    summary: str
    reference: str = ""


SCORES: dict[str, Score] = {score.name: score for score in (
    Score("source_accuracy", True, "accuracy on held-out labelled source images",
          "Musgrave et al. 2022 (source validation accuracy)"),
    Score("target_entropy", False, "mean entropy of the target predictions (confidence)",
          "Morerio et al. 2018; Musgrave et al. 2022"),
    Score("information_maximization", True,
          "entropy of the mean target prediction minus the mean entropy (confident and diverse)",
          "Gomes et al. 2010 (RIM); Liang et al. 2020 (SHOT); Musgrave et al. 2022"),
    Score("snd", True, "soft neighbourhood density of the target softmax outputs",
          "Saito et al. 2021 (Tune it the right way)"),
    Score("dev", False, "deep embedded validation: source validation loss weighted towards the target",
          "You et al. 2019 (Towards accurate model selection in deep unsupervised domain adaptation)"),
    Score("labelled_target_train_accuracy", True,
          "accuracy on the k labelled target images (training images: a training accuracy, not held out)"),
)}


def entropy(probabilities: Tensor) -> Tensor:
    """Per-row entropy ``-sum_k p_k log p_k`` of (N, K) probabilities -> (N,), in [0, log K]
    (0 for one-hot rows, log K for uniform ones)."""
    return torch.special.entr(probabilities.double()).sum(dim=1)


def mean_entropy(probabilities: Tensor) -> float:
    """Mean per-image entropy of (N, K) softmax outputs, in [0, log K]; lower: more confident."""
    return float(entropy(probabilities).mean())


def information_maximization(probabilities: Tensor) -> float:
    """``H(mean_i p_i) - mean_i H(p_i)`` of (N, K) probabilities, in [0, log K]; higher is better.

    The negative of the information-maximisation loss (SHOT, Liang et al.
    2020): high when each prediction is confident (low mean entropy) and the
    predictions together cover the classes (high entropy of their mean). It
    is 0 when every row is the same, log K for confident predictions spread
    evenly over the K classes. Non-negative because entropy is concave.
    """
    mean = probabilities.double().mean(dim=0, keepdim=True)
    return float(entropy(mean)[0] - entropy(probabilities).mean())


def soft_neighbourhood_density(vectors: Tensor, temperature: float = 0.05, chunk: int = 1024) -> float:
    """Soft neighbourhood density (SND, Saito et al. 2021) of (N, D) vectors, N >= 2; higher is better.

    The vectors (Saito et al. use the softmax outputs) are L2-normalised; for
    each one, a softmax with ``temperature`` over its cosine similarities to
    the N - 1 others (itself left out) says how its neighbours share it; SND
    is the mean entropy of those rows, in [0, log(N - 1)]. It is high when
    every point sits in a dense neighbourhood (well-clustered outputs), and
    highest, log(N - 1), when all vectors are the same: an untrained network
    with near-uniform outputs scores well, so read it beside the collapse
    check. It grows with N, so compare values computed on the same number of images.
    Rows are processed ``chunk`` at a time, so memory is (chunk, N).
    """
    if len(vectors) < 2:
        raise ValueError(f"SND needs at least 2 vectors, got {len(vectors)}")
    unit = torch.nn.functional.normalize(vectors.double(), dim=1)
    total = 0.0
    for start in range(0, len(unit), chunk):
        similarity = unit[start : start + chunk] @ unit.T / temperature
        rows = torch.arange(len(similarity))
        similarity[rows, rows + start] = float("-inf")  # a point is not its own neighbour
        total += float(entropy(similarity.softmax(dim=1)).sum())
    return total / len(unit)


def importance_weights(source_features: np.ndarray, target_features: np.ndarray, seed: int = 0) -> np.ndarray:
    """Density ratios ``w(x) = p_target(x) / p_source(x)`` at the (N_s, D) source features -> (N_s,), > 0.

    As in DEV (You et al. 2019), from a domain classifier: logistic regression
    (on standardised features) telling source (0) from target (1) features,
    ``w = P(target | x) / P(source | x) * N_s / N_t``. Each source point's
    probability comes from the half of the data it was not fitted on (2-fold
    cross-fitting, seeded), so the classifier cannot memorise its own points.
    Their mean is about 1 when the classifier is calibrated.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([source_features, target_features]).astype(np.float64)
    domain = np.r_[np.zeros(len(source_features)), np.ones(len(target_features))]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    target_probability = cross_val_predict(classifier, features, domain, cv=folds, method="predict_proba")[:, 1]
    # Clipped so that one point the classifier is sure of cannot dominate every weight.
    p = np.clip(target_probability[: len(source_features)], 1e-3, 1 - 1e-3)
    return p / (1 - p) * len(source_features) / len(target_features)


def deep_embedded_validation(losses: np.ndarray | Tensor, weights: np.ndarray | Tensor) -> float:
    """DEV risk (You et al. 2019, Algorithm 1) from per-image source validation losses and
    importance weights (both (N,), N >= 2); an estimate of the target loss: lower is better.

    ``L = w * loss``; the control variate ``eta = -Cov(L, w) / Var(w)`` uses that
    the weights' true mean is 1 to cancel part of the weighting's variance:
    ``DEV = mean(L) + eta * mean(w) - eta``. With all weights equal (no
    domain shift seen) ``Var(w) = 0``, ``eta`` is taken as 0 and DEV is the
    plain weighted mean loss.
    """
    losses, weights = np.asarray(losses, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    weighted = weights * losses
    variance = weights.var(ddof=1)
    eta = -np.cov(weighted, weights, ddof=1)[0, 1] / variance if variance > 0 else 0.0
    return float(weighted.mean() + eta * weights.mean() - eta)


def accuracy(predictions: Tensor, labels: Tensor) -> float:
    """Fraction of (N,) predicted class indices equal to the (N,) labels, in [0, 1]."""
    return float((predictions == labels).double().mean())


def collapse_threshold(num_classes: int) -> float:
    """The share of predictions above which one class counts as a collapse: ``(1 + 1/K) / 2``.

    Halfway between a class's fair share 1/K and all the images, so the rule
    scales with K: 55 % for 10 classes, 75 % for 2, just over 50 % for many.
    """
    return (1 + 1 / num_classes) / 2


def largest_class_share(predictions: Tensor, num_classes: int) -> tuple[int, float]:
    """``(class, fraction)``: the most predicted class among (N,) predictions and its share, in [1/K, 1]."""
    counts = torch.bincount(predictions, minlength=num_classes)
    top = int(counts.argmax())
    return top, float(counts[top]) / max(1, len(predictions))


def prediction_collapse(predictions: Tensor, num_classes: int) -> tuple[int, float] | None:
    """``(class, fraction)`` when one class takes more than :func:`collapse_threshold` of the
    (N,) predictions, else None."""
    top, fraction = largest_class_share(predictions, num_classes)
    return (top, fraction) if fraction > collapse_threshold(num_classes) else None
