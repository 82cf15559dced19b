"""The layout of a run's output folder, shared by every command.

::

    DIR/
      run.json               what kind of run it is (see run_kinds.py)
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
from ..fileio import atomic_write, is_temporary, read_json, remove_stale_temporaries, write_json
from .identity import config_changes
from .run_kinds import RUN_FILE, check_folder, record_kind


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

    def stored_config(self) -> dict[str, Any] | None:
        """The config in ``config.json`` (plain values), None when there is none."""
        if not self.config_path.is_file():
            return None
        stored = read_json(self.config_path)
        if not isinstance(stored, dict):
            raise ConfigError(f"{self.config_path}: expected a JSON object")
        return stored

    def check(self, config: dict[str, Any], resume: bool, cls: type | None = None, kind: str | None = None) -> None:
        """Raise :class:`ConfigError` unless ``config`` may run here; write nothing.

        A folder holding another ``kind`` of run is refused (see :mod:`.run_kinds`);
        one that already holds a run is only reused with ``resume``, and then
        only with the same config (see :mod:`.identity`; ``cls``: the config's
        dataclass, so that options a stored config leaves out compare at their
        defaults), so that results never mix silently.
        """
        check_folder(self.root, kind)
        if self.has_run() and not resume:
            raise ConfigError(f"{self.root} already holds a run: pass --resume to continue it, or choose another --out")
        stored = self.stored_config() if resume else None
        if stored is not None and self._holds_results():
            # The training length may grow on resume ("train 5 more epochs").
            changed = config_changes(stored, config, cls, ignore=("steps", "epochs"))
            if changed:
                raise ConfigError(f"{self.root}: cannot resume with a different config (changed: {', '.join(changed)})")

    def _holds_results(self) -> bool:
        """Whether anything beside the config was written: a run that failed before
        training (a bad option found late) leaves nothing a new config could mix with."""
        return any(path.name not in (self.config_path.name, RUN_FILE) and not is_temporary(path)
                   for path in self.root.iterdir())

    def prepare(self, config: dict[str, Any], resume: bool, write: bool = True, cls: type | None = None,
                kind: str | None = None) -> None:
        """:meth:`check`, then create the folder, clear what killed writes left in it,
        record its ``kind`` and write ``config.json``.

        With ``write=False`` (non-zero ranks of a distributed run) only check.
        """
        self.check(config, resume, cls, kind)
        if not write:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # The run starting now is the only writer in its folders: any temporary there is a killed write's.
        for folder in (self.root, self.checkpoints, self.samples):
            remove_stale_temporaries(folder)
        if kind is not None:
            record_kind(self.root, kind)
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
