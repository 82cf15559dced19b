"""The training loop every method shares.

A :class:`TrainingTask` knows its networks and what one step does; the
:class:`Trainer` owns everything around it: the step count, progress bar,
logging, evaluation schedule, checkpoints and exact resumption. Methods that
need more from the loop get it through :class:`Callback` hooks and the
:class:`Progress` every step receives, never by replacing the loop's code. A
user can skip the trainer and call ``task.train_step(Progress(i, n))`` in a
loop of their own.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
from .seeding import preserved_randomness


@dataclass(frozen=True)
class Progress:
    """Where a run stands when a step starts: ``step`` steps done of ``steps``.

    The trainer hands one to every :meth:`TrainingTask.train_step`, so a schedule
    (DANN's gradient reversal, say) reads the loop's clock instead of keeping its own.
    """

    step: int
    steps: int

    @property
    def fraction(self) -> float:
        """Share of training done before this step, in [0, 1)."""
        return self.step / self.steps


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
    def train_step(self, progress: Progress) -> dict[str, float]:
        """Do one optimisation step at ``progress``; return its losses as floats."""

    def evaluate(self, step: int, run: RunFolder, logger: RunLogger) -> dict[str, float]:
        """Metrics at ``step`` (and any pictures written to ``run``); none by default."""
        return {}

    def progress(self) -> dict[str, float]:
        """Extra values logged with the losses, e.g. ``{"epoch": 1.5}``."""
        return {}

    def track(self, **resumable: Any) -> None:
        """Declare non-network state a checkpoint holds, by name: anything with ``state_dict()`` and
        ``load_state_dict(state)`` (data streams, schedulers, loss scalers). Declared once, where the
        task makes it; :meth:`state_dict` saves it and :meth:`load_state_dict` restores it, so exact
        resume needs no checkpoint code in the task."""
        self.__dict__.setdefault("_tracked", {}).update(resumable)

    def state_dict(self) -> dict[str, Any]:
        """Non-network state to resume: every object declared with :meth:`track`, by its name."""
        return {name: value.state_dict() for name, value in self.__dict__.get("_tracked", {}).items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (a tracked name missing from ``state`` is an error:
        the checkpoint is of another task)."""
        for name, value in self.__dict__.get("_tracked", {}).items():
            if name not in state:
                raise CheckpointError(f"the checkpoint holds no state for {name!r} of this {self.kind} task")
            value.load_state_dict(state[name])


class Callback:
    """Code the trainer calls at fixed points of the loop (as Lightning's ``Callback``).

    Override any hook; the loop itself never changes. ``trainer.step`` is the
    number of steps done, ``trainer.task`` the task being trained. An exception
    raised by a hook stops training (the run folder keeps its last checkpoint).
    """

    def on_fit_start(self, trainer: "Trainer") -> None:
        """Before the first step of this session (after a resume's restore)."""

    def on_step_end(self, trainer: "Trainer", losses: dict[str, float]) -> None:
        """After each step, with that step's losses (not averaged)."""

    def on_evaluate(self, trainer: "Trainer", metrics: dict[str, float]) -> dict[str, float] | None:
        """At each evaluation (main process only), after the task's own ``metrics``;
        returns more metrics to log beside them (they may pick ``best.pt``)."""
        return None

    def on_checkpoint(self, trainer: "Trainer", path: Path) -> None:
        """After a checkpoint was written to ``path`` (main process only)."""

    def on_fit_end(self, trainer: "Trainer", result: "FitResult") -> None:
        """After the last step of this session, finished or stopped."""


#: steps between two saves of ``latest``, beside those at evaluations (about a minute of a 2-core CPU)
CHECKPOINT_EVERY = 500


@dataclass(frozen=True)
class LoopConfig:
    """When the trainer logs, evaluates and checkpoints.

    Args:
        steps: total optimisation steps, > 0.
        eval_every: evaluate every this many steps (0: at the end only).
        checkpoint_every: also save ``latest`` this often (0: at evaluations only); every loop
            of the library keeps the default, the one checkpoint policy: an interruption loses
            at most this many steps, and a save never changes what the run computes.
        log_every: average and log training losses over this many steps.
        best_metric: the evaluation metric that picks ``best.pt`` (None: no best).
        best_mode: ``"max"`` or ``"min"``: which direction is better.
        progress_bar: show a tqdm bar (hidden automatically when not a terminal);
            without one, a line every ``heartbeat_seconds`` says where training is.
        tensorboard: write TensorBoard events besides ``metrics.jsonl``.
        label: what the progress bar and heartbeat lines call this training
            (default: the task's kind).
        heartbeat_seconds: seconds between heartbeat lines (0: none).
    """

    steps: int
    eval_every: int = 0
    checkpoint_every: int = CHECKPOINT_EVERY
    log_every: int = 50
    best_metric: str | None = None
    best_mode: str = "min"
    progress_bar: bool = True
    tensorboard: bool = True
    label: str | None = None
    heartbeat_seconds: float = 60.0

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

    def raise_if_interrupted(self) -> None:
        """Raise :class:`KeyboardInterrupt` if a stop request ended training early: a
        stopped run (or stage) must resume next time, never pass for finished."""
        if self.interrupted:
            raise KeyboardInterrupt


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


class LossWindow:
    """Training losses summed since the last log line, so that each logged value
    averages ``log_every`` steps; saved in checkpoints, so that a resumed run
    logs exactly the curve an uninterrupted one would have."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, losses: dict[str, float]) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def means(self) -> dict[str, float]:
        return {key: total / self.count for key, total in self.sums.items()}

    def clear(self) -> None:
        self.sums, self.count = {}, 0

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.count = dict(state.get("sums", {})), int(state.get("count", 0))


class Trainer:
    """Runs a :class:`TrainingTask` for ``loop.steps`` steps in ``run``.

    Args:
        task: what to train.
        run: the output folder.
        loop: the schedule.
        config: the full run config (plain values), stored in every checkpoint.
        distributed: this process's place in a data-parallel run (see
            :mod:`.distributed`). Under several processes only rank 0
            evaluates, logs and saves; logged losses are averaged over ranks;
            a stop request on any rank stops all at the same step.
        seed: under several processes, each rank's random draws at step t
            are seeded from ``(seed, rank, t)``; None: ``config["seed"]``.
        callbacks: :class:`Callback` objects called at fixed points of the loop.
    """

    def __init__(
        self,
        task: TrainingTask,
        run: RunFolder,
        loop: LoopConfig,
        config: dict[str, Any],
        distributed: DistributedContext | None = None,
        seed: int | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.task = task
        self.run = run
        self.loop = loop
        self.config = config
        self.distributed = distributed or DistributedContext()
        self.is_main = self.distributed.is_main
        self.seed = int(config.get("seed", 0)) if seed is None else seed
        self.callbacks = list(callbacks)
        self.step = 0
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.earlier_seconds = 0.0
        self.session_start = time.time()
        self.window = LossWindow()

    @property
    def label(self) -> str:
        """What progress bars and heartbeat lines call this training."""
        return self.loop.label or self.task.kind

    # -- checkpoints -------------------------------------------------------
    def checkpoint_state(self, window: dict[str, Any] | None = None) -> dict[str, Any]:
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
            "log_window": window if window is not None else self.window.state_dict(),
        }

    def save(self, path: Path) -> None:
        """Write a checkpoint to ``path`` (every rank calls this; rank 0 writes)."""
        window = self.window.state_dict()
        if self.distributed.enabled and window["count"]:
            # Sums of rank means are rank means of sums: a resumed run's next log line is exact.
            window["sums"] = self.distributed.mean(window["sums"])
        self._write(path, window)

    def _write(self, path: Path, window: dict[str, Any] | None = None) -> None:
        if self.is_main:
            save_checkpoint(path, self.checkpoint_state(window))
            for callback in self.callbacks:
                callback.on_checkpoint(self, Path(path))

    def restore(self, path) -> None:
        """Load weights, optimisers, task state, RNG, step and the loss window from a checkpoint."""
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
        self.window.load_state_dict(state.get("log_window") or {})

    # -- the loop ----------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        """Train from scratch, or from ``run``'s latest checkpoint when ``resume``."""
        self.session_start = time.time()
        self.window.clear()
        if resume and self.run.has_run():
            self.restore(self.run.latest_checkpoint)
            if self.is_main:
                self.run.truncate_metrics(self.step)
        logger = RunLogger(
            self.run, tensorboard=self.loop.tensorboard, purge_step=self.step + 1 if resume else None, enabled=self.is_main
        )
        bar = tqdm(
            total=self.loop.steps,
            initial=self.step,
            desc=self.label,
            disable=not (self.loop.progress_bar and self.is_main) or None,
            dynamic_ncols=True,
        )
        callbacks = self.callbacks
        if bar.disable and self.is_main and self.loop.heartbeat_seconds:
            callbacks = [*callbacks, Heartbeat(self.loop.heartbeat_seconds)]
        last_metrics: dict[str, float] = {}
        interrupted = False
        parallel = self.distributed.enabled
        try:
            for callback in callbacks:
                callback.on_fit_start(self)
            with _StopRequest() as stop:
                while self.step < self.loop.steps:
                    if parallel:
                        self.distributed.seed_step(self.seed, self.step)
                    losses = self.task.train_step(Progress(self.step, self.loop.steps))
                    self.step += 1
                    bar.update(1)
                    self.window.add(losses)
                    for callback in callbacks:
                        callback.on_step_end(self, losses)
                    # Every rank must take the same branches below, or their collectives would not pair up.
                    stopping = self.distributed.any(stop.requested) if parallel else stop.requested
                    if self.step % self.loop.log_every == 0 or self.step == self.loop.steps:
                        means = self.distributed.mean(self.window.means())
                        logger.log(self.step, "train", {**means, **self.task.progress()})
                        bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()}, refresh=False)
                        self.window.clear()
                    evaluated = self._maybe_evaluate(logger, callbacks)
                    if evaluated is not None:
                        last_metrics = evaluated
                    if evaluated is not None or self._checkpoint_due() or stopping:
                        # A partial loss window travels in the checkpoint instead of being logged early.
                        self.save(self.run.latest_checkpoint)
                    if stopping:
                        interrupted = True
                        break
            if parallel:
                self.distributed.check_in_sync(self.task.modules())
        finally:
            bar.close()
            logger.close()
        result = FitResult(self.step, last_metrics, self.best_value, self.best_step, interrupted, self.earlier_seconds)
        for callback in callbacks:
            callback.on_fit_end(self, result)
        return result

    def _checkpoint_due(self) -> bool:
        every = self.loop.checkpoint_every
        return bool(every) and self.step % every == 0

    def _maybe_evaluate(self, logger: RunLogger, callbacks: Sequence[Callback]) -> dict[str, float] | None:
        every = self.loop.eval_every
        if not (self.step == self.loop.steps or (every and self.step % every == 0)):
            return None
        if not self.is_main:
            return {}  # rank 0 evaluates; no collective runs inside evaluate, so the others go on
        # Evaluation gets its own random state: how often a run is judged never changes what it
        # learns (stage names leave eval_every out on that promise).
        with preserved_randomness():
            metrics = dict(self.task.evaluate(self.step, self.run, logger))
            for callback in callbacks:
                metrics.update(callback.on_evaluate(self, metrics) or {})
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
                self._write(self.run.best_checkpoint)
        return metrics


