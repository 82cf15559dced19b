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
from .identity import config_changes


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

    def prepare(self, config: dict[str, Any], resume: bool, write: bool = True, cls: type | None = None) -> None:
        """Create the folder and write ``config.json``.

        A folder that already holds a run is only reused with ``resume``, and
        then only with the same config (see :mod:`.identity`; ``cls``: the
        config's dataclass, so that a run stored by an older version compares
        as it would be written now), so that results never mix silently.
        With ``write=False`` (non-zero ranks of a distributed run) only check.
        """
        if self.has_run() and not resume:
            raise ConfigError(f"{self.root} already holds a run: pass --resume to continue it, or choose another --out")
        if resume and self.config_path.is_file():
            stored = json.loads(self.config_path.read_text())
            # The training length may grow on resume ("train 5 more epochs").
            changed = config_changes(stored, config, cls, ignore=("steps", "epochs"))
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
