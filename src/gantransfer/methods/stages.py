"""Shared stages: models that many transfer runs start from, trained once and reused.

A stage (the source classifier, the source GAN, the source <-> target
translators) lives in a folder named by its kind and a hash of the config
that made it, so any run asking for the same config finds it, and a changed
config never picks up a stale model.
Stages train through the same trainer as everything else, so an
interrupted stage resumes; a file lock keeps two processes from training
the same stage at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import to_dict
from ..data import BatchStream, DataOptions, ImageSet
from ..fileio import write_json
from ..models import Classifier
from ..models.saving import SavedClassifier, load_classifier, save_classifier
from ..paths import resolve_cache_dir
from ..training.device import resolve_device
from ..training.pretrain import PretrainConfig, PretrainedGan, load_gan, pretrain
from ..training.run_folder import RunFolder
from ..training.seeding import seed_everything
from ..training.supervised import ClassifierTask, ClassifierTraining, LabelledSource
from ..training.trainer import LoopConfig, Trainer
from ..training.translation import Translation, TranslationTask, TranslationTraining, load_translation, stored_config

DONE = "done.json"


def stage_key(kind: str, config: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class StageCache:
    """Folder of shared stages (default: ``<cache dir>/stages``)."""

    root: Path

    @classmethod
    def default(cls, data: DataOptions, root: str | os.PathLike | None = None) -> "StageCache":
        return cls(Path(root) if root else resolve_cache_dir(data.cache_dir) / "stages")

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
    ) -> SavedClassifier:
        """A classifier trained on the whole labelled ``source`` set (with augmentation)."""
        identity = {"source": source_name, "classifier": to_dict(classifier.config),
                    "training": to_dict(training), "seed": seed, "format": to_dict(source.format)}
        folder = self.folder("source-classifier", identity)
        with _locked(folder):
            if (folder / DONE).is_file():
                return load_classifier(folder / "classifier.safetensors", resolve_device(device))
            seed_everything(seed)
            stream = BatchStream((source.images, source.labels), training.batch_size, seed=seed)
            task = ClassifierTask(classifier, [LabelledSource("source", stream)], training, device=resolve_device(device))
            run = RunFolder(folder)
            resume = run.has_run()
            run.prepare(identity, resume=resume)
            Trainer(task, run, LoopConfig(steps=training.steps, eval_every=0, checkpoint_every=500,
                                          progress_bar=progress_bar), identity).fit(resume=resume)
            save_classifier(folder / "classifier.safetensors", task.final_model, source.class_names, source.format,
                            info={"stage": "source-classifier", "source": source_name})
            write_json(folder / DONE, identity)
        return load_classifier(folder / "classifier.safetensors", resolve_device(device))

    def source_gan(self, config: PretrainConfig, data: DataOptions, progress_bar: bool = True) -> PretrainedGan:
        """The GAN pretrained with ``config`` on its source domain."""
        identity = to_dict(config)
        folder = self.folder("source-gan", identity)
        with _locked(folder):
            if not (folder / DONE).is_file():
                resume = RunFolder(folder).has_run()
                result = pretrain(config, folder, data, resume=resume, progress_bar=progress_bar)
                if result.interrupted:
                    raise KeyboardInterrupt
                write_json(folder / DONE, identity)
        return load_gan(folder, resolve_device(config.device))

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
    ) -> Translation:
        """Source <-> target translators trained on ``source`` and the unlabelled ``target`` images.

        ``identity`` names the data and the semantic classifier (plain values);
        the options, format and seed are added to it here.
        """
        stored = stored_config(options, source.format)
        identity = {**identity, **stored, "seed": seed}
        folder = self.folder("translation", identity)
        with _locked(folder):
            if not (folder / DONE).is_file():
                seed_everything(seed)
                task = TranslationTask(options, source, target, classifier, seed, device=resolve_device(device))
                run = RunFolder(folder)
                resume = run.has_run()
                run.prepare(stored, resume=resume)
                loop = LoopConfig(steps=options.steps, eval_every=options.eval_every, checkpoint_every=250,
                                  progress_bar=progress_bar)
                if Trainer(task, run, loop, stored).fit(resume=resume).interrupted:
                    raise KeyboardInterrupt
                write_json(folder / DONE, identity)
        return load_translation(folder, resolve_device(device))
