"""Metrics to ``metrics.jsonl`` (the record the reports read) and TensorBoard."""

from __future__ import annotations

import json
import time
from typing import Any

from torch import Tensor

from ..fileio import append_line
from .run_folder import RunFolder


class RunLogger:
    """Writes one JSON object per call to ``metrics.jsonl`` and mirrors scalars to TensorBoard.

    Args:
        run: the run folder.
        tensorboard: also write TensorBoard event files under ``run.tensorboard``.
        purge_step: on resume, TensorBoard discards events after this step.
        enabled: False on non-zero ranks of a distributed run.
    """

    def __init__(self, run: RunFolder, tensorboard: bool = True, purge_step: int | None = None, enabled: bool = True):
        self.run = run
        self.enabled = enabled
        self.writer = None
        if enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(run.tensorboard), purge_step=purge_step)

    def log(self, step: int, phase: str, values: dict[str, Any]) -> None:
        """Record ``values`` (numbers, or short strings) of ``phase`` at ``step``."""
        if not self.enabled:
            return
        record = {"step": step, "phase": phase, "time": round(time.time(), 3), **values}
        append_line(self.run.metrics_path, json.dumps(record))
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"{phase}/{key}", value, step)

    def log_images(self, step: int, tag: str, grid: Tensor) -> None:
        """A (C, H, W) image grid in [0, 1] to TensorBoard."""
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, grid, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
