"""Experiment trackers for a benchmark: TensorBoard always, Weights & Biases when asked.

Each cell's training curves are already in its own ``tensorboard/`` folder;
here every finished cell also becomes one row of TensorBoard's HParams
table (``DIR/tensorboard``), so ``tensorboard --logdir DIR`` shows the grid
sortable by method, k and seed beside the curves. With W&B, each cell is one
run (grouped by the benchmark's name) holding its settings and final
metrics; it runs offline unless ``WANDB_MODE`` says otherwise, so it needs
no network (``wandb sync DIR/wandb/offline-run-*`` uploads later).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

WANDB_INSTALL = "pip install 'gantransfer[wandb]'"


def require_wandb():
    """The ``wandb`` module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import wandb
    except ImportError:
        raise ConfigError(f"--wandb needs the wandb package: {WANDB_INSTALL}") from None
    return wandb


def _hparams(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("direction", "variant", "method", "k", "seed", "self_train", "uses_unlabelled_target")
    return {key: record[key] for key in keys if key in record}


def _final_metrics(record: dict[str, Any]) -> dict[str, float]:
    metrics = {"target_test_accuracy": record["target_test_accuracy"], "wall_seconds": record["wall_seconds"]}
    for group in ("per_class_accuracy", "validation_scores"):
        for name, value in (record.get(group) or {}).items():
            if value is not None:
                metrics[f"{group}/{name}"] = value
    return metrics


class Trackers:
    """Sends each finished cell's results to TensorBoard and, with ``wandb_project``, to W&B.

    Args:
        out: the benchmark folder.
        group: the benchmark's name (W&B group).
        wandb_project: W&B project; None: no W&B.
    """

    def __init__(self, out: str | os.PathLike, group: str, wandb_project: str | None = None) -> None:
        self.out = Path(out)
        self.group = group
        self.wandb = require_wandb() if wandb_project else None
        self.wandb_project = wandb_project
        self._writer = None

    def cell_finished(self, record: dict[str, Any]) -> None:
        metrics = _final_metrics(record)
        self._tensorboard().add_hparams(
            _hparams(record), {f"hparam/{key}": value for key, value in metrics.items()
                               if key in ("target_test_accuracy", "wall_seconds")},
            run_name=record["cell"],
        )
        if self.wandb is not None:
            self._log_wandb(record, metrics)

    def _tensorboard(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.out / "tensorboard"))
        return self._writer

    def _log_wandb(self, record: dict[str, Any], metrics: dict[str, float]) -> None:
        run = self.wandb.init(
            project=self.wandb_project, group=self.group, name=record["cell"], job_type=record.get("variant"),
            config={**_hparams(record), "transfer": record.get("config", {})},
            mode=os.environ.get("WANDB_MODE", "offline"), dir=str(self.out),
        )
        try:
            run.log(metrics)
        finally:
            run.finish()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
