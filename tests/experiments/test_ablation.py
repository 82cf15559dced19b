"""The report's ablation of pixel-level adaptation: translation x self-training at k = 0."""

from __future__ import annotations

from gantransfer.experiments.report import _ablation_blocks
from gantransfer.experiments.results import Summary


def _summary(variant: str, mean: float, std: float | None = 0.01, k: int = 0) -> Summary:
    return Summary("a-b", "with unlabelled target images", variant, variant.split("-self")[0], k, mean, std,
                   (0, 1, 2), 1.0)


def test_the_ablation_rearranges_the_cells_into_translation_x_self_training():
    summaries = [_summary("source-only", 0.131), _summary("source-only-self-train", 0.366),
                 _summary("pixel-da", 0.178, None), _summary("pixel-da-self-train", 0.389),
                 _summary("dann", 0.515), _summary("pixel-da", 0.9, k=10)]
    heading, table = _ablation_blocks(summaries)
    assert "translation x self-training" in heading.text
    assert table.rows == [
        ["no translation (source-only)", "13.1 ± 1.0", "36.6 ± 1.0"],
        ["translation (pixel-da)", "17.8", "38.9 ± 1.0"],  # one seed: no spread; k = 10 is not read
        ["no translation, feature alignment (dann)", "51.5 ± 1.0", "-"],
    ]


def test_no_ablation_without_a_translation_row():
    assert _ablation_blocks([_summary("source-only", 0.5), _summary("dann", 0.6)]) == []
