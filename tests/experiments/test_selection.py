"""How well each validation score ranks and picks a grid's cells, from a hand-written results.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from gantransfer.cli.main import main
from gantransfer.experiments import read_results
from gantransfer.experiments.selection import candidates, rank_score, score_rankings, source_only_accuracy

# (variant, seed, test accuracy, information_maximization, dev) at k = 0
CELLS = [
    ("source-only", 0, 0.90, 1.50, 0.40),
    ("dann", 0, 0.93, 1.90, 0.30),
    ("pixel-da", 0, 0.96, 1.80, 0.20),
    ("source-only-self-train", 0, 0.97, 2.10, 0.35),
    ("source-only", 1, 0.91, 1.40, 0.45),
    ("dann", 1, 0.89, 2.00, 0.50),
    ("pixel-da", 1, 0.95, 1.70, 0.10),
    ("source-only-self-train", 1, 0.96, 1.60, 0.30),
]


def _line(variant, seed, accuracy, im, dev, k=0, method=None):
    method = method or variant.removesuffix("-self-train")
    return {"direction": "mnist-usps", "source": "mnist", "target": "usps", "variant": variant, "method": method,
            "k": k, "seed": seed, "self_train": variant.endswith("-self-train"), "target_test_accuracy": accuracy,
            "cell": f"mnist-usps/{variant}/k{k}/seed{seed}",
            "validation_scores": {"information_maximization": im, "dev": dev, "snd": None}}


def _write(out: Path, lines: list[dict]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return out


@pytest.fixture
def study(tmp_path):
    lines = [_line(*cell) for cell in CELLS]
    lines.append(_line("oracle", 0, 0.99, 3.0, 0.01, method="oracle"))  # all target labels: no candidate
    lines.append(_line("finetune", 0, 0.94, 1.0, 0.2, k=5))
    return _write(tmp_path / "study", lines)


def test_spearman_and_picks_match_a_computation_by_hand(study):
    results, _ = read_results(study / "results.jsonl")
    cells = candidates(results, 0)
    assert len(cells) == 8 and all(r.method != "oracle" for r in cells)
    accuracies = [c[2] for c in CELLS]

    im = rank_score(cells, "information_maximization")
    assert im.spearman == pytest.approx(spearmanr([c[3] for c in CELLS], accuracies).statistic)
    # Per seed, the largest IM: seed 0 source-only-self-train (2.10), seed 1 dann (2.00).
    assert im.picked == ("source-only-self-train", "dann")
    assert im.picked_accuracy == pytest.approx((0.97 + 0.89) / 2)
    assert im.best_accuracy == pytest.approx((0.97 + 0.96) / 2)

    dev = rank_score(cells, "dev")  # lower is better: signed before ranking, picked by its minimum
    assert dev.spearman == pytest.approx(spearmanr([-c[4] for c in CELLS], accuracies).statistic)
    assert dev.spearman > 0
    assert dev.picked == ("pixel-da", "pixel-da") and dev.picked_accuracy == pytest.approx((0.96 + 0.95) / 2)

    assert rank_score(cells, "snd") is None, "a score no cell computed has no row"
    assert source_only_accuracy(results) == pytest.approx(0.905)
    k5 = [r for r in score_rankings(results) if r.k == 5]
    assert [r.score for r in k5] == ["information_maximization", "dev"] and k5[0].spearman is None  # one cell


def test_a_seed_still_running_picks_nothing_but_counts_in_the_correlation(tmp_path):
    # Seed 2 has only its source-only cell: among that one cell every score would pick source-only.
    lines = [_line(*cell) for cell in CELLS] + [_line("source-only", 2, 0.50, 9.0, 0.0)]
    results, _ = read_results(_write(tmp_path / "partial", lines) / "results.jsonl")
    im = rank_score(candidates(results, 0), "information_maximization")
    assert im.seeds == (0, 1) and im.picked == ("source-only-self-train", "dann") and im.cells == 9
    assert im.picked_accuracy == pytest.approx((0.97 + 0.89) / 2)
    assert im.spearman == pytest.approx(spearmanr([c[3] for c in CELLS] + [9.0],
                                                  [c[2] for c in CELLS] + [0.50]).statistic)
    assert source_only_accuracy(results, im.seeds) == pytest.approx(0.905)
    assert source_only_accuracy(results) == pytest.approx((0.90 + 0.91 + 0.50) / 3)


def test_the_report_shows_the_table(study):
    assert main(["report", str(study)]) == 0
    report = (study / "report.md").read_text()
    section = report.split("### Choosing without target labels", 1)[1].split("###", 1)[0]
    rho = spearmanr([c[3] for c in CELLS], [c[2] for c in CELLS]).statistic
    assert (f"| k=0 | information_maximization | higher | 8 | {rho:+.2f} | 93.00 | "
            "source-only-self-train (1/2), dann (1/2) | 96.50 | 90.50 |") in section
    assert "| k=0 | dev | lower | 8 |" in section and "pixel-da (2/2)" in section
    assert "| k=5 | information_maximization | higher | 1 | - | 94.00 | finetune |" in section
    assert "snd" not in section.split("|", 1)[1]


def test_the_report_leaves_the_table_out_when_no_cell_has_scores(tmp_path):
    lines = [{"source": "mnist", "target": "usps", "method": "finetune", "k": 1, "seed": 0,
              "target_test_accuracy": 0.9}]
    out = _write(tmp_path / "old", lines)
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "No cell of this direction has validation scores" in report
    assert "| score |" not in report


def test_a_labelled_validation_split_ranks_and_picks_beside_the_scores(tmp_path):
    # (variant, method, test accuracy, validation accuracy); the last cell held nothing out
    cells = [("pixel-da-identity-start", "pixel-da", 0.16, 0.20), ("pixel-da-free-start", "pixel-da", 0.30, 0.25),
             ("dann", "dann", 0.50, 0.45), ("source-only", "source-only", 0.13, None)]
    lines = []
    for variant, method, accuracy, validation in cells:
        line = _line(variant, 0, accuracy, 1.0, 0.5, method=method)
        line["target_validation_accuracy"] = validation
        lines.append(line)
    study = _write(tmp_path / "labelled", lines)
    results, _ = read_results(study / "results.jsonl")
    ranking = rank_score(candidates(results, 0), "labelled_validation")
    assert ranking.cells == 3 and ranking.picked == ("dann",) and ranking.spearman == pytest.approx(1.0)
    assert [r.score for r in score_rankings(results)][-1] == "labelled_validation"
    assert main(["report", str(study)]) == 0
    section = (study / "report.md").read_text().split("### Choosing without target labels", 1)[1].split("###")[0]
    assert "| k=0 | labelled_validation | higher | 3 | +1.00 | 50.00 | dann | 50.00 | 13.00 |" in section
    assert "reads target labels" in section
