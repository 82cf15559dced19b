"""The training loop every method shares.

A :class:`TrainingTask` knows its networks and what one step does; the
:class:`Trainer` owns everything around it: the step count, progress bar,
logging, evaluation schedule, checkpoints and exact resumption. A user can
skip the trainer and call ``task.train_step()`` in a loop of their own.
"""

from __future__ import annotations

import signal
import time
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from torch import nn
from torch.optim import Optimizer
from tqdm.auto import tqdm

from .. import __version__
from ..errors import CheckpointError, ConfigError
from ..models.wrappers import unwrap
from .checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .distributed import DistributedContext
from .logger import RunLogger
from .run_folder import RunFolder


class TrainingTask(ABC):
    """One kind of training: its networks, optimisers and a single step.

    ``kind`` names the checkpoint type ("gan", "classifier"...), so that a
    checkpoint cannot be resumed into the wrong task.
    """

    kind: str = "task"

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Networks whose weights a checkpoint holds, by name."""

    @abstractmethod
    def optimizers(self) -> dict[str, Optimizer]:
        """Optimisers whose state a checkpoint holds, by name."""

    @abstractmethod
    def train_step(self) -> dict[str, float]:
        """Do one optimisation step; return its losses as floats."""

    def evaluate(self, step: int, run: RunFolder, logger: RunLogger) -> dict[str, float]:
        """Metrics at ``step`` (and any pictures written to ``run``); none by default."""
        return {}

    def progress(self) -> dict[str, float]:
        """Extra values logged with the losses, e.g. ``{"epoch": 1.5}``."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Non-network state to resume, e.g. data-stream positions."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


