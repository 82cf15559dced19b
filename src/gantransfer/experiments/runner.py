"""Run a whole benchmark grid into one folder, resumably, and render its report.

The folder's layout: :mod:`.layout`.

Running the same command again continues where it stopped: a finished
cell (its ``metrics.json`` has the cell's config) is not recomputed, a
half-finished one resumes from its latest checkpoint (or restarts cleanly
when it had none), and ``results.jsonl`` is rebuilt from the cell folders,
so an interruption at any moment loses and duplicates nothing. The same
command started in a second terminal, while the first runs, takes the cells
the first has not claimed: one process per core or per GPU shares the grid.
A cell whose shared stage another process is training is put off until the
cells after it have been tried, so the second process does not idle on it.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..config import to_dict
from ..data import DataOptions, SplitOptions, describe_domain
from ..engine.device import resolve_device
from ..engine.identity import config_changes
from ..engine.run_folder import RunFolder
from ..engine.run_kinds import BENCHMARK as BENCHMARK_RUN
from ..engine.run_kinds import check_folder, record_kind
from ..engine.stage_cache import StageBusy
from ..errors import ConfigError, GanTransferError
from ..fileio import file_lock, write_json
from ..methods.config import TransferConfig
from ..methods.transfer import METRICS_FILE, transfer
from .document import format_duration
from .grid import BenchmarkConfig, Cell
from .layout import BENCHMARK_FILE, CELLS, CLAIMS, RESULT_FILE
from .report import render_report
from .results import RESULTS_FILE, cell_record, write_results
from .tracking import Trackers


def run_benchmark(
    grid: BenchmarkConfig,
    out: str | os.PathLike,
    data: DataOptions = DataOptions(),
    stages_dir: str | os.PathLike | None = None,
    progress_bar: bool = True,
    wandb_project: str | None = None,
    report: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run every cell of ``grid`` into ``out`` (skipping finished ones) and return the finished cells'
    results lines, in grid order.

    Several processes may run the same grid into the same ``out`` at once (one per core or per GPU):
    each claims the cell it runs, and takes the next cell that no other process holds; a shared stage
    is trained by whichever needs it first, and a cell that needs it in another process is put off
    until every later cell has been tried (then it waits for the stage).

    Args:
        grid: the study.
        out: the benchmark folder (created; an existing one is continued).
        data: where the datasets are.
        stages_dir: folder of shared stages (default ``out/stages``, so the study is self-contained).
        progress_bar: show the training progress bars of each cell.
        wandb_project: also log each finished cell to this W&B project.
        report: render ``report.md`` and ``report.html`` at the end.
        log: receives one line per cell start and finish.
    """
    out = Path(out)
    stages = Path(stages_dir) if stages_dir else out / "stages"
    cells = grid.cells()
    check_folder(out, BENCHMARK_RUN)
    check_cell_folders(cells, out)
    check_cell_data(cells, out, data)
    trackers = Trackers(out, grid.name, wandb_project)  # fails now, not after the first cell, without wandb
    record_kind(out, BENCHMARK_RUN)
    write_json(out / BENCHMARK_FILE, {"name": grid.name, "description": grid.description, "grid": grid.as_dict(),
                                      "stages_dir": _portable(stages, out), "cells": [cell.id for cell in cells]})
    records = {cell.id: record for cell in cells if (record := finished_record(cell, out)) is not None}
    refresh_results(out, cells)
    progress = Progress(len(cells), records.values(), log)
    log(f"benchmark {grid.name!r}: {len(cells)} cells, {len(records)} finished earlier; stages in {stages}")
    elsewhere: list[Cell] = []
    pending = [(index, cell) for index, cell in enumerate(cells, 1) if cell.id not in records]
    try:
        # First pass: a cell whose shared stage another process is training waits for a second
        # pass, so that this process runs other cells meanwhile instead of idling on the lock.
        for wait_for_stages in (False, True):
            waiting: list[tuple[int, Cell]] = []
            for index, cell in pending:
                with file_lock(claim_path(out, cell), wait=False) as mine:
                    # Looked at under the claim: another process may have finished the cell meanwhile.
                    if (finished := finished_record(cell, out)) is not None:
                        records[cell.id] = finished
                        continue
                    if not mine:
                        log(f"[{index}/{len(cells)}] {cell.id}: running in another process; taking the next cell")
                        elsewhere.append(cell)
                        continue
                    progress.started(index, cell, [c for c in cells[index - 1:] if c.id not in records])
                    try:
                        record = run_cell(cell, out, data, stages, progress_bar, wait_for_stages)
                    except StageBusy as busy:
                        log(f"[{index}/{len(cells)}] {cell.id}: another process is training its stage "
                            f"{busy.folder.name}; taking the next cell, this one after")
                        waiting.append((index, cell))
                        continue
                records[cell.id] = record
                refresh_results(out, cells)
                trackers.cell_finished(record)
                progress.finished(index, cell, record)
            pending = waiting
    except KeyboardInterrupt:
        log(f"interrupted; run the same command again to continue ({len(records)} of {len(cells)} cells finished)")
        raise
    finally:
        trackers.close()
    records.update((cell.id, finished) for cell in elsewhere if (finished := finished_record(cell, out)) is not None)
    if running := [cell.id for cell in elsewhere if cell.id not in records]:
        log(f"{len(running)} cells still running in other processes ({', '.join(running[:3])}"
            f"{', ...' if len(running) > 3 else ''}): the report covers the {len(records)} finished so far; "
            "the process that finishes last renders it again")
    if report:
        path = render_report(out, data, log=log)
        log(f"report: {path} and {path.with_suffix('.html')}")
    return [records[cell.id] for cell in cells if cell.id in records]


