"""One seed for every random generator a run uses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .checkpoint import capture_rng_state, restore_rng_state


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a run repeats exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def preserved_randomness() -> Iterator[None]:
    """Give every random generator (Python, NumPy, torch CPU and CUDA) its state back after the block,
    so that what the block draws (or reseeds) leaves the caller's numbers as they would have been."""
    saved = capture_rng_state(), random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        restore_rng_state(saved[0])
        random.setstate(saved[1])
        np.random.set_state(saved[2])
