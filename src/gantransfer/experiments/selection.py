"""How good is each validation score at choosing among a grid's cells without target labels?

A user with k labelled target images per class trains several candidates
(methods, settings) and must keep one without reading the target test set.
So one selection problem is one (direction, k): its candidates are the cells
of that k, every method pooled (the oracle, trained on every target label,
is no candidate). For each score (see
:data:`gantransfer.evaluation.validation_scores.SCORES`):

- the Spearman rank correlation between the score, signed so that higher is
  better, and target test accuracy across those cells (every seed pooled):
  +1 means it orders the cells exactly as test accuracy does;
- the cell it picks: per seed, the cell with the best score among that
  seed's cells (as a user running one seed of each candidate would), its
  test accuracy averaged over seeds, beside the best cell per seed (what
  picking by the test set would give) and the source-only baseline. Only
  the seeds with as many candidates as the fullest seed pick: a seed of a
  grid still running, with a few of its cells done, would choose among
  those few.

Beside the scores, a grid run with ``validation_per_class`` ranks and picks by
:data:`LABELLED_VALIDATION`, the accuracy on the held-out labelled target train
images: it reads target labels (a few per class), and shows how close the
label-free scores come to choosing with them.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass

from scipy.stats import spearmanr

from ..evaluation.validation_scores import SCORES
from .figures import ALL_LABEL_METHODS
from .results import Result


#: accuracy on the held-out labelled target images of a run with ``validation_per_class`` (needs target labels)
LABELLED_VALIDATION = "labelled_validation"


@dataclass(frozen=True)
class ScoreRanking:
    """How one score does on one selection problem (a direction and a k).

    Attributes:
        score: the score's name.
        k: labelled target images per class of the candidates.
        cells: candidate cells that have the score.
        spearman: rank correlation in [-1, 1] of the signed score with test accuracy;
            None with fewer than 3 cells or a constant score or accuracy.
        picked: the variant picked for each seed that picks, in seed order.
        picked_accuracy: test accuracy of the picked cells, mean over seeds, in [0, 1].
        best_accuracy: test accuracy of the best cell of each seed, mean over seeds.
        seeds: the seeds that pick (those with every candidate), ascending.
    """

    score: str
    k: int
    cells: int
    spearman: float | None
    picked: tuple[str, ...]
    picked_accuracy: float
    best_accuracy: float
    seeds: tuple[int, ...] = ()


def higher_is_better(score: str) -> bool:
    """Whether a higher value of ``score`` (a name of ``SCORES`` or :data:`LABELLED_VALIDATION`) is better."""
    return score == LABELLED_VALIDATION or SCORES[score].higher_is_better


def signed(score: str, value: float) -> float:
    """``value`` of ``score`` turned so that higher is better."""
    return value if higher_is_better(score) else -value


def score_value(result: Result, score: str) -> float | None:
    """``result``'s value of ``score`` (None when the cell has none)."""
    if score == LABELLED_VALIDATION:
        return result.validation_accuracy
    return (result.scores or {}).get(score)


def candidates(results: list[Result], k: int) -> list[Result]:
    """The cells a user with ``k`` labelled target images per class chooses among."""
    return [r for r in results if r.k == k and r.method not in ALL_LABEL_METHODS]


def rank_score(cells: list[Result], score: str) -> ScoreRanking | None:
    """How ``score`` ranks and picks among ``cells`` (one direction, one k); None if no cell has it.

    Ties in a pick go to the first cell in ``cells`` order.
    """
    scored = [r for r in cells if score_value(r, score) is not None]
    if not scored:
        return None
    picked, picked_accuracy, best_accuracy = [], [], []
    seeds = complete_seeds(scored)
    for seed in seeds:
        members = [r for r in scored if r.seed == seed]
        choice = max(members, key=lambda r: signed(score, score_value(r, score)))
        picked.append(choice.variant)
        picked_accuracy.append(choice.accuracy)
        best_accuracy.append(max(r.accuracy for r in members))
    return ScoreRanking(score, scored[0].k, len(scored), spearman(scored, score), tuple(picked),
                        statistics.fmean(picked_accuracy), statistics.fmean(best_accuracy), seeds)


def complete_seeds(cells: list[Result]) -> tuple[int, ...]:
    """The seeds of ``cells`` with as many distinct variants as the fullest seed, ascending."""
    variants = {seed: {r.variant for r in cells if r.seed == seed} for seed in {r.seed for r in cells}}
    most = max(len(names) for names in variants.values())
    return tuple(sorted(seed for seed, names in variants.items() if len(names) == most))


def spearman(cells: list[Result], score: str) -> float | None:
    """Spearman's rho between the signed ``score`` and test accuracy over ``cells`` (None if undefined)."""
    if len(cells) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant input gives NaN, reported as None
        rho = spearmanr([signed(score, score_value(r, score)) for r in cells], [r.accuracy for r in cells]).statistic
    return None if math.isnan(rho) else float(rho)


def score_rankings(results: list[Result]) -> list[ScoreRanking]:
    """Every score's ranking for every k of one direction's ``results``, by k then score (the
    labelled validation split last, where cells have one)."""
    rankings = []
    for k in sorted({r.k for r in results}):
        cells = candidates(results, k)
        rankings += [ranking for name in (*SCORES, LABELLED_VALIDATION)
                     if (ranking := rank_score(cells, name)) is not None]
    return rankings


def source_only_accuracy(results: list[Result], seeds: tuple[int, ...] | None = None) -> float | None:
    """Mean test accuracy of one direction's source-only cells (without self-training) of ``seeds``
    (None: every seed); None if none ran."""
    plain = [r.accuracy for r in results if r.method == "source-only" and not r.self_train
             and (seeds is None or r.seed in seeds)]
    return statistics.fmean(plain) if plain else None


def describe_picks(picked: tuple[str, ...]) -> str:
    """``pixel-da (2/3), dann (1/3)``: what a score picked over the seeds."""
    counts = Counter(picked)
    if len(picked) == 1:
        return picked[0]
    return ", ".join(f"{variant} ({count}/{len(picked)})" for variant, count in counts.most_common())