@dataclass(frozen=True)
class LoopConfig:
    """When the trainer logs, evaluates and checkpoints.

    Args:
        steps: total optimisation steps, > 0.
        eval_every: evaluate every this many steps (0: at the end only).
        checkpoint_every: also save ``latest`` this often (0: at evaluations only).
        log_every: average and log training losses over this many steps.
        best_metric: the evaluation metric that picks ``best.pt`` (None: no best).
        best_mode: ``"max"`` or ``"min"``: which direction is better.
        progress_bar: show a tqdm bar (hidden automatically when not a terminal).
        tensorboard: write TensorBoard events besides ``metrics.jsonl``.
    """

    steps: int
    eval_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 50
    best_metric: str | None = None
    best_mode: str = "min"
    progress_bar: bool = True
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"training needs at least one step, got {self.steps}")
        if min(self.eval_every, self.checkpoint_every) < 0 or self.log_every < 1:
            raise ConfigError("eval_every and checkpoint_every must be >= 0, log_every >= 1")
        if self.best_mode not in ("min", "max"):
            raise ConfigError(f"best_mode must be 'min' or 'max', got {self.best_mode!r}")


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` reports: the final step and metrics, and the best."""

    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    best_value: float | None = None
    best_step: int | None = None
    interrupted: bool = False
    earlier_seconds: float = 0.0
    """Training seconds of earlier sessions of a resumed run (0 for a fresh one)."""


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so that a stop
    saves a consistent checkpoint instead of tearing one step in half. A
    second signal stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    """Runs a :class:`TrainingTask` for ``loop.steps`` steps in ``run``.

    Args:
        task: what to train.
        run: the output folder.
        loop: the schedule.
        config: the full run config (plain values), stored in every checkpoint.
        is_main_process: False on non-zero ranks: they neither log nor save.
        distributed: this process's place in a data-parallel run (see
            :mod:`.distributed`); overrides ``is_main_process``. Under several
            processes only rank 0 evaluates, logs and saves; logged losses are
            averaged over ranks; a stop request on any rank stops all at the
            same step.
        seed: under several processes, each rank's random draws at step t
            are seeded from ``(seed, rank, t)``; None: ``config["seed"]``.
    """

    def __init__(
        self,
        task: TrainingTask,
        run: RunFolder,
        loop: LoopConfig,
        config: dict[str, Any],
        is_main_process: bool = True,
        distributed: DistributedContext | None = None,
        seed: int | None = None,
    ) -> None:
        self.task = task
        self.run = run
        self.loop = loop
        self.config = config
        self.distributed = distributed or DistributedContext(rank=0 if is_main_process else 1, world_size=1)
        self.is_main = self.distributed.is_main
        self.seed = int(config.get("seed", 0)) if seed is None else seed
        self.step = 0
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.earlier_seconds = 0.0
        self.session_start = time.time()

    # -- checkpoints -------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "kind": self.task.kind,
            "config": self.config,
            "step": self.step,
            "modules": {name: unwrap(m).state_dict() for name, m in self.task.modules().items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.task.optimizers().items()},
            "task_state": self.task.state_dict(),
            "rng": capture_rng_state(),
            "best": {"metric": self.loop.best_metric, "value": self.best_value, "step": self.best_step},
            # Wall time spent training so far, over every session, so a resumed run reports its whole cost.
            "elapsed_seconds": self.earlier_seconds + (time.time() - self.session_start),
        }

    def save(self, path) -> None:
        if self.is_main:
            save_checkpoint(path, self.checkpoint_state())

    def restore(self, path) -> None:
        """Load weights, optimisers, task state, RNG and step from a checkpoint."""
        state = load_checkpoint(path, kind=self.task.kind)
        modules, optimizers = self.task.modules(), self.task.optimizers()
        if set(state["modules"]) != set(modules):
            raise CheckpointError(f"{path}: holds networks {sorted(state['modules'])}, expected {sorted(modules)}")
        try:
            for name, module in modules.items():
                unwrap(module).load_state_dict(state["modules"][name])
            for name, optimizer in optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
        except (RuntimeError, KeyError, ValueError) as error:
            raise CheckpointError(f"{path}: does not fit this run's networks ({str(error).splitlines()[0]})") from None
        self.task.load_state_dict(state["task_state"])
        restore_rng_state(state["rng"])
        self.step = int(state["step"])
        self.earlier_seconds = float(state.get("elapsed_seconds", 0.0))
        best = state.get("best") or {}
        self.best_value, self.best_step = best.get("value"), best.get("step")

    # -- the loop ----------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        """Train from scratch, or from ``run``'s latest checkpoint when ``resume``."""
        self.session_start = time.time()
        if resume and self.run.has_run():
            self.restore(self.run.latest_checkpoint)
            if self.is_main:
                self.run.truncate_metrics(self.step)
        logger = RunLogger(
            self.run, tensorboard=self.loop.tensorboard, purge_step=self.step + 1 if resume else None, enabled=self.is_main
        )
        last_metrics: dict[str, float] = {}
        interrupted = False
        bar = tqdm(
            total=self.loop.steps,
            initial=self.step,
            desc=self.task.kind,
            disable=not (self.loop.progress_bar and self.is_main) or None,
            dynamic_ncols=True,
        )
        sums: dict[str, float] = {}
        count = 0
        parallel = self.distributed.enabled
        try:
            with _StopRequest() as stop:
                while self.step < self.loop.steps:
                    if parallel:
                        self.distributed.seed_step(self.seed, self.step)
                    losses = self.task.train_step()
                    self.step += 1
                    bar.update(1)
                    for key, value in losses.items():
                        sums[key] = sums.get(key, 0.0) + value
                    count += 1
                    # Every rank must take the same branches below, or their collectives would not pair up.
                    stopping = self.distributed.any(stop.requested) if parallel else stop.requested
                    if self.step % self.loop.log_every == 0 or self.step == self.loop.steps or stopping:
                        means = self.distributed.mean({key: total / count for key, total in sums.items()})
                        logger.log(self.step, "train", {**means, **self.task.progress()})
                        bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()}, refresh=False)
                        sums, count = {}, 0
                    evaluated = self._maybe_evaluate(logger)
                    if evaluated is not None:
                        last_metrics = evaluated
                    if evaluated is not None or self._checkpoint_due():
                        self.save(self.run.latest_checkpoint)
                    if stopping:
                        interrupted = True
                        self.save(self.run.latest_checkpoint)
                        break
            if parallel:
                self.distributed.check_in_sync(self.task.modules())
        finally:
            bar.close()
            logger.close()
        return FitResult(self.step, last_metrics, self.best_value, self.best_step, interrupted, self.earlier_seconds)

    def _checkpoint_due(self) -> bool:
        every = self.loop.checkpoint_every
        return bool(every) and self.step % every == 0

    def _maybe_evaluate(self, logger: RunLogger) -> dict[str, float] | None:
        every = self.loop.eval_every
        if not (self.step == self.loop.steps or (every and self.step % every == 0)):
            return None
        if not self.is_main:
            return {}  # rank 0 evaluates; no collective runs inside evaluate, so the others go on
        metrics = self.task.evaluate(self.step, self.run, logger)
        if metrics:
            logger.log(self.step, "eval", metrics)
        name = self.loop.best_metric
        if name is not None and name in metrics:
            value = metrics[name]
            better = self.best_value is None or (
                value > self.best_value if self.loop.best_mode == "max" else value < self.best_value
            )
            if better:
                self.best_value, self.best_step = value, self.step
                self.save(self.run.best_checkpoint)
        return metrics

