"""``results.jsonl``: one JSON line per finished cell, and what the report computes from it.

A line is the cell's ``metrics.json`` (see :mod:`gantransfer.methods.transfer`)
with the cell's place in the grid in front::

    {"cell": "mnist-usps/finetune/k10/seed0", "direction": "mnist-usps", "variant": "finetune",
     "method": "finetune", "k": 10, "seed": 0, "self_train": false, "uses_unlabelled_target": false,
     "target_test_accuracy": 0.925, "wall_seconds": 41.2, "confusion_matrix": [[...]], "config": {...}, ...}

A hand-written file needs only ``method``, ``k``, ``seed`` and
``target_test_accuracy`` (a fraction in [0, 1]) on each line; ``direction``
(or ``source`` and ``target``), ``variant``, ``self_train``,
``uses_unlabelled_target``, ``wall_seconds``, ``confusion_matrix`` and
``validation_scores`` (a mapping of score names to numbers, see
:mod:`gantransfer.evaluation.validation_scores`) add to the report when present.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import atomic_write, read_text
from .grid import SELF_TRAIN_SUFFIX, Cell, domain_label

RESULTS_FILE = "results.jsonl"

LABELLED_ONLY = "labelled images only"  # the source and the k target labels: no unlabelled target image
WITH_UNLABELLED = "with unlabelled target images"


def cell_record(cell: Cell, metrics: dict[str, Any], machine: str) -> dict[str, Any]:
    """The results line of a finished cell: where it sits in the grid, then its metrics."""
    return {"cell": cell.id, "direction": cell.direction, "variant": cell.variant, **metrics, "machine": machine}


def write_results(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> None:
    """Replace ``path`` with ``records``, atomically."""
    text = "".join(json.dumps(record) + "\n" for record in records)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


@dataclass(frozen=True)
class Result:
    """One finished cell, as the report needs it."""

    direction: str
    variant: str
    method: str
    k: int
    seed: int
    self_train: bool
    uses_unlabelled_target: bool
    accuracy: float
    wall_seconds: float | None = None
    cell: str | None = None
    source: str | None = None
    target: str | None = None
    confusion: tuple[tuple[int, ...], ...] | None = None
    class_names: tuple[str, ...] | None = None
    machine: str | None = None
    scores: dict[str, float] | None = field(default=None, hash=False)
    """The validation scores computed without target labels (None: the cell has none)."""
    validation_accuracy: float | None = None
    """Accuracy in [0, 1] on the held-out labelled target images (None: the run held none out)."""

    @property
    def setting(self) -> str:
        return WITH_UNLABELLED if self.uses_unlabelled_target else LABELLED_ONLY


def read_results(path: str | os.PathLike) -> tuple[list[Result], list[str]]:
    """The results in ``path`` and notes about what was skipped.

    A malformed line raises :class:`ConfigError` naming the line, except a
    torn last line (an interrupted append), which is skipped with a note.
    Repeated cells (same direction, variant, k and seed) keep their last line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (run `gantransfer benchmark` first)")
    text = read_text(path)
    lines = text.splitlines()
    notes: list[str] = []
    found: dict[tuple, Result] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) and not text.endswith("\n"):
                notes.append(f"{path.name}: skipped a torn last line (re-run the benchmark to rebuild the file)")
                continue
            raise ConfigError(f"{path}, line {number}: not valid JSON") from None
        result = parse_result(data, f"{path}, line {number}")
        found[(result.direction, result.variant, result.k, result.seed)] = result
    return list(found.values()), notes


