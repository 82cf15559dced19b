"""A benchmark grid (directions x methods x k x seeds) read from a YAML file.

::

    name: mnist-usps-quick
    directions:
      - {source: mnist, target: usps}
    k: [1, 10]                    # labelled target images per class
    seeds: [0, 1]
    defaults:                     # a TransferConfig diff applied to every cell
      training: {steps: 300}
    methods:
      - {method: source-only, k: [0], self_train: [false, true]}
      - finetune                  # shorthand for {method: finetune}
      - method: gan-features
        label: gan-features-frozen
        options: {gan_features: {freeze_trunk: true}}

Every combination is a :class:`Cell`, whose :class:`TransferConfig` is the
library's defaults, then ``defaults``, then the method's ``options``, then the
cell's own source, target, method, k, seed and self_train. Everything is
checked when the file is loaded, so a typo fails in a second with the key it
is at, not hours later in the cell that uses it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import from_dict, load_yaml, merge, to_dict
from ..errors import ConfigError
from ..methods import METHODS, TransferConfig

GRID_KEYS = ("source", "target", "method", "k", "seed", "self_train")
"""TransferConfig fields that the grid sets per cell; ``defaults`` and ``options`` may not."""

_GRID_KEY_HOME = {"source": "directions", "target": "directions", "method": "methods[i].method",
                  "k": "k or methods[i].k", "seed": "seeds", "self_train": "methods[i].self_train"}

SELF_TRAIN_SUFFIX = "-self-train"
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def domain_label(domain: str) -> str:
    """A short, folder-safe name for a domain: ``mnist``, or a path's stem (``data/usps200.npz`` -> ``usps200``)."""
    name = Path(domain.rstrip("/\\")).stem
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name.lower()) or "domain"


@dataclass(frozen=True)
class Direction:
    """One source -> target pair.

    Args:
        source, target: domains (``mnist``, ``usps`` or paths to custom domains).
        name: its name in folders and in the report (default: ``<source>-<target>``).
    """

    source: str = ""
    target: str = ""
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.source or not self.target:
            raise ConfigError("both source and target are required")
        if self.name is not None and not _FOLDER_NAME.match(self.name):
            raise ConfigError(f"name must be letters, digits and . _ + - only, got {self.name!r}")

    @property
    def label(self) -> str:
        return self.name or f"{domain_label(self.source)}-{domain_label(self.target)}"


