"""Generated image sets: what a user is told when their labels do not hold, and seeded side work."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from gantransfer.engine.seeding import preserved_randomness
from gantransfer.training.generation import LOW_AGREEMENT, agreement_warning


def test_agreement_at_or_above_the_threshold_gives_no_warning():
    assert agreement_warning(LOW_AGREEMENT, 10, 100) is None
    assert agreement_warning(0.98, 10, 10_000) is None


def test_low_agreement_names_the_share_chance_and_count():
    warning = agreement_warning(0.123, 10, 10_000)
    assert "12.3% of the source GAN's 10000 generated images" in warning
    assert "chance: 10.0%" in warning and "collapsed" in warning
    assert "chance: 50.0%" in agreement_warning(0.4, 2, 8)


def test_preserved_randomness_gives_every_generator_its_state_back():
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    expected = torch.rand(2), random.random(), np.random.rand()
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    with preserved_randomness():
        torch.nn.Linear(8, 8)  # draws weights
        torch.manual_seed(99)  # and reseeds, as a stage does
        random.random()
        np.random.rand(5)
    assert torch.equal(torch.rand(2), expected[0])
    assert random.random() == expected[1] and np.random.rand() == pytest.approx(expected[2], abs=0)
