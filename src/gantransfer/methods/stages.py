"""Shared stages: models that many transfer runs start from, trained once and reused.

A stage (the source classifier, the source GAN, the source <-> target
translators) lives in a folder named by its kind and a hash of the config
that made it, so any run asking for the same config finds it, and a changed
config never picks up a stale model.
Stages train through the same trainer as everything else, so an
interrupted stage resumes; a file lock keeps two runs from training the
same stage at once. Under torchrun every rank trains the stage together
(data-parallel); rank 0 alone holds the lock and writes the files, and the
others wait for them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ..config import to_dict
from ..data import DataOptions, ImageSet, describe_domain
from ..errors import ConfigError, describe_os_error
from ..fileio import file_lock, write_json, write_refusal
from ..models import Classifier
from ..models.saving import SavedClassifier, load_classifier, save_classifier
from ..notice import notice
from ..paths import resolve_cache_dir
from ..training.acceleration import Acceleration
from ..training.distributed import DistributedContext, setup
from ..training.identity import comparable
from ..training.pretrain import PretrainConfig, PretrainedGan, load_gan, pretrain
from ..training.run_folder import RunFolder
from ..training.seeding import preserved_randomness, seed_everything
from ..training.supervised import AccuracyMonitor, ClassifierTask, ClassifierTraining, LabelledSource
from ..training.trainer import Callback, FitResult, LoopConfig, Trainer
from ..training.translation import Translation, TranslationTask, TranslationTraining, load_translation, stored_config

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


def stage_key(kind: str, config: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


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
    """
    if not distributed.is_main:
        yield
        distributed.barrier()
        return
    lock = folder / ".lock"
    if (refused := write_refusal(lock)) is not None:
        _check_usable_as_it_is(folder, refused)
        yield  # a finished stage in a folder nobody here can write: nothing to lock, nothing to write
        distributed.barrier()
        return
    with file_lock(lock, wait=wait or distributed.enabled) as held:
        if held:
            yield
            distributed.barrier()
            return
    if not (folder / DONE).is_file():
        raise StageBusy(folder)
    with file_lock(lock):
        yield
        distributed.barrier()


def _check_usable_as_it_is(folder: Path, refused: OSError) -> None:
    """Raise :class:`ConfigError` unless the stage in ``folder``, which cannot be written, is finished
    and intact (a read-only stage cache serves the stages it holds and nothing else)."""
    if not (folder / DONE).is_file():
        problem = "is not trained there"
    elif (damage := stage_damage(folder)) is not None:
        problem = f"is damaged ({damage})"
    else:
        return
    raise ConfigError(f"stage {folder}: {problem} and the folder cannot be written ({describe_os_error(refused)}); "
                      "give a writable stages folder (--stages-dir or --cache-dir)")