@dataclass(frozen=True)
class MethodEntry:
    """One method of the grid, with its own options.

    Args:
        method: a registered method (``gantransfer transfer --help`` lists them).
        label: its name in folders and tables (default: the method); list a
            method twice with different options under two labels.
        k: this method's k values instead of the grid's (``[0]`` for methods
            that do not use target labels, such as source-only and oracle).
        self_train: the variants to run: ``[false]``, ``[true]`` or ``[false, true]``.
        options: a TransferConfig diff for this method, on top of the grid's ``defaults``.
    """

    method: str = ""
    label: str | None = None
    k: tuple[int, ...] | None = None
    self_train: tuple[bool, ...] = (False,)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label or self.method


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a direction, a method variant, k and a seed.

    Attributes:
        direction: the direction's name (``mnist-usps``).
        variant: the method's label, with ``-self-train`` for self-training variants.
        config: the complete transfer config of this run.
    """

    direction: str
    variant: str
    config: TransferConfig

    @property
    def id(self) -> str:
        """Its folder below ``DIR/cells``: ``mnist-usps/finetune/k10/seed0``."""
        return f"{self.direction}/{self.variant}/k{self.config.k}/seed{self.config.seed}"

    @property
    def uses_unlabelled_target(self) -> bool:
        return self.config.self_train or METHODS[self.config.method].uses_unlabelled


@dataclass(frozen=True)
class BenchmarkConfig:
    """A whole study. Build it with :func:`load_benchmark` or :func:`benchmark_from_dict`.

    Args:
        name: shown in the report's title and progress lines.
        description: a sentence for the report.
        directions: the source -> target pairs.
        methods: the methods, each with its options.
        k: labelled target images per class (each method may override).
        seeds: seeds of every cell (the k-shot draw, weights, data order).
        defaults: a TransferConfig diff applied to every cell.
    """

    name: str = "benchmark"
    description: str = ""
    directions: tuple[Direction, ...] = ()
    methods: tuple[MethodEntry, ...] = ()
    k: tuple[int, ...] = (10,)
    seeds: tuple[int, ...] = (0, 1, 2)
    defaults: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """Every cell, seed by seed, so that an interrupted study already holds
        complete tables for its first seeds."""
        cells = []
        for seed in self.seeds:
            for direction in self.directions:
                for entry in self.methods:
                    for self_train in entry.self_train:
                        for k in entry.k if entry.k is not None else self.k:
                            cells.append(self._cell(direction, entry, self_train, k, seed))
        return cells

    def _cell(self, direction: Direction, entry: MethodEntry, self_train: bool, k: int, seed: int) -> Cell:
        values = merge(merge(self.defaults, entry.options), {
            "source": direction.source, "target": direction.target, "method": entry.method,
            "k": k, "seed": seed, "self_train": self_train,
        })
        where = f"method {entry.name!r}, {direction.label}, k={k}, seed={seed}"
        variant = entry.name + (SELF_TRAIN_SUFFIX if self_train else "")
        return Cell(direction.label, variant, from_dict(TransferConfig, values, where=where))

    def as_dict(self) -> dict[str, Any]:
        return to_dict(self)


def load_benchmark(path: str | Path) -> BenchmarkConfig:
    """The grid in the YAML file ``path``; a mistake raises a one-line
    :class:`ConfigError` that names the file and the key."""
    try:
        return benchmark_from_dict(load_yaml(path))
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def benchmark_from_dict(data: dict[str, Any]) -> BenchmarkConfig:
    """Parse and check a grid given as plain values (a loaded YAML mapping)."""
    known = [f.name for f in dataclasses.fields(BenchmarkConfig)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (known: {', '.join(known)})")
    defaults = _diff(data.get("defaults", {}), "defaults", {})
    directions = tuple(from_dict(Direction, item, f"directions[{i}]")
                       for i, item in enumerate(_list(data.get("directions"), "directions")))
    methods = tuple(_method_entry(item, f"methods[{i}]", defaults)
                    for i, item in enumerate(_list(data.get("methods"), "methods")))
    grid = BenchmarkConfig(
        name=_string(data.get("name", "benchmark"), "name"),
        description=_string(data.get("description", ""), "description"),
        directions=directions,
        methods=methods,
        k=_ints(data.get("k", [10]), "k", minimum=0),
        seeds=_ints(data.get("seeds", [0, 1, 2]), "seeds", minimum=0),
        defaults=defaults,
    )
    _check_unique([d.label for d in directions], "directions", "name")
    _check_unique([f"{m.name}{SELF_TRAIN_SUFFIX if s else ''}" for m in methods for s in m.self_train],
                  "methods", "label")
    grid.cells()  # builds every cell's config, so that a bad combination fails now
    return grid


def _method_entry(item: Any, where: str, defaults: dict[str, Any]) -> MethodEntry:
    if isinstance(item, str):
        item = {"method": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a method name or a mapping, got {item!r}")
    item = dict(item)
    if "k" in item:
        item["k"] = list(_ints(item["k"], f"{where}.k", minimum=0))
    if "self_train" in item and isinstance(item["self_train"], bool):
        item["self_train"] = [item["self_train"]]
    if "options" in item:
        item["options"] = _diff(item["options"], f"{where}.options", defaults)
    entry = from_dict(MethodEntry, item, where)
    if entry.method not in METHODS:
        raise ConfigError(f"{where}.method: unknown method {entry.method!r} (choose one of {', '.join(sorted(METHODS))})")
    if entry.label is not None and not _FOLDER_NAME.match(entry.label):
        raise ConfigError(f"{where}.label: letters, digits and . _ + - only, got {entry.label!r}")
    if not entry.self_train or len(set(entry.self_train)) != len(entry.self_train):
        raise ConfigError(f"{where}.self_train: give [false], [true] or [false, true]")
    return entry


def _diff(value: Any, where: str, base: dict[str, Any]) -> dict[str, Any]:
    """A TransferConfig diff, checked on top of ``base``: no grid keys, no unknown keys, right types."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of TransferConfig values, got {value!r}")
    for key in GRID_KEYS:
        if key in value:
            raise ConfigError(f"{where}.{key}: set per cell by the grid; use {_GRID_KEY_HOME[key]} instead")
    from_dict(TransferConfig, merge(base, value), where)
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list, got {value!r}")
    return value


def _ints(value: Any, where: str, minimum: int) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
            raise ConfigError(f"{where}: expected integers >= {minimum}, got {item!r}")
    if not values or len(set(values)) != len(values):
        raise ConfigError(f"{where}: expected a non-empty list without repeats, got {value!r}")
    return tuple(values)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _check_unique(names: list[str], where: str, key: str) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ConfigError(f"{where}: {name!r} appears twice; give one of them another {key}")
        seen[name] = index
