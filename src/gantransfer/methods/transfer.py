"""One transfer run, end to end: ``transfer(TransferConfig(...), out="runs/x")``.

Loads the domains, draws the k labelled target images, trains (or finds cached) the
stages the method reads, builds its training task, trains it through the
shared trainer (resumable), evaluates once on the target test set and writes:

::

    DIR/metrics.json              target_test_accuracy, per-class accuracy, method, k, seed, wall seconds,
                                  validation_scores (no target labels), prediction_collapse
                                  image format and why, the domains' keys and layouts, class matching
    DIR/splits.json               the test split drawn for a domain whose layout has none
    DIR/classifier.safetensors    self-contained classifier (load_classifier)
    DIR/confusion_matrix.png
    DIR/generated_samples.png     gan-augment: generated target images, a row per class
    DIR/target_gan/               gan-augment: the adapted GAN's run
    DIR/config.json, metrics.jsonl, checkpoints/, tensorboard/   as for every run
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..config import to_dict
from ..data import DataOptions
from ..data.domains import write_drawn_splits
from ..engine.distributed import setup
from ..engine.identity import config_changes
from ..engine.logger import RunLogger
from ..engine.run_folder import RunFolder
from ..engine.run_kinds import TRANSFER as TRANSFER_RUN
from ..engine.run_kinds import check_folder
from ..engine.seeding import seed_everything
from ..engine.trainer import Callback, LoopConfig, Trainer
from ..errors import ConfigError
from ..evaluation.classification import evaluate_classifier
from ..evaluation.plots import save_confusion_matrix
from ..evaluation.validation import validate_classifier
from ..fileio import write_json
from ..models.saving import save_classifier
from ..notice import notice
from ..provenance import package_versions
from ..training.supervised import AccuracyMonitor
from .config import TransferConfig
from .context import TransferContext, TransferData
from .registry import get_method
from .stages import StageCache

METRICS_FILE = "metrics.json"


def transfer(
    config: TransferConfig,
    out: str | os.PathLike,
    data: DataOptions = DataOptions(),
    stages_dir: str | os.PathLike | None = None,
    progress_bar: bool = True,
    callbacks: Sequence[Callback] = (),
    images: TransferData | None = None,
    wait_for_stages: bool = True,
) -> dict[str, Any]:
    """Run ``config`` into the folder ``out`` and return its metrics.

    A finished run (``out/metrics.json`` with the same config) is returned
    as it is; a half-finished one resumes from its latest checkpoint. The
    image format is resolved from the domains where ``config`` leaves it open
    (printed in one line, recorded in metrics.json); the run stores and names
    its stages by the resolved config.
    ``callbacks`` are given to every trainer of the run (its shared stages too).
    ``images``: the run's images when they do not come from loading
    ``config``'s domains (the Python facade's in-memory arrays); a
    ``target_test`` of None leaves the test metrics None.
    ``wait_for_stages=False``: where another process is training a shared stage that the
    run needs, raise :class:`~gantransfer.engine.stage_cache.StageBusy` instead of waiting
    (the run resumes when called again).
    """
    method = get_method(config.method)
    method.check_config(config)
    run = RunFolder(out)
    stored = to_dict(config)
    finished = run.root / METRICS_FILE
    if finished.is_file():
        metrics = json.loads(finished.read_text())
        if not isinstance(metrics.get("config"), dict) or config_changes(metrics["config"], stored, TransferConfig):
            raise ConfigError(f"{run.root} holds a finished run of another config; choose another --out")
        return metrics
    started = time.time()
    distributed = setup(config.acceleration.device)
    check_folder(run.root, TRANSFER_RUN)  # a wrong folder is refused before any data is read
    seed_everything(config.seed)
    loaded_here = images is None  # the facade's in-memory arrays have no files to list in splits.json
    if loaded_here:
        images = TransferData.load(config, data)
        if config.image_size is None or config.channels is None:  # say what was inferred, and why
            notice(images.choice.line())
    config = config.with_format(images.format)
    stored = to_dict(config)
    # Only now, with the config checked and the data read: a run refused so far leaves nothing behind.
    run.prepare(stored, resume=True, write=distributed.is_main, cls=TransferConfig, kind=TRANSFER_RUN)
    if distributed.is_main and loaded_here:
        write_drawn_splits(run.root, {"source": config.source, "target": config.target}, data, config.splits)
    stages = StageCache.default(data, stages_dir, wait_when_busy=wait_for_stages)
    context = TransferContext(config, images, stages, run, data, progress_bar, callbacks)
    if context.init == "gan":
        context.check_gan_init()  # before a GAN is pretrained or adapted, not after
    context.train_stages(context.stages_needed(method))  # build() then only loads them
    plan = method.build(context)
    if plan.task is not None:
        training = config.training
        loop = LoopConfig(steps=training.steps, eval_every=training.eval_every, progress_bar=progress_bar,
                          label=f"{config.method} on {config.target}")
        watch = context.callbacks
        if context.data.target_validation is not None:
            watch = [AccuracyMonitor(context.data.target_validation, "target_validation"), *watch]
        trainer = Trainer(plan.task, run, loop, stored, distributed=distributed, seed=config.seed, callbacks=watch)
        result = trainer.fit(resume=run.has_run())
        result.raise_if_interrupted()
        started -= result.earlier_seconds  # a resumed run reports the time of every session
        model = plan.task.final_model
    else:
        model = plan.model
    if plan.finish is not None:
        model = plan.finish(model)
    # Rank 0 evaluates and writes; every rank returns its metrics.
    steps = config.training.steps if plan.task is not None else 0
    return distributed.broadcast(_finish(context, model, started, steps) if distributed.is_main else None)


def _test_metrics(context: TransferContext, model) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix on the target test set (and its picture)."""
    config, test, class_names = context.config, context.data.target_test, context.data.source.class_names
    if test is None:
        return {"target_test_accuracy": None, "per_class_accuracy": None, "confusion_matrix": None}
    report = evaluate_classifier(model, test)
    save_confusion_matrix(context.run.root / "confusion_matrix.png", report.confusion, class_names,
                          title=f"{config.method}, {config.source}->{config.target}, k={config.k}")
    return {"target_test_accuracy": report.accuracy,
            "per_class_accuracy": report.as_dict(class_names)["per_class_accuracy"],
            "confusion_matrix": report.confusion.tolist()}


