"""The layout of a run's output folder, shared by every command.

::

    DIR/
      config.json            the full config that made the run
      metrics.jsonl          one JSON object per logged event
      checkpoints/latest.pt  resumes the run (see checkpoint.py)
      checkpoints/best.pt    the best evaluation so far
      samples/               PNG grids written at each evaluation
      tensorboard/           TensorBoard event files
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import atomic_write, write_json


class RunFolder:
    """Paths and small file operations of one run's output folder."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def latest_checkpoint(self) -> Path:
        return self.checkpoints / "latest.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def has_run(self) -> bool:
        return self.latest_checkpoint.is_file()

    def prepare(self, config: dict[str, Any], resume: bool, write: bool = True) -> None:
        """Create the folder and write ``config.json``.

        A folder that already holds a run is only reused with ``resume``, and
        then only with the same config, so that results never mix silently.
        With ``write=False`` (non-zero ranks of a distributed run) only check.
        """
        if self.has_run() and not resume:
            raise ConfigError(f"{self.root} already holds a run: pass --resume to continue it, or choose another --out")
        if resume and self.config_path.is_file():
            stored = json.loads(self.config_path.read_text())
            changed = changed_keys(_without_budget(stored), _without_budget(config))
            if changed:
                raise ConfigError(f"{self.root}: cannot resume with a different config (changed: {', '.join(changed)})")
        if write:
            self.root.mkdir(parents=True, exist_ok=True)
            write_json(self.config_path, config)

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every record of ``metrics.jsonl``, oldest first (skips a torn last line)."""
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records logged after ``after_step``: a resumed run logs them again."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= after_step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write(self.metrics_path, lambda tmp: Path(tmp).write_text(text))


def changed_keys(stored: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Top-level keys whose values differ between a stored config and ``config``.

    A key that ``config`` has and ``stored`` lacks at any depth is an option
    added by a later version of the library: the stored run used what is now
    its default, so it does not count as a change.
    """
    return sorted(k for k in set(stored) | set(config) if k not in config or (k in stored and _differs(stored[k], config[k])))


def _differs(stored: Any, current: Any) -> bool:
    if isinstance(stored, dict) and isinstance(current, dict):
        return bool(changed_keys(stored, current))
    return stored != current


def _without_budget(config: dict[str, Any]) -> dict[str, Any]:
    # The training length may grow on resume ("train 5 more epochs").
    return {k: v for k, v in config.items() if k not in ("steps", "epochs")}
