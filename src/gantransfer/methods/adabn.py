"""``adabn``: the source classifier with its BatchNorm statistics re-estimated on the target.

Li et al. 2016, "Revisiting Batch Normalization For Practical Domain
Adaptation" (AdaBN): every weight of the classifier stays as the source
training left it; only each BatchNorm layer's running mean and variance are
replaced by those of the unlabelled target train images (one pass, see
:func:`~gantransfer.training.batchnorm.reestimate_batchnorm`). The k target
labels are not used, unless with ``self_train``: then mean-teacher
self-training on the unlabelled target starts from the AdaBN classifier
(its teacher inheriting the target statistics) and learns from the labelled
source, plus the k target images when k > 0.
"""

from __future__ import annotations

from ..training.batchnorm import image_batches, reestimate_batchnorm
from .context import TransferContext
from .registry import Method, MethodPlan, register_method

#: target images per forward pass while re-estimating (the statistics are averaged over the pass)
BATCH_SIZE = 256


def build_adabn(context: TransferContext) -> MethodPlan:
    config = context.config
    classifier, groups = context.initial_classifier()
    batches = reestimate_batchnorm(classifier, image_batches(context.unlabelled_target().images, BATCH_SIZE),
                                   device=context.device)
    context.notes["adabn_batches"] = batches
    if not config.self_train:
        return MethodPlan(model=classifier)
    task = context.classifier_task(classifier.train(), groups, context.labelled_sources(include_source=True))
    return MethodPlan(task=task)


register_method(
    Method(
        "adabn",
        build_adabn,
        "source",
        "source classifier with its BatchNorm statistics re-estimated on the unlabelled target train images "
        "(weights unchanged); with --self-train, self-training starts from it",
        "AdaBN (Li et al. 2016), Revisiting Batch Normalization For Practical Domain Adaptation",
        category="feature-level domain adaptation",
        uses_unlabelled=True,
    )
)