def gan_stage_identity(config: PretrainConfig, source_key: str) -> dict[str, Any]:
    """What names a source-GAN stage: its config as :func:`comparable` gives it, and the
    source's content key (:attr:`~gantransfer.data.DomainInfo.key`: a path or name and a
    fingerprint of the data, so a built domain made from other photos or fonts differs)."""
    return {**comparable(to_dict(config)), "source_data": source_key}


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
    from scratch.

    Args:
        main_only: rank 0 trains alone (networks DistributedDataParallel cannot
            wrap); the other ranks only wait for its files.
        wait: wait while another process trains the stage (False: raise
            :class:`StageBusy`, before anything is trained).
    """
    with _locked(folder, distributed, wait):
        done = (folder / DONE).is_file()
        if done and distributed.is_main and (damage := stage_damage(folder)) is not None:
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


@dataclass
class StageCache:
    """Folder of shared stages (default: ``<cache dir>/stages``).

    ``wait_when_busy``: a stage that another process is training is waited for (False:
    :class:`StageBusy` is raised, so that the caller can do something else meanwhile).
    """

    root: Path
    wait_when_busy: bool = True

    @classmethod
    def default(cls, data: DataOptions, root: str | os.PathLike | None = None,
                wait_when_busy: bool = True) -> "StageCache":
        return cls(Path(root) if root else resolve_cache_dir(data.cache_dir) / "stages", wait_when_busy)

    def folder(self, kind: str, config: dict[str, Any]) -> Path:
        return self.root / stage_key(kind, config)

    def source_classifier(
        self,
        source: ImageSet,
        source_name: str,
        classifier: Classifier,
        training: ClassifierTraining,
        seed: int,
        device: str = "cpu",
        progress_bar: bool = True,
        distributed: DistributedContext | None = None,
        acceleration: Acceleration | None = None,
        monitor: ImageSet | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> SavedClassifier:
        """A classifier trained on the whole labelled ``source`` set (with augmentation).

        ``source_name`` names the source in the stage's identity: give its content
        key (:attr:`~gantransfer.data.DomainInfo.key`), not just its path.

        ``distributed``: train it data-parallel (default: this process's
        torchrun context); ``acceleration``: GPU options (not part of the stage's
        name); ``monitor``: a labelled set (the source test split) whose accuracy is
        logged every ``training.eval_every`` steps; ``callbacks``: given to its trainer.
        """
        identity = {"source": source_name, "classifier": to_dict(classifier.config),
                    "training": to_dict(training), "seed": seed, "format": to_dict(source.format)}
        folder = self.folder("source-classifier", identity)
        distributed = distributed or setup(device)
        task: ClassifierTask | None = None

        def train(resume: bool) -> FitResult:
            nonlocal task
            stream = distributed.stream((source.images, source.labels), training.batch_size, seed=seed)
            task = ClassifierTask(classifier, [LabelledSource("source", stream)], training,
                                  device=distributed.device, distributed=distributed, acceleration=acceleration)
            run = RunFolder(folder)
            run.prepare(identity, resume=resume, write=distributed.is_main)
            loop = LoopConfig(steps=training.steps, eval_every=training.eval_every if monitor else 0,
                              checkpoint_every=500, progress_bar=progress_bar,
                              label=f"source classifier on {source_name}")
            watch = [AccuracyMonitor(monitor, "source_test")] if monitor is not None else []
            trainer = Trainer(task, run, loop, identity, distributed=distributed, seed=seed,
                              callbacks=[*watch, *callbacks])
            return trainer.fit(resume=resume)

        def finish() -> None:
            save_classifier(folder / "classifier.safetensors", task.final_model, source.class_names,
                            source.format, info={"stage": "source-classifier", "source": source_name})

        train_once(folder, identity, train, distributed, seed, finish, wait=self.wait_when_busy)
        return load_classifier(folder / "classifier.safetensors", distributed.device)

    def source_gan(
        self, config: PretrainConfig, data: DataOptions, progress_bar: bool = True, callbacks: Sequence[Callback] = (),
        source_key: str | None = None,
    ) -> PretrainedGan:
        """The GAN pretrained with ``config`` on its source domain (data-parallel under torchrun).

        ``source_key``: the source's content key (default: read from the data), so that
        changed source images name another stage."""
        if source_key is None:
            source_key = describe_domain(config.source, data, config.splits).key
        identity = gan_stage_identity(config, source_key)
        folder = self.folder("source-gan", identity)
        distributed = setup(config.acceleration.device)

        def train(resume: bool) -> FitResult:
            return pretrain(config, folder, data, resume=resume, progress_bar=progress_bar, callbacks=callbacks)

        train_once(folder, identity, train, distributed, config.seed, wait=self.wait_when_busy)
        return load_gan(folder, distributed.device)

    def translation(
        self,
        source: ImageSet,
        target: ImageSet,
        classifier: Classifier | None,
        options: TranslationTraining,
        identity: dict[str, Any],
        seed: int,
        device: str = "cpu",
        progress_bar: bool = True,
        callbacks: Sequence[Callback] = (),
    ) -> Translation:
        """Source <-> target translators trained on ``source`` and the unlabelled ``target`` images.

        ``identity`` names the data and the semantic classifier (plain values);
        the options, format and seed are added to it here.
        """
        stored = stored_config(options, source.format)
        identity = {**identity, **stored, "seed": seed}
        folder = self.folder("translation", identity)
        distributed = setup(device)

        def train(resume: bool) -> FitResult:
            task = TranslationTask(options, source, target, classifier, seed, device=distributed.device)
            run = RunFolder(folder)
            run.prepare(stored, resume=resume)
            loop = LoopConfig(steps=options.steps, eval_every=options.eval_every, checkpoint_every=250,
                              progress_bar=progress_bar, label="translators (CycleGAN)")
            return Trainer(task, run, loop, stored, callbacks=callbacks).fit(resume=resume)

        # Under torchrun, rank 0 trains the translators alone (CycleGAN's networks run several
        # forwards per backward, which DistributedDataParallel does not allow); the others wait.
        train_once(folder, identity, train, distributed, seed, main_only=True, wait=self.wait_when_busy)
        return load_translation(folder, distributed.device)
