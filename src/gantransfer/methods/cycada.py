"""``cycada``: pixel-level and feature-level adaptation together (Hoffman et al. 2018, CyCADA).

The source images translated to the target style by the shared CycleGAN
stage (with semantic consistency, see :mod:`.pixel_da`) replace the source
set, and the classifier is trained on them with DANN's domain-adversarial
loss against the unlabelled target images (see :mod:`.dann`): the pixels are
aligned first, then the features. The classifier starts from the source
classifier; k labelled target images and self-training add on top as for
every method.
"""

from __future__ import annotations

from .context import TransferContext
from .dann import build_dann_task, target_statistics
from .pixel_da import translated_sources
from .registry import Method, MethodPlan, register_method


def build_cycada(context: TransferContext) -> MethodPlan:
    task = build_dann_task(context, translated_sources(context))
    return MethodPlan(task=task, finish=target_statistics(context))


register_method(
    Method(
        "cycada",
        build_cycada,
        "source",
        "pixel-level (CycleGAN translation with semantic consistency) and feature-level (DANN) adaptation "
        "together: the translated source is aligned with the target features",
        "Hoffman et al. 2018 (ICML), CyCADA: Cycle-Consistent Adversarial Domain Adaptation",
        category="pixel- and feature-level domain adaptation",
        uses_unlabelled=True,
        reads=("translation", "feature_alignment"),
        stages=("translation",),
    )
)