def _finish(context: TransferContext, model, started: float, step: int) -> dict[str, Any]:
    config, data, run = context.config, context.data, context.run
    class_names = data.source.class_names
    # A source-free run is validated where the source images never are: without them.
    source_validation = None if config.source_free else data.source_validation
    validation = validate_classifier(model, context.unlabelled_target().images, source_validation,
                                     data.target_labelled)
    if (warning := validation.warning(class_names)) is not None:
        print(f"gantransfer: {run.root}: {warning}", file=sys.stderr)
    logged = {name: value for name, value in validation.scores.items() if value is not None}
    RunLogger(run, tensorboard=False).log(step, "validation", logged)
    save_classifier(run.root / "classifier.safetensors", model, class_names, context.format,
                    info={"method": config.method, "source": config.source, "target": config.target,
                          "k": config.k, "seed": config.seed,
                          # so that `gantransfer evaluate` reads the same test split and class names
                          "splits": {"test_fraction": config.test_fraction, "seed": config.split_seed},
                          "classes_renamed": data.classes.renamed if data.classes else {}})
    metrics = {
        **_test_metrics(context, model),
        "method": config.method,
        "source": config.source,
        "target": config.target,
        "k": config.k,
        "seed": config.seed,
        "self_train": config.self_train,
        "uses_unlabelled_target": config.unlabelled_target and (config.self_train
                                                                 or get_method(config.method).uses_unlabelled),
        "init": context.init,
        "target_validation_accuracy": (
            evaluate_classifier(model, data.target_validation).accuracy if data.target_validation is not None else None
        ),
        **validation.as_metrics(class_names),
        "wall_seconds": round(time.time() - started, 1),
        "notes": context.notes,
        "image_format": data.choice.as_dict() if data.choice else None,
        "data": data.record(),
        "version": __version__,
        "packages": package_versions(),
        "config": to_dict(config),
    }
    write_json(run.root / METRICS_FILE, metrics)
    return metrics
