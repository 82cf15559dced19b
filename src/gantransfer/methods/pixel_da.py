"""``pixel-da``: pixel-level domain adaptation by translating the labelled source to the target style.

1. Train two translators between the source and the unlabelled target
   images: CycleGAN (Zhu et al. 2017) plus CyCADA's semantic consistency
   under the frozen source classifier (Hoffman et al. 2018, pixel level),
   so that a translated 3 still reads as a 3. This is a shared stage: one
   per (source, target, translation options, classifier, stage seed),
   whatever the run's k or seed when ``stage_seed`` is pinned.
2. Translate the whole labelled source train set to the target style once
   (cached beside the stage).
3. Train the classifier on the translated source images with their source
   labels, plus the k labelled target images when k > 0, and self-training
   on the unlabelled target images with ``self_train``.

:func:`translated_source` is the reusable piece: the labelled source set in
the target's style, for methods that add feature-level alignment on top
(CyCADA).
"""

from __future__ import annotations

from typing import Any

import torch

from ..config import to_dict
from ..data import ImageSet
from ..engine.run_folder import RunFolder
from ..errors import CheckpointError
from ..fileio import atomic_write
from ..tensorfiles import read_torch_file
from ..training.supervised import LabelledSource
from ..training.translation import (Translation, TranslationTraining, preview_indices, save_translation_grid,
                                    translate_to_pixels)
from .baselines import supervised_plan
from .context import Stream, TransferContext
from .registry import Method, MethodPlan, register_method, register_options, register_stage

TRANSLATED_FILE = "translated_source.pt"

register_options("translation", TranslationTraining, "the source <-> target translators stage")


def translation_stage(context: TransferContext) -> Translation:
    """The source <-> target translators of ``context``'s domains (trained on first use)."""
    config = context.config
    options = config.options.translation
    identity: dict[str, Any] = {"source": context.adaptation_source_key(), "target": context.unlabelled_target_key()}
    classifier = None
    if options.needs_classifier:
        classifier = context.source_classifier()
        # The classifier stage is named by these and the shared seed, which the stage adds.
        identity["classifier"] = to_dict(classifier.config)
        identity["classifier_training"] = to_dict(config.source_training)
    return context.stages.translation(context.adaptation_source(), context.unlabelled_target(), classifier, options,
                                      identity, config.shared_seed, config.acceleration, context.progress_bar,
                                      context.callbacks)


register_stage("translation", translation_stage)


def translated_source(context: TransferContext, translation: Translation | None = None) -> ImageSet:
    """The labelled source train set translated to the target style by the shared stage.

    Images uint8 (N, C, S, S) (as precise as the real images, a quarter of
    float32) with the source labels, translated batch by batch. Stored once
    per stage, so every run of a benchmark reads them instead of translating
    60,000 images again.
    """
    translation = translation or translation_stage(context)
    source = context.adaptation_source()
    cache = translation.folder / TRANSLATED_FILE if translation.folder is not None else None
    pixels = _cached_pixels(cache)
    if pixels is None or tuple(pixels.shape) != tuple(source.images.shape):
        pixels = translate_to_pixels(translation.source_to_target, source.images)
        if cache is not None and context.distributed.is_main:
            atomic_write(cache, lambda tmp: torch.save(pixels, tmp))
    return ImageSet(pixels, source.labels, source.class_names, f"{source.name}->{context.config.target}", source.format)


def _cached_pixels(cache) -> torch.Tensor | None:
    """The stored translated pixels, or None where there are none or they cannot be read (made again)."""
    if cache is None or not cache.is_file():
        return None
    try:
        pixels = read_torch_file(cache)
    except CheckpointError:
        return None
    return pixels if isinstance(pixels, torch.Tensor) else None


def _stage_metrics(translation: Translation) -> dict[str, Any]:
    if translation.folder is None:
        return {}
    evaluations = [r for r in RunFolder(translation.folder).read_metrics() if r.get("phase") == "eval"]
    final = evaluations[-1] if evaluations else {}
    keys = ("cycle_error_source", "cycle_error_target", "translated_label_agreement")
    return {key: final[key] for key in keys if key in final}


def translated_sources(context: TransferContext) -> list[LabelledSource]:
    """The labelled sources of a pixel-level method: the k target images (if any) and
    the source set translated to the target style. Also writes ``translations.png``."""
    translation = translation_stage(context)
    translated = translated_source(context, translation)
    source, target = context.adaptation_source(), context.unlabelled_target()
    if context.distributed.is_main:
        save_translation_grid(context.run.root / "translations.png", translation.source_to_target,
                              translation.target_to_source,
                              source.images[preview_indices(source.labels, 3)], target.images[:20])
    context.notes["translation"] = {"stage": translation.folder.name if translation.folder else None,
                                    "steps": translation.step, **_stage_metrics(translation)}
    stream = context.stream(translated, context.config.training.batch_size, Stream.TRANSLATED_SOURCE)
    return context.labelled_sources() + [LabelledSource("translated_source", stream)]


def build_pixel_da(context: TransferContext) -> MethodPlan:
    # Starts from the source classifier, as every adaptation method here does, so that it is
    # compared with source-only on equal terms: what it adds is the translated images.
    return supervised_plan(context, translated_sources(context))


register_method(
    Method(
        "pixel-da",
        build_pixel_da,
        "source",
        "source images translated to the target style (CycleGAN + semantic consistency); "
        "the source classifier trained further on them with their source labels",
        "Hoffman et al. 2018 (CyCADA, pixel level); Zhu et al. 2017 (CycleGAN)",
        category="instance transfer (pixel-level adaptation)",
        uses_unlabelled=True,
        reads=("translation",),
        stages=("translation",),
    )
)
