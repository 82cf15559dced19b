"""``adda``: adversarial discriminative domain adaptation (Tzeng et al. 2017, CVPR).

1. Pre-training: a source encoder ``M_s`` and classifier head ``C`` learn the
   labelled source (the shared source-classifier stage).
2. Adversarial adaptation: a target encoder ``M_t`` starts as a copy of
   ``M_s``; a domain discriminator ``D`` learns to tell ``M_s(x_s)`` (1) from
   ``M_t(x_t)`` (0), and ``M_t`` learns to fool it with the inverted-label
   (non-saturating) GAN loss ``-log D(M_t(x_t))``. ``M_s`` and ``C`` stay fixed,
   so ``C`` keeps reading features in the source's feature space.
3. Test: ``C(M_t(x))``; that classifier is what the run saves.

The two updates alternate, one of each per step. Beyond the paper, and off
unless asked: the k labelled target images (k > 0) add their cross-entropy
through ``M_t`` and the frozen ``C``; ``source_weight > 0`` adds the labelled
source images' cross-entropy through ``M_t`` (meant to keep the target
encoder discriminative; on MNIST -> USPS, seed 0, 500 steps, weight 1 it
gave 85 % against 96 % without, so it is not the default); ``self_train``
trains a mean teacher of ``C(M_t(.))`` on top. Both domains' images get the
same augmentation, so the discriminator cannot tell them apart by it.

The target encoder learns at ``training.optimizer.lr * trunk_lr_scale``
(1e-4 by default; at 1e-3, with a discriminator lr of 2e-4, it collapsed to
35 % in the same test).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from ..data import BatchStream
from ..engine.trainer import Progress
from ..errors import ConfigError
from ..losses.adversarial import non_saturating_generator_loss
from ..losses.domain import domain_accuracy, domain_adversarial_loss
from ..models import Classifier, DomainDiscriminator
from ..training.supervised import ClassifierTask, ClassifierTraining, LabelledSource, Phase
from .config import TransferConfig
from .context import Stream, TransferContext
from .dann import DomainAdaptationOptions, discriminator_optimizer, domain_discriminator
from .registry import Method, MethodPlan, register_method


class AdversarialDiscriminativeTask(ClassifierTask):
    """ADDA's adversarial stage: one discriminator update, then one target-encoder update.

    ``classifier`` is ``C(M_t(.))``: a copy of the source classifier whose head
    is frozen; only its trunk (the target encoder) learns.

    Args:
        source_classifier: the trained source classifier (left untouched; copied).
        sources: labelled sources for an optional cross-entropy through ``M_t``; may be empty.
        training: ``steps``, ``batch_size``, augmentation and cosine schedule of the encoder.
        source_images: source batches (first element: images (N, C, S, S) in [-1, 1]) for ``D``.
        target: unlabelled target batches ``(images,)``.
        discriminator: the domain discriminator on the encoders' features.
        options: the adversarial weight and discriminator learning rate.
        encoder_lr: the target encoder's learning rate (``training.optimizer`` otherwise).
        task_options: as for :class:`ClassifierTask` (device, distributed, acceleration,
            unlabelled, teacher).
    """

    kind = "adda"

    def __init__(
        self,
        source_classifier: Classifier,
        sources: list[LabelledSource],
        training: ClassifierTraining,
        source_images: BatchStream,
        target: BatchStream,
        discriminator: DomainDiscriminator,
        options: DomainAdaptationOptions,
        encoder_lr: float,
        **task_options: Any,
    ) -> None:
        classifier = copy.deepcopy(source_classifier).train()
        classifier.head.requires_grad_(False)
        groups = [{"params": list(classifier.trunk.parameters()), "lr": encoder_lr}]
        super().__init__(classifier, sources, training, parameter_groups=groups, **task_options)
        # M_s: fixed weights, but in train mode like M_t: both normalise with their batch's
        # own statistics, or D could tell the domains apart by the normalisation alone.
        # (M_s's running statistics are never used: only C(M_t(.)) is evaluated.)
        self.source_encoder = copy.deepcopy(source_classifier.trunk).to(self.device).train().requires_grad_(False)
        self.source_images = source_images
        self.target = target
        self.track(source_images=source_images, target=target)
        self.discriminator = discriminator.to(self.device)
        self.discriminator_network = self.distributed.wrap(self.discriminator)
        self.options = options
        self.discriminator_optimizer = discriminator_optimizer(self.discriminator, options)

    def _augmented(self, stream: BatchStream) -> Tensor:
        images = next(stream)[0].to(self.device)
        return self.training.augment_images(images)

    def discriminator_objective(self, progress: Progress) -> tuple[Tensor, dict[str, float]]:
        """``D``'s loss on ``M_s(x_s)`` (label 1) against ``M_t(x_t)`` (label 0)."""
        source, target = self._augmented(self.source_images), self._augmented(self.target)
        with torch.no_grad():
            source_features = self.source_encoder(source)
            target_features = self.classifier.features(target)
        # One forward through the (possibly DDP-wrapped) discriminator per backward.
        logits = self.discriminator_network(torch.cat([source_features, target_features]))
        source_logits, target_logits = logits[: len(source_features)], logits[len(source_features) :]
        loss = domain_adversarial_loss(source_logits, target_logits)
        return loss, {"domain_accuracy": domain_accuracy(source_logits, target_logits)}

    def objective(self, progress: Progress) -> tuple[Tensor, dict[str, float]]:
        """The target encoder's loss: inverted-label GAN loss (+ labelled and self-training terms)."""
        losses: dict[str, float] = {}
        batches = self.labelled_batches()
        target = self._augmented(self.target)
        features, logits = self.network(torch.cat([target] + [images for images, _ in batches]))
        # D is the judge here, not a learner: no gradient into its weights (so the plain
        # module, not its DDP wrapper, which would wait for gradients that never come).
        self.discriminator.requires_grad_(False)
        try:
            adversarial = non_saturating_generator_loss(self.discriminator(features[: len(target)]))
        finally:
            self.discriminator.requires_grad_(True)
        losses["loss_adversarial"] = adversarial.item()
        total = self.options.domain_weight * adversarial
        if batches:
            total = total + self.labelled_loss(logits[len(target) :].float(), batches, losses)
        return total + self.unlabelled_loss(losses), losses

    def phases(self) -> list[Phase]:
        """First ``D`` learns to tell the encoders apart, then ``M_t`` learns to fool it."""
        return [Phase(self.discriminator_objective, (self.discriminator_optimizer,), "discriminator"),
                *super().phases()]

    # -- checkpoints --------------------------------------------------------------
    def modules(self):
        return {**super().modules(), "source_encoder": self.source_encoder, "discriminator": self.discriminator}

    def optimizers(self):
        return {**super().optimizers(), "discriminator": self.discriminator_optimizer}


