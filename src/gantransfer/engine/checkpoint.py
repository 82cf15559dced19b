"""The checkpoint format: one dict that both resumes and rebuilds a run.

Keys: ``format``, ``version`` (library), ``kind`` (what trained it),
``config`` (the full run config as plain values), ``step``, ``modules`` and
``optimizers`` (state dicts by name), ``task_state`` (data-stream positions
and the like), ``rng`` (generator states), ``best`` (metric, value, step).

Files are written atomically (temporary file, then rename), so a crash never
leaves half a checkpoint, and read with ``torch.load(weights_only=True)``,
which refuses to execute pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..fileio import atomic_write
from ..tensorfiles import read_torch_file

FORMAT = 1


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, nested dicts/lists) atomically."""
    atomic_write(Path(path), lambda tmp: torch.save({"format": FORMAT, **state}, tmp))


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint without unpickling code; check its format and, if given, its kind.

    Raises :class:`CheckpointError` with the path and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    state = read_torch_file(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gantransfer checkpoint (format {state.get('format') if isinstance(state, dict) else '?'})")
    if kind is not None and state.get("kind") != kind:
        raise CheckpointError(f"{path}: is a {state.get('kind')!r} checkpoint, expected {kind!r}")
    return state


def capture_rng_state() -> dict[str, Any]:
    """States of every random generator a training step may draw from."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