def claim_path(out: Path, cell: Cell) -> Path:
    """The lock file a process holds while it runs ``cell`` (kept out of the cell's run folder)."""
    return out / CLAIMS / f"{cell.id.replace('/', '--')}.lock"


def refresh_results(out: Path, cells: list[Cell]) -> None:
    """Rewrite ``results.jsonl`` from the finished cell folders; one process at a time, so that two
    finishing together cannot each write a file without the other's cell."""
    with file_lock(out / CLAIMS / "results.lock"):
        write_results(out / RESULTS_FILE, collect_records(out, [cell.id for cell in cells]))


def _portable(path: Path, out: Path) -> str:
    """``path`` relative to ``out`` when inside it (the folder can move), else absolute."""
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def cell_folder(out: Path, cell: Cell) -> Path:
    return out / CELLS / cell.id


def run_cell(cell: Cell, out: Path, data: DataOptions, stages: Path, progress_bar: bool,
             wait_for_stages: bool = True) -> dict[str, Any]:
    """Train and evaluate one cell (resuming it if half-finished); write and return its results line.

    ``wait_for_stages=False``: raise :class:`StageBusy` where another process trains a stage it needs."""
    folder = cell_folder(out, cell)
    clear_unresumable(folder)
    try:
        metrics = transfer(cell.config, folder, data, stages, progress_bar=progress_bar,
                           wait_for_stages=wait_for_stages)
    except GanTransferError as error:
        raise type(error)(f"cell {cell.id}: {error}") from None
    record = cell_record(cell, metrics, describe_machine(cell.config.acceleration.device))
    write_json(folder / RESULT_FILE, record)
    return record


def finished_record(cell: Cell, out: Path) -> dict[str, Any] | None:
    """The results line of a cell that already finished (None if it did not);
    written to ``result.json`` if an interruption came between the two files."""
    folder = cell_folder(out, cell)
    if not (folder / METRICS_FILE).is_file():
        return None
    if (folder / RESULT_FILE).is_file():
        return json.loads((folder / RESULT_FILE).read_text())
    metrics = json.loads((folder / METRICS_FILE).read_text())
    record = cell_record(cell, metrics, describe_machine(cell.config.acceleration.device))
    write_json(folder / RESULT_FILE, record)
    return record


def collect_records(out: Path, order: list[str]) -> list[dict[str, Any]]:
    """Every finished cell's line under ``out/cells``: the grid's cells in grid
    order, then cells of earlier grids run into the same folder (kept, not lost)."""
    rank = {cell_id: index for index, cell_id in enumerate(order)}
    records = []
    for path in sorted((out / CELLS).glob(f"**/{RESULT_FILE}")):
        if (path.parent / METRICS_FILE).is_file():
            records.append(json.loads(path.read_text()))
    return sorted(records, key=lambda r: (rank.get(r.get("cell"), len(rank)), r.get("cell", "")))


