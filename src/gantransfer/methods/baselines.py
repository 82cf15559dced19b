"""Baselines every table needs beside the GAN methods.

- ``source-only``: the source classifier, applied to the target as it is
  (with ``unlabelled``: then self-trained on the unlabelled target: the
  "self-training alone" baseline).
- ``target-only``: trained from scratch on the k labelled target images.
- ``finetune``: the source classifier fine-tuned on the k target images.
- ``oracle``: trained on every labelled target train image (an upper bound).
"""

from __future__ import annotations

from ..training.supervised import LabelledSource
from .context import TARGET_LABELLED, Stream, TransferContext
from .registry import Method, MethodPlan, register_method


def supervised_plan(context: TransferContext, sources: list[LabelledSource]) -> MethodPlan:
    """A plan that trains the run's initial classifier (:attr:`TransferContext.init`) on
    ``sources`` (with self-training when asked)."""
    classifier, groups = context.initial_classifier()
    task = context.classifier_task(classifier, groups, sources)
    return MethodPlan(task=task)


def build_source_only(context: TransferContext) -> MethodPlan:
    if not context.config.self_train and context.init == "source":
        return MethodPlan(model=context.source_classifier().eval())
    sources = [s for s in context.labelled_sources(include_source=True) if s.name == "source"]
    return supervised_plan(context, sources)


def build_target_only(context: TransferContext) -> MethodPlan:
    sources = [s for s in context.labelled_sources() if s.name == TARGET_LABELLED]
    return supervised_plan(context, sources)


def build_finetune(context: TransferContext) -> MethodPlan:
    return supervised_plan(context, context.labelled_sources())


def build_oracle(context: TransferContext) -> MethodPlan:
    everything = context.stream(context.data.target_train, context.config.training.batch_size, Stream.TARGET_ALL)
    return supervised_plan(context, [LabelledSource("target_all", everything)])


register_method(Method("source-only", build_source_only, "source",
                       "classifier trained on the labelled source only (with --self-train: self-training alone)"))
register_method(Method("target-only", build_target_only, "random", "trained from scratch on the k target labels"))
register_method(Method("finetune", build_finetune, "source",
                       "source classifier fine-tuned on the k target labels", category="model transfer"))
register_method(Method("oracle", build_oracle, "random", "trained on all target train labels (upper bound)"))
