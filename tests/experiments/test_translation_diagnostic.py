"""benchmarks/translation_diagnostic.py: its measurements on toy images, against hand-computed values."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def diagnostic():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import translation_diagnostic

        yield translation_diagnostic
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_pixel_change_is_the_mean_absolute_difference_in_unit_range(diagnostic):
    before = torch.zeros(2, 1, 2, 2, dtype=torch.uint8)
    after = before.clone()
    after[0, 0, 0, 0] = 255  # one pixel of eight moved by the whole range
    assert diagnostic.pixel_change(before, after) == pytest.approx(1 / 8)
    assert diagnostic.pixel_change(before, before) == 0


def test_colour_statistics_are_zero_spread_for_grey_and_measure_channel_differences(diagnostic):
    grey = torch.full((1, 3, 2, 2), 51, dtype=torch.uint8)  # 0.2 on every channel
    assert diagnostic.colour_statistics(grey) == {"channel_spread": 0.0, "brightness": 0.2}
    red = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    red[:, 0] = 255  # channels 1, 0, 0: their mean 1/3, distances 2/3, 1/3, 1/3
    stats = diagnostic.colour_statistics(red)
    assert stats["channel_spread"] == pytest.approx(4 / 9, abs=1e-4)
    assert stats["brightness"] == pytest.approx(1 / 3, abs=1e-4)
