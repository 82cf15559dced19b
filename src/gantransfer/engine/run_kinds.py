"""What a run folder holds, so that one command never writes into another command's run.

A folder records its kind in ``run.json`` (``{"kind": "gan"}``) when it is
prepared: ``gan`` (``pretrain``, and the GAN stages), ``transfer`` or
``benchmark``. Folders written before ``run.json`` existed, and the stages
that record none (source classifier, translators), are recognised by their
files (see :func:`recognised_kind`). A command finding another kind of run
where it was told to write refuses with one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import __version__
from ..errors import ConfigError
from ..fileio import read_json, write_json

RUN_FILE = "run.json"

GAN = "gan"
TRANSFER = "transfer"
BENCHMARK = "benchmark"
STAGE = "stage"  # a shared stage other than a GAN (source classifier, translators)


def folder_kind(root: str | os.PathLike) -> str | None:
    """The kind of run in ``root``: the one ``run.json`` records, else :func:`recognised_kind`."""
    root = Path(root)
    recorded = root / RUN_FILE
    if not recorded.is_file():
        return recognised_kind(root)
    data = read_json(recorded)
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        raise ConfigError(f"{recorded}: says no kind of run (expected {{\"kind\": ...}})")
    return kind


def recognised_kind(root: Path) -> str | None:
    """The kind of a run written before ``run.json`` existed, from its files; None when it holds no run."""
    if (root / "benchmark.json").is_file():
        return BENCHMARK
    if (root / "metrics.json").is_file():
        return TRANSFER
    config = root / "config.json"
    if config.is_file():
        stored = read_json(config)
        if isinstance(stored, dict) and "method" in stored:
            return TRANSFER
        if isinstance(stored, dict) and "objective" in stored:
            return GAN
        return STAGE
    if (root / "done.json").is_file():
        return STAGE
    latest = root / "checkpoints" / "latest.pt"
    if latest.is_file():
        from .checkpoint import load_checkpoint  # torch is only needed for this last resort

        return str(load_checkpoint(latest).get("kind"))
    return None


def check_folder(root: str | os.PathLike, kind: str | None) -> None:
    """Raise :class:`ConfigError` unless ``root`` is a folder (or not there yet) holding no run
    or a ``kind`` run (None: any kind)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: is a file, not a folder")
    found = folder_kind(root) if kind is not None else None
    if found is not None and found != kind:
        raise ConfigError(f"{root} holds a {found} run, not a {kind} run: choose another folder")


def record_kind(root: str | os.PathLike, kind: str) -> None:
    """Create ``root`` if needed and record in it that it holds a ``kind`` run (once)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / RUN_FILE).is_file():
        write_json(root / RUN_FILE, {"kind": kind, "version": __version__})