def parse_result(data: Any, where: str) -> Result:
    """A :class:`Result` from one results line, checked."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    method = _field(data, "method", str, where)
    k = _field(data, "k", int, where)
    seed = _field(data, "seed", int, where)
    accuracy = float(_field(data, "target_test_accuracy", float, where))
    if not 0.0 <= accuracy <= 1.0:
        raise ConfigError(f"{where}: target_test_accuracy must be a fraction in [0, 1], got {accuracy}")
    self_train = bool(data.get("self_train", False))
    source, target = data.get("source"), data.get("target")
    direction = data.get("direction") or (
        f"{domain_label(source)}-{domain_label(target)}" if source and target else "unknown")
    confusion = data.get("confusion_matrix")
    per_class = data.get("per_class_accuracy")
    wall = data.get("wall_seconds")
    return Result(
        direction=str(direction),
        variant=str(data.get("variant") or method + (SELF_TRAIN_SUFFIX if self_train else "")),
        method=method,
        k=k,
        seed=seed,
        self_train=self_train,
        uses_unlabelled_target=bool(data.get("uses_unlabelled_target", self_train)),
        accuracy=accuracy,
        wall_seconds=float(wall) if isinstance(wall, (int, float)) else None,
        cell=data.get("cell"),
        source=source,
        target=target,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion) if _is_matrix(confusion) else None,
        class_names=tuple(per_class) if isinstance(per_class, dict) else None,
        machine=data.get("machine"),
        scores=_scores(data.get("validation_scores")),
        validation_accuracy=_fraction(data.get("target_validation_accuracy")),
    )


def _fraction(value: Any) -> float | None:
    """A finite number in [0, 1], or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return float(value)
    return None


def _scores(value: Any) -> dict[str, float] | None:
    """The finite numbers of a ``validation_scores`` mapping (None entries are scores a cell
    could not compute); None when there are none."""
    if not isinstance(value, dict):
        return None
    numbers = {str(name): float(v) for name, v in value.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    return numbers or None


def _field(data: dict, key: str, kind: type, where: str):
    if key not in data:
        raise ConfigError(f"{where}: missing key {key!r}")
    value = data[key]
    ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
    if isinstance(value, bool) or not ok:
        raise ConfigError(f"{where}: {key} must be {'a number' if kind is float else kind.__name__}, got {value!r}")
    return value


def _is_matrix(value: Any) -> bool:
    return (isinstance(value, list) and len(value) > 0 and all(isinstance(row, list) for row in value)
            and all(len(row) == len(value) for row in value))


@dataclass(frozen=True)
class Summary:
    """Accuracy of one (direction, setting, variant, k) over its seeds.

    Attributes:
        mean, std: in [0, 1]; ``std`` is the sample standard deviation, None for one seed.
        seeds: the seeds that finished.
        wall_seconds: mean wall time of a cell, None when unknown.
    """

    direction: str
    setting: str
    variant: str
    method: str
    k: int
    mean: float
    std: float | None
    seeds: tuple[int, ...]
    wall_seconds: float | None

    @property
    def n(self) -> int:
        return len(self.seeds)


def summarize(results: Iterable[Result]) -> list[Summary]:
    """Mean and standard deviation over seeds, per (direction, setting, variant, k)."""
    groups: dict[tuple, list[Result]] = {}
    for result in results:
        groups.setdefault((result.direction, result.setting, result.variant, result.k), []).append(result)
    summaries = []
    for (direction, setting, variant, k), members in groups.items():
        accuracies = [m.accuracy for m in members]
        walls = [m.wall_seconds for m in members if m.wall_seconds is not None]
        summaries.append(Summary(
            direction, setting, variant, members[0].method, k,
            mean=statistics.fmean(accuracies),
            std=statistics.stdev(accuracies) if len(accuracies) > 1 else None,
            seeds=tuple(sorted(m.seed for m in members)),
            wall_seconds=statistics.fmean(walls) if walls else None,
        ))
    return summaries


def format_accuracy(mean: float, std: float | None) -> str:
    """``87.9 ± 1.2`` in percent (``87.9`` for a single seed)."""
    if std is None or math.isnan(std):
        return f"{100 * mean:.1f}"
    return f"{100 * mean:.1f} ± {100 * std:.1f}"
