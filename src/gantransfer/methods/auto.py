"""``auto``: train a small fixed set of candidate methods, keep the one a validation score prefers.

No target label picks anything: each candidate is a whole transfer run in
``DIR/candidates/<name>/``, scored at its end (see
:mod:`gantransfer.evaluation.validation`) without reading the target test
set (the candidates get no test images); the winner, by
:data:`SELECTION_SCORE`, is the run's classifier and is tested once, like
any other method's. Candidates whose target predictions collapsed onto one
class are passed over unless every one did. Re-running the same command
resumes a half-finished candidate and skips finished ones.

The candidates (:func:`candidates`), fixed before any grid measured the
scores: the source classifier, alone and with mean-teacher self-training,
and DANN; with k > 0 also fine-tuning on the k images, alone and with
self-training. The benchmark report's "Choosing without target labels"
table says how well the score picks on a grid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..evaluation.validation_scores import SCORES
from ..models.saving import load_classifier
from .context import TransferContext
from .registry import Method, MethodPlan, register_method
from .transfer import transfer

#: the score that picks the winner (higher is better)
SELECTION_SCORE = "information_maximization"

CANDIDATES_FOLDER = "candidates"


def candidates(k: int) -> list[tuple[str, str, bool]]:
    """``(name, method, self_train)`` of the candidates at ``k`` labelled target images per class."""
    chosen = [("source-only", "source-only", False), ("adabn", "adabn", False),
              ("source-only-self-train", "source-only", True), ("dann", "dann", False)]
    if k > 0:
        chosen += [("finetune", "finetune", False), ("finetune-self-train", "finetune", True)]
    return chosen


def pick(results: dict[str, dict[str, Any]], score: str = SELECTION_SCORE) -> str:
    """The name of the best candidate by ``score`` among those whose predictions did not collapse
    (among all when every one did); ties go to the first. ``results``: name -> metrics."""
    sign = 1.0 if SCORES[score].higher_is_better else -1.0
    healthy = [name for name, metrics in results.items() if metrics.get("prediction_collapse") is None]
    return max(healthy or list(results), key=lambda name: sign * results[name]["validation_scores"][score])


def build_auto(context: TransferContext) -> MethodPlan:
    config = context.config
    untested = replace(context.data, target_test=None)  # the test set is read once, for the winner
    results = {}
    for name, method, self_train in candidates(config.k):
        candidate = replace(config, method=method, self_train=self_train)
        results[name] = transfer(candidate, context.run.root / CANDIDATES_FOLDER / name, context.data_options,
                                 context.stages.root, context.progress_bar, context.callbacks, images=untested)
    winner = pick(results)
    context.notes["auto"] = {"score": SELECTION_SCORE, "picked": winner,
                             "candidates": {name: metrics["validation_scores"][SELECTION_SCORE]
                                            for name, metrics in results.items()}}
    saved = load_classifier(context.run.root / CANDIDATES_FOLDER / winner / "classifier.safetensors", context.device)
    return MethodPlan(model=saved.model)


register_method(
    Method(
        "auto",
        build_auto,
        "source",
        f"trains source-only, AdaBN, self-training, DANN (and fine-tuning at k > 0) and keeps the one with the best "
        f"{SELECTION_SCORE} (no target labels)",
        "Musgrave et al. 2022 (validation without target labels)",
        category="model selection",
        uses_unlabelled=True,
        reads=("feature_alignment",),  # its dann candidate
    )
)
