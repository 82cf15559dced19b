"""The shared stages methods start from: the source classifier, the source GAN and the source <->
target translators, each trained once through the stage protocol (:mod:`gantransfer.engine.stage_cache`)
into a folder named by what makes its weights, and reused by every run that asks for the same."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import to_dict
from ..data import DataOptions, ImageSet, describe_domain
from ..engine.acceleration import Acceleration
from ..engine.distributed import DistributedContext, setup
from ..engine.identity import comparable
from ..engine.run_folder import RunFolder
from ..engine.seeding import preserved_randomness
from ..engine.stage_cache import stage_key, train_once
from ..engine.trainer import Callback, FitResult, LoopConfig, Trainer
from ..models import Classifier
from ..models.saving import SavedClassifier, load_classifier, save_classifier
from ..paths import resolve_cache_dir
from ..training.pretrain import PretrainConfig, PretrainedGan, load_gan, pretrain
from ..training.supervised import AccuracyMonitor, ClassifierTask, ClassifierTraining, LabelledSource
from ..training.translation import Translation, TranslationTask, TranslationTraining, load_translation, stored_config


def gan_stage_identity(config: PretrainConfig, source_key: str) -> dict[str, Any]:
    """What names a source-GAN stage: its config as :func:`comparable` gives it, and the
    source's content key (:attr:`~gantransfer.data.DomainInfo.key`: a path or name and a
    fingerprint of the data, so a built domain made from other photos or fonts differs)."""
    return {**comparable(to_dict(config)), "source_data": source_key}


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
        new_classifier: Callable[[], Classifier],
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
        ``new_classifier`` makes the untrained network (its config names the stage); the stage
        calls it after seeding every generator with ``seed``, so that its starting weights are
        those of the stage seed whatever the caller drew before. The caller's random state is
        left as it was.

        ``distributed``: train it data-parallel (default: this process's
        torchrun context); ``acceleration``: the speed options (of which only a
        ``precision`` other than ``auto`` names the stage); ``monitor``: a labelled set
        (the source test split) whose accuracy is logged every ``training.eval_every``
        steps; ``callbacks``: given to its trainer.
        """
        with preserved_randomness():  # a network made only to read its config
            classifier_config = new_classifier().config
        identity = {"source": source_name, "classifier": to_dict(classifier_config),
                    "training": to_dict(training), "seed": seed, "format": to_dict(source.format)}
        if acceleration is not None and acceleration.precision != "auto":
            identity["precision"] = acceleration.precision  # bf16 learns another model (auto: the name as before)
        folder = self.folder("source-classifier", identity)
        distributed = distributed or setup(device)
        task: ClassifierTask | None = None

        def train(resume: bool) -> FitResult:
            nonlocal task
            classifier = new_classifier()  # every generator was just seeded with the stage seed
            stream = distributed.stream((source.images, source.labels), training.batch_size, seed=seed)
            task = ClassifierTask(classifier, [LabelledSource("source", stream)], training,
                                  device=distributed.device, distributed=distributed, acceleration=acceleration)
            run = RunFolder(folder)
            run.prepare(identity, resume=resume, write=distributed.is_main)
            loop = LoopConfig(steps=training.steps, eval_every=training.eval_every if monitor else 0,
                              progress_bar=progress_bar,
                              label=f"source classifier on {source_name}")
            watch = [AccuracyMonitor(monitor, "source_test")] if monitor is not None else []
            trainer = Trainer(task, run, loop, identity, distributed=distributed, seed=seed,
                              callbacks=[*watch, *callbacks])
            return trainer.fit(resume=resume)

        def finish() -> None:
            save_classifier(folder / "classifier.safetensors", task.final_model, source.class_names,
                            source.format, info={"stage": "source-classifier", "source": source_name})

        train_once(folder, identity, train, distributed, seed, finish, wait=self.wait_when_busy)
        with preserved_randomness():  # the network it is loaded into draws weights first
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
        acceleration: Acceleration | None = None,
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
        acceleration = acceleration or Acceleration()
        distributed = setup(acceleration.device)

        def train(resume: bool) -> FitResult:
            task = TranslationTask(options, source, target, classifier, seed, device=distributed.device,
                                   acceleration=acceleration)
            run = RunFolder(folder)
            run.prepare(stored, resume=resume)
            loop = LoopConfig(steps=options.steps, eval_every=options.eval_every, progress_bar=progress_bar,
                              label="translators (CycleGAN)")
            return Trainer(task, run, loop, stored, callbacks=callbacks).fit(resume=resume)

        # Under torchrun, rank 0 trains the translators alone (CycleGAN's networks run several
        # forwards per backward, which DistributedDataParallel does not allow); the others wait.
        train_once(folder, identity, train, distributed, seed, main_only=True, wait=self.wait_when_busy)
        return load_translation(folder, distributed.device)