def check_adda(config: TransferConfig) -> None:
    init = config.init or "source"
    if init != "source":
        raise ConfigError(f"adda adapts the source classifier's encoder: init must be 'source', got {init!r}")
    if config.trunk_lr_scale <= 0:
        raise ConfigError("adda trains the target encoder (the trunk): trunk_lr_scale must be > 0")


def build_adda(context: TransferContext) -> MethodPlan:
    config = context.config
    batch_size = config.training.batch_size
    source_classifier = context.source_classifier()
    task = AdversarialDiscriminativeTask(
        source_classifier,
        context.labelled_sources(),
        config.training,
        context.images_only(context.adaptation_source(), batch_size, Stream.DISCRIMINATOR_SOURCE),
        context.images_only(context.unlabelled_target(), batch_size, Stream.UNLABELLED_TARGET),
        domain_discriminator(source_classifier.trunk.feature_dim, config.options.feature_alignment),
        config.options.feature_alignment,
        encoder_lr=config.training.optimizer.lr * config.trunk_lr_scale,
        **context.task_options(),
    )
    return MethodPlan(task=task)


register_method(
    Method(
        "adda",
        build_adda,
        "source",
        "adversarial discriminative adaptation: a target encoder, started from the source encoder, learns to "
        "fool a domain discriminator on features; the source classifier head stays frozen",
        "Tzeng et al. 2017 (CVPR), Adversarial Discriminative Domain Adaptation",
        category="feature-level domain adaptation",
        uses_unlabelled=True,
        check=check_adda,
        reads=("feature_alignment",),
        stages=("source_classifier",),
    )
)