class Heartbeat(Callback):
    """A line to stderr every ``seconds`` while training runs without a progress bar
    (``--no-progress``, or no terminal): label, step / steps, mean loss since the
    last line, time spent and an estimate of the time left."""

    def __init__(self, seconds: float = 60.0, clock=time.monotonic, write=None) -> None:
        self.seconds = seconds
        self.clock = clock
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.losses = LossWindow()

    def on_fit_start(self, trainer: Trainer) -> None:
        self.started = self.last = self.clock()
        self.first_step = trainer.step
        self.losses.clear()

    def on_step_end(self, trainer: Trainer, losses: dict[str, float]) -> None:
        self.losses.add(losses)
        now = self.clock()
        if now - self.last < self.seconds:
            return  # a run shorter than a period says nothing
        self.last = now
        done, total = trainer.step, trainer.loop.steps
        spent = now - self.started
        rate = (done - self.first_step) / spent if spent > 0 else 0.0
        left = f", about {_duration((total - done) / rate)} left" if rate > 0 and done < total else ""
        loss = self.losses.means().get("loss", next(iter(self.losses.means().values()), None))
        shown = f", loss {loss:.4g}" if loss is not None else ""
        self.write(f"{trainer.label}: step {done}/{total} ({100 * done / total:.0f}%){shown}, "
                   f"{_duration(spent)} in{left}")
        self.losses.clear()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
