"""The stage protocol: a model many runs start from, trained once into a folder and reused.

A stage folder is named by its kind and a hash of what makes its weights
(:func:`stage_key`). :func:`train_once` trains it under a file lock (so two
processes never train the same stage), resumes it when it was interrupted, and
ends with a done marker recording the size and sha256 of every weights file; a
finished stage whose files no longer match is trained again, and a finished stage
in a folder nobody may write is used as it is. Under torchrun every rank trains
the stage together (data-parallel); rank 0 alone holds the lock and writes the
files. Which stages exist (source classifier, GAN, translators) is the methods'
business (:mod:`gantransfer.methods.stages`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError, describe_os_error
from ..fileio import file_lock, write_json, write_refusal
from ..notice import notice
from .distributed import DistributedContext
from .run_folder import RunFolder
from .seeding import preserved_randomness, seed_everything
from .trainer import FitResult

DONE = "done.json"
#: the done marker's record of the weights the stage wrote, by path under its folder: bytes and sha256
WRITTEN = "written_files"
#: the files a stage's weights are in (weights files, checkpoints); logs and pictures, which later
#: commands may add to, are not recorded
WEIGHT_SUFFIXES = (".safetensors", ".pt")


def _stage_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix in WEIGHT_SUFFIXES
                  and not path.name.startswith("."))


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {"bytes": size, "sha256": digest}}`` of the stage's weights files in ``folder``."""
    return {path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": _digest(path)}
            for path in _stage_files(folder)}


def stage_damage(folder: Path) -> str | None:
    """Why the finished stage in ``folder`` cannot be trusted (a file its done marker records is
    missing, of another size or other content; the marker unreadable), or None. A marker written
    before files were recorded is trusted as it was."""
    try:
        recorded = json.loads((folder / DONE).read_text()).get(WRITTEN)
    except (OSError, ValueError, AttributeError):
        return f"its {DONE} cannot be read"
    for name, expected in (recorded or {}).items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["bytes"]:
            return f"{name} holds {path.stat().st_size} bytes, {expected['bytes']} were written"
        if _digest(path) != expected["sha256"]:
            return f"{name} is not what was written (its sha256 differs)"
    return None


def _clear(folder: Path) -> None:
    """Remove everything of a stage folder but its lock, so that the stage trains from scratch."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.name == ".lock" and path.parent == folder:
            continue
        path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()


#: raised whenever what a stage holds or how stages are named changes, so that no stage trained
#: before is taken for one trained after (2: the evaluation settings left out of the names;
#: 3: every option written out, none left out for being at its default)
STAGE_FORMAT = 3
#: settings of how often, and on how many samples, a stage is judged while it trains: never of what
#: it learns (the trainer gives evaluation its own random state), so they name no stage
EVALUATION_ONLY = frozenset({"eval_every", "quality_samples"})


def stage_key(kind: str, config: dict[str, Any]) -> str:
    """The folder name of the ``kind`` stage that ``config`` (plain values) trains: ``kind-<hash>``
    of the config without its :data:`EVALUATION_ONLY` settings (at any depth), and of :data:`STAGE_FORMAT`."""
    named = {"stage_format": STAGE_FORMAT, **_without_evaluation(config)}
    digest = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


def _without_evaluation(config: Any) -> Any:
    if isinstance(config, dict):
        return {key: _without_evaluation(value) for key, value in config.items() if key not in EVALUATION_ONLY}
    if isinstance(config, list):
        return [_without_evaluation(value) for value in config]
    return config


class StageBusy(Exception):
    """Another process is training the stage in ``folder`` and the caller chose not to wait for it.

    Not a :class:`~gantransfer.errors.GanTransferError`: no user did anything wrong; a
    benchmark runner catches it and takes another cell meanwhile.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(f"stage {folder.name} is being trained by another process")
        self.folder = folder


@contextmanager
def _locked(folder: Path, distributed: DistributedContext, wait: bool = True):
    """Hold the stage's file lock on rank 0; at the end, every rank waits for rank 0's files.

    ``wait=False``: raise :class:`StageBusy` instead of waiting while another process trains
    the stage (one that only looks at a finished stage is waited for). Under torchrun rank 0
    always waits: the other ranks are already waiting at the stage with it.

    Yields why the folder cannot be written (then no lock is taken: nothing here may change it),
    or None.
    """
    if not distributed.is_main:
        yield None
        distributed.barrier()
        return
    lock = folder / ".lock"
    if (refused := write_refusal(lock)) is not None:
        yield refused
        distributed.barrier()
        return
    with file_lock(lock, wait=wait or distributed.enabled) as held:
        if held:
            yield None
            distributed.barrier()
            return
    if not (folder / DONE).is_file():
        raise StageBusy(folder)
    with file_lock(lock):
        yield None
        distributed.barrier()


def train_once(
    folder: Path,
    identity: dict[str, Any],
    train: Callable[[bool], FitResult],
    distributed: DistributedContext,
    seed: int,
    finish: Callable[[], None] | None = None,
    main_only: bool = False,
    wait: bool = True,
) -> None:
    """Train a stage into ``folder`` unless it is done: the one sequence every shared
    stage (and gan-augment's adapted GAN) goes through.

    Under the stage's file lock (rank 0 holds it; the others wait for its files),
    unless ``folder``'s done marker says it has finished: the random generators are
    seeded with ``seed`` (and given back to the caller after), ``train(resume)``
    runs (``resume``: the folder holds a checkpoint), a stop request raises
    :class:`KeyboardInterrupt` (the stage resumes next time, never passes for
    finished), then rank 0 runs ``finish()`` (the stage's own files) and writes
    the done marker (``identity``, and the size and sha256 of every weights file and
    checkpoint the stage wrote). A done stage whose files no longer match that record
    (a truncated or missing weights file) is reported in one line and trained again
    from scratch. In a folder that cannot be written, a finished, intact stage is used as it is;
    any other is refused in one line.

    Args:
        main_only: rank 0 trains alone (networks DistributedDataParallel cannot
            wrap); the other ranks only wait for its files.
        wait: wait while another process trains the stage (False: raise
            :class:`StageBusy`, before anything is trained).
    """
    with _locked(folder, distributed, wait) as refused:
        done = (folder / DONE).is_file()
        damage = stage_damage(folder) if done and distributed.is_main else None
        if refused is not None and (not done or damage is not None):
            # A read-only stage cache serves the finished, intact stages it holds and nothing else.
            problem = "is not trained there" if not done else f"is damaged ({damage})"
            raise ConfigError(f"stage {folder}: {problem} and the folder cannot be written "
                              f"({describe_os_error(refused)}); give a writable stages folder "
                              "(--stages-dir or --cache-dir)")
        if damage is not None:
            notice(f"stage {folder}: {damage}: trained again")
            _clear(folder)
            done = False
        # Rank 0 looked under the lock; the others take its answer.
        skip = (done or not distributed.is_main) if main_only else distributed.broadcast(done)
        if skip:
            return
        # Training reseeds every generator: the caller gets its states back after, so that a run
        # draws the same numbers whether its stages were cached or trained now.
        with preserved_randomness():
            seed_everything(seed)
            result = train(RunFolder(folder).has_run())
        result.raise_if_interrupted()
        if distributed.is_main:
            if finish is not None:
                finish()
            write_json(folder / DONE, {**identity, WRITTEN: file_records(folder)})
