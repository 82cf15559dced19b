"""The shared loop: callbacks, the progress each step gets, heartbeat lines, and a resumed
run that logs the uninterrupted run's curve."""

from __future__ import annotations

import signal

import pytest
import torch
from torch import nn

from gantransfer.data import BatchStream
from gantransfer.engine.run_folder import RunFolder
from gantransfer.engine.trainer import (
    Callback,
    Heartbeat,
    LoopConfig,
    Progress,
    Trainer,
    TrainingTask,
)
from gantransfer.errors import CheckpointError


class CountingTask(TrainingTask):
    """A one-parameter task whose loss at step t is a known number, and which records the
    progress it was handed."""

    kind = "counting"

    def __init__(self) -> None:
        self.weight = nn.Parameter(torch.zeros(1))
        self.optimizer = torch.optim.SGD([self.weight], lr=0.1)
        self.seen: list[Progress] = []

    def modules(self):
        return {"net": nn.ParameterList([self.weight])}

    def optimizers(self):
        return {"net": self.optimizer}

    def train_step(self, progress: Progress) -> dict[str, float]:
        self.seen.append(progress)
        self.optimizer.zero_grad()
        loss = (self.weight - 1).square().sum()
        loss.backward()
        self.optimizer.step()
        return {"loss": float(progress.step) ** 2, "other": 1.0}

    def evaluate(self, step, run, logger):
        return {"task_metric": float(step)}


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_fit_start(self, trainer):
        self.events.append(("start", trainer.step))

    def on_step_end(self, trainer, losses):
        self.events.append(("step", trainer.step, losses["loss"]))

    def on_evaluate(self, trainer, metrics):
        self.events.append(("evaluate", trainer.step, dict(metrics)))
        return {"extra": 10.0 * trainer.step}

    def on_checkpoint(self, trainer, path):
        self.events.append(("checkpoint", trainer.step, path.name))

    def on_fit_end(self, trainer, result):
        self.events.append(("end", result.step, result.interrupted))


def _run(path) -> RunFolder:
    run = RunFolder(path)
    run.prepare({}, resume=True)
    return run


def _loop(**options) -> LoopConfig:
    return LoopConfig(**{"steps": 6, "progress_bar": False, "tensorboard": False, "heartbeat_seconds": 0,
                         **options})


def test_callbacks_are_called_at_each_point_of_the_loop_and_add_metrics(tmp_path):
    task, recorder = CountingTask(), Recorder()
    run = _run(tmp_path / "run")
    result = Trainer(task, run, _loop(eval_every=3, best_metric="extra", best_mode="max"), {},
                     callbacks=[recorder]).fit()
    assert [p.step for p in task.seen] == [0, 1, 2, 3, 4, 5]
    assert [p.fraction for p in task.seen] == [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6]
    kinds = [event[0] for event in recorder.events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("step") == 6
    # The task's metrics come first, the callback sees them and adds its own.
    assert ("evaluate", 3, {"task_metric": 3.0}) in recorder.events
    assert ("checkpoint", 3, "best.pt") in recorder.events and ("checkpoint", 6, "latest.pt") in recorder.events
    evaluations = [r for r in run.read_metrics() if r["phase"] == "eval"]
    assert [(r["step"], r["task_metric"], r["extra"]) for r in evaluations] == [(3, 3.0, 30.0), (6, 6.0, 60.0)]
    assert result.best_step == 6 and result.metrics["extra"] == 60.0


def test_logged_losses_average_the_window_and_a_resumed_run_logs_the_same_curve(tmp_path):
    class StopAt(Callback):
        def on_step_end(self, trainer, losses):
            if trainer.step == 4:  # in the middle of the second window of three steps
                signal.raise_signal(signal.SIGINT)

    loop = _loop(log_every=3)
    straight = _run(tmp_path / "straight")
    Trainer(CountingTask(), straight, loop, {}).fit()
    train = [r for r in straight.read_metrics() if r["phase"] == "train"]
    assert [(r["step"], r["loss"]) for r in train] == [(3, (0 + 1 + 4) / 3), (6, (9 + 16 + 25) / 3)]

    halves = _run(tmp_path / "halves")
    first = Trainer(CountingTask(), halves, loop, {}, callbacks=[StopAt()]).fit()
    assert first.interrupted and first.step == 4
    Trainer(CountingTask(), halves, loop, {}).fit(resume=True)

    def curve(run):
        return [{k: v for k, v in r.items() if k != "time"} for r in run.read_metrics()]

    assert curve(halves) == curve(straight)


def test_heartbeat_says_where_training_is_once_a_period():
    times = iter([0.0, 10.0, 30.0, 61.0, 70.0, 125.0])
    lines: list[str] = []
    heartbeat = Heartbeat(60.0, clock=lambda: next(times), write=lines.append)

    class Fake:
        step = 0
        loop = LoopConfig(steps=5)
        label = "source classifier"

    trainer = Fake()
    heartbeat.on_fit_start(trainer)
    for step, loss in enumerate([4.0, 2.0, 3.0, 1.0, 5.0], start=1):
        trainer.step = step
        heartbeat.on_step_end(trainer, {"loss": loss})
    # A line at 61 s (three steps done, mean loss since the start 3) and one at the last step.
    assert lines == ["source classifier: step 3/5 (60%), loss 3, 1m01s in, about 0m41s left",
                     "source classifier: step 5/5 (100%), loss 3, 2m05s in"]


def test_a_trainer_without_a_progress_bar_writes_heartbeat_lines(tmp_path, capsys):
    Trainer(CountingTask(), _run(tmp_path / "run"), _loop(heartbeat_seconds=1e-9, label="probe"), {}).fit()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 6 and lines[-1].startswith("probe: step 6/6 (100%), loss 25")


@pytest.mark.parametrize("steps", [0, -1])
def test_loop_needs_a_step(steps):
    from gantransfer.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one step"):
        LoopConfig(steps=steps)


class StreamTask(CountingTask):
    """CountingTask pulled towards the next image of a shuffled stream each step: its weights depend
    on where the stream stood, so a stream a checkpoint forgot would show."""

    def __init__(self, track: bool = True) -> None:
        super().__init__()
        self.stream = BatchStream((torch.arange(10.0),), batch_size=1, seed=0)
        if track:
            self.track(stream=self.stream)  # the only line a task needs for exact resume

    def train_step(self, progress: Progress) -> dict[str, float]:
        (target,) = next(self.stream)
        self.optimizer.zero_grad()
        (self.weight - target).square().sum().backward()
        self.optimizer.step()
        return {"loss": 0.0}


@pytest.mark.parametrize("track", [True, False])
def test_a_stream_a_task_tracks_resumes_exactly_without_checkpoint_code(tmp_path, track):
    straight = StreamTask(track)
    Trainer(straight, _run(tmp_path / "straight"), _loop(steps=6, eval_every=3), {}).fit()

    first = StreamTask(track)
    Trainer(first, _run(tmp_path / "resumed"), _loop(steps=3), {}).fit()
    second = StreamTask(track)  # a new process: the stream starts over unless the checkpoint restores it
    Trainer(second, _run(tmp_path / "resumed"), _loop(steps=6), {}).fit(resume=True)
    assert torch.equal(second.weight, straight.weight) is track


def test_a_checkpoint_without_a_tracked_state_is_refused(tmp_path):
    task = StreamTask()
    with pytest.raises(CheckpointError, match="no state for 'stream'"):
        task.load_state_dict({})