def check_cell_folders(cells: list[Cell], out: Path) -> None:
    """Refuse to start when a cell's folder holds a run of another config (an
    edited grid), before anything runs, instead of failing hours later."""
    for cell in cells:
        folder = cell_folder(out, cell)
        for name in (METRICS_FILE, "config.json"):
            path = folder / name
            if not path.is_file():
                continue
            stored = json.loads(path.read_text())
            stored = stored.get("config", {}) if name == METRICS_FILE else stored
            changed = config_changes(stored, to_dict(cell.config), TransferConfig)
            if changed:
                raise ConfigError(
                    f"{folder} holds a run of another config (changed: {', '.join(changed[:4])}); "
                    "use another --out, or delete that folder to redo the cell"
                )
            break


def check_cell_data(cells: list[Cell], out: Path, data: DataOptions) -> None:
    """Refuse to continue a grid whose finished cells read other images than its domains hold now
    (a folder's files changed, or a built domain came out otherwise on this machine): their numbers
    and the new cells' would not measure one thing."""
    keys: dict[tuple[str, SplitOptions], str] = {}
    changed: dict[tuple[str, str, str], list[str]] = {}
    for cell in cells:
        path = cell_folder(out, cell) / METRICS_FILE
        if not path.is_file():
            continue
        recorded = json.loads(path.read_text()).get("data") or {}
        for role in ("source", "target"):
            then = (recorded.get(role) or {}).get("key")
            if then is None:  # a cell of a version that did not record it
                continue
            domain, splits = getattr(cell.config, role), cell.config.splits
            if (domain, splits) not in keys:
                keys[domain, splits] = describe_domain(domain, data, splits).key
            if then != keys[domain, splits]:
                changed.setdefault((domain, then, keys[domain, splits]), []).append(cell.id)
    if changed:
        lines = [f"{domain} was {then} in {len(ids)} finished cells ({', '.join(ids[:2])}{', ...' if len(ids) > 2 else ''}) "
                 f"and is {now} here" for (domain, then, now), ids in changed.items()]
        raise ConfigError(
            f"{out}: finished cells read other images than the domains hold now: {'; '.join(lines)} (the "
            "domain's files changed, or it was built on another machine or with other library versions: each "
            "cell's metrics.json lists them under 'packages'). Use another --out to run the grid on these "
            "images, or delete those cells"
        )


def clear_unresumable(folder: Path) -> bool:
    """A cell stopped before its first checkpoint restarts from step 0: drop its
    partial training log so the new one is not appended to it."""
    run = RunFolder(folder)
    if not folder.is_dir() or run.has_run() or (folder / METRICS_FILE).is_file():
        return False
    stale = [path for path in (run.metrics_path, run.tensorboard) if path.exists()]
    for path in stale:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return bool(stale)


def describe_machine(device: str) -> str:
    """``2 CPU cores`` or ``NVIDIA H200`` (with the CPU count): what the protocol asks to report."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    machine = f"{cores} CPU cores"
    try:
        resolved = resolve_device(device)
    except ConfigError:
        return machine
    if resolved.type == "cuda":
        return f"{torch.cuda.get_device_name(resolved)}, {machine}"
    if resolved.type == "mps":
        return f"Apple MPS, {machine}"
    return machine


class Progress:
    """One line per cell start and finish, with an estimate of the time left.

    A remaining cell is expected to take the mean wall time of the finished
    cells of its variant (earlier runs included), else of all finished cells.
    """

    def __init__(self, total: int, finished: Any, log: Callable[[str], None]) -> None:
        self.total = total
        self.log = log
        self.times: dict[str, list[float]] = {}
        for record in finished:
            self._add(record)

    def _add(self, record: dict[str, Any]) -> None:
        if isinstance(record.get("wall_seconds"), (int, float)):
            self.times.setdefault(record.get("variant", ""), []).append(float(record["wall_seconds"]))

    def estimate(self, remaining: list[Cell]) -> float | None:
        every = [t for times in self.times.values() for t in times]
        if not every:
            return None
        overall = statistics.fmean(every)
        return sum(statistics.fmean(self.times[c.variant]) if c.variant in self.times else overall
                   for c in remaining)

    def started(self, index: int, cell: Cell, remaining: list[Cell]) -> None:
        """``remaining``: the cells still to run, this one included."""
        eta = self.estimate(remaining)
        left = f"{len(remaining)} to run" + (f", about {format_duration(eta)} left" if eta is not None else "")
        self.log(f"[{index}/{self.total}] {cell.id}: running ({left})")

    def finished(self, index: int, cell: Cell, record: dict[str, Any]) -> None:
        self._add(record)
        self.log(f"[{index}/{self.total}] {cell.id}: accuracy {100 * record['target_test_accuracy']:.1f}% "
                 f"in {format_duration(record['wall_seconds'])}")
