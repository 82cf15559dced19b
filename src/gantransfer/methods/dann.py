"""``dann``: domain-adversarial training (Ganin & Lempitsky 2015; Ganin et al. 2016, JMLR).

One network, three losses in one backward pass:

- cross-entropy on the labelled source images (and on the k labelled target
  images when k > 0), as the source classifier was trained;
- a domain discriminator ``D`` on the trunk's features learns to tell source
  (1) from unlabelled target (0) features:
  ``L_d = (BCE(D(f_s), 1) + BCE(D(f_t), 0)) / 2``;
- the trunk receives ``-lambda * dL_d/df`` through a gradient reversal
  layer, i.e. it learns features ``D`` cannot separate, with lambda rising
  along ``domain_weight * (2 / (1 + exp(-10 p)) - 1)``. ``D`` itself always
  learns from ``L_d`` at full strength.

Source and target batches go through the trunk together, so BatchNorm
normalises (and keeps running statistics of) both domains at once; with
``domain_statistics`` they go through it in separate passes, each domain
normalised with its own statistics, and the final classifier keeps the
target's (domain-specific BatchNorm, Chang et al. 2019).

The classifier starts from the shared source classifier (``init: source``)
and keeps the same network, augmentation and labelled source loss, so DANN
starts where source-only ends instead of from scratch. With ``self_train``
a mean teacher is trained on top and is the model evaluated.

:func:`build_dann_task` runs the same on any list of labelled sources, e.g.
source images translated to the target style (CyCADA's feature-level stage).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import torch
from torch import Tensor, nn

from ..data import BatchStream
from ..engine.trainer import Progress
from ..errors import ConfigError
from ..losses.domain import GradientReversal, domain_accuracy, domain_adversarial_loss, grl_coefficient
from ..models import Classifier, DomainDiscriminator, DomainDiscriminatorConfig
from ..objectives.optim import OptimizerConfig
from ..training.batchnorm import image_batches, reestimate_batchnorm
from ..training.supervised import ClassifierTask, ClassifierTraining, LabelledSource, Phase
from .adabn import BATCH_SIZE as ADABN_BATCH
from .context import TARGET_LABELLED, Stream, TransferContext
from .registry import Method, MethodPlan, register_method, register_options


@dataclass(frozen=True)
class DomainAdaptationOptions:
    """Feature-level adaptation on the unlabelled target (methods ``dann`` and ``adda``).

    Args:
        domain_weight: weight of the feature-alignment term in the feature
            extractor's loss: DANN's largest gradient-reversal coefficient
            (lambda), ADDA's weight of the inverted-label GAN loss.
        grl_schedule: DANN: raise lambda from 0 to ``domain_weight`` along
            Ganin et al.'s schedule 2 / (1 + exp(-10 p)) - 1 (p: fraction of
            training done) instead of using it from the first step.
        discriminator_hidden: units of each hidden layer of the domain discriminator.
        discriminator_layers: hidden layers of the domain discriminator.
        discriminator_lr: Adam learning rate of the domain discriminator.
        domain_statistics: DANN: source and target batches go through the trunk in
            separate passes, so each BatchNorm layer normalises each domain with its own
            batch statistics (domain-specific BatchNorm, Chang et al. 2019), and the final
            classifier's running statistics are those of the target train images
            (target statistics at prediction). False: one pass over both domains together.
    """

    domain_weight: float = 1.0
    grl_schedule: bool = True
    discriminator_hidden: int = 500
    discriminator_layers: int = 2
    discriminator_lr: float = 1e-3
    domain_statistics: bool = False

    def __post_init__(self) -> None:
        if self.domain_weight < 0:
            raise ConfigError(f"feature_alignment.domain_weight must be >= 0, got {self.domain_weight}")
        if self.discriminator_hidden < 1 or self.discriminator_layers < 1:
            raise ConfigError("feature_alignment.discriminator_hidden and discriminator_layers must be >= 1")
        if self.discriminator_lr <= 0:
            raise ConfigError(f"feature_alignment.discriminator_lr must be > 0, got {self.discriminator_lr}")


register_options("feature_alignment", DomainAdaptationOptions, "feature-level alignment")


def domain_discriminator(feature_dim: int, options: DomainAdaptationOptions) -> DomainDiscriminator:
    """The domain discriminator ``options`` describe, on features of length ``feature_dim``."""
    return DomainDiscriminator(
        DomainDiscriminatorConfig(feature_dim, options.discriminator_hidden, options.discriminator_layers)
    )


def discriminator_optimizer(discriminator: DomainDiscriminator, options: DomainAdaptationOptions):
    # beta1 = 0.5 as for GAN discriminators (Radford et al. 2016): the target it chases keeps moving.
    return OptimizerConfig("adam", options.discriminator_lr, (0.5, 0.999)).build(discriminator.parameters())


class DomainAdversarialTask(ClassifierTask):
    """:class:`ClassifierTask` plus DANN's domain loss through a gradient reversal layer.

    Args:
        classifier: a :class:`~gantransfer.models.Classifier` (it needs ``features`` and ``head``).
        sources: labelled sources, as for :class:`ClassifierTask`.
        training: the classifier's training.
        target: unlabelled target batches ``(images,)``, (N, C, S, S) in [-1, 1].
        discriminator: the domain discriminator on ``classifier.features``.
        options: domain weight, schedule and discriminator learning rate.
        source_domain: names of the ``sources`` whose images form the source side
            of the domain loss (the others, e.g. the k labelled target images,
            only add their cross-entropy).
        parameter_groups, task_options: as for :class:`ClassifierTask` (device, distributed,
            acceleration, unlabelled, teacher).
    """

    kind = "dann"

    def __init__(
        self,
        classifier: Classifier,
        sources: list[LabelledSource],
        training: ClassifierTraining,
        target: BatchStream,
        discriminator: DomainDiscriminator,
        options: DomainAdaptationOptions,
        source_domain: Sequence[str],
        parameter_groups: list[dict] | None = None,
        **task_options: Any,
    ) -> None:
        super().__init__(classifier, sources, training, parameter_groups=parameter_groups, **task_options)
        self.source_domain = [i for i, source in enumerate(sources) if source.name in set(source_domain)]
        if not self.source_domain:
            raise ConfigError(f"dann: none of the labelled sources {[s.name for s in sources]} is in the "
                              f"source domain {list(source_domain)}")
        self.target = target
        self.track(target=target)
        self.discriminator = discriminator.to(self.device)
        self.discriminator_network = self.distributed.wrap(self.discriminator)
        self.options = options
        self.reversal = GradientReversal(0.0)
        self.discriminator_optimizer = discriminator_optimizer(self.discriminator, options)

    # -- the domain loss ------------------------------------------------------
    def coefficient(self, progress: Progress) -> float:
        """The gradient reversal's lambda at ``progress`` (the loop's share of training done)."""
        weight = self.options.domain_weight
        if not self.options.grl_schedule:
            return weight
        return weight * grl_coefficient(progress.fraction)

    def domain_loss(
        self, source_features: Tensor, target_features: Tensor, progress: Progress
    ) -> tuple[Tensor, dict[str, float]]:
        """The domain discriminator's loss on features (N, F) and (M, F), seen through the
        gradient reversal: minimising it trains the discriminator and *un*-trains the features."""
        self.reversal.coefficient = self.coefficient(progress)
        logits = self.discriminator_network(self.reversal(torch.cat([source_features, target_features])))
        source_logits, target_logits = logits[: len(source_features)], logits[len(source_features) :]
        loss = domain_adversarial_loss(source_logits, target_logits)
        return loss, {"loss_domain": loss.item(), "domain_accuracy": domain_accuracy(source_logits, target_logits),
                      "grl_coefficient": self.reversal.coefficient}

    # -- one step ---------------------------------------------------------------
    def target_batch(self) -> Tensor:
        """An augmented unlabelled target batch: the discriminator must not tell the
        domains apart by augmentation alone, so both get the same (geometric and photometric)."""
        (images,) = next(self.target)[:1]
        return self.training.augment_images(images.to(self.device))

    def objective(self, progress: Progress) -> tuple[Tensor, dict[str, float]]:
        losses: dict[str, float] = {}
        batches = self.labelled_batches()
        target = self.target_batch()
        features, logits = self.trunk_pass([images for images, _ in batches], target)
        labelled = features[: len(features) - len(target)]
        total = self.labelled_loss(logits[: len(labelled)].float(), batches, losses)
        starts = [0, *accumulate(len(images) for images, _ in batches)]
        source_features = torch.cat([features[starts[i] : starts[i + 1]] for i in self.source_domain])
        domain, stats = self.domain_loss(source_features, features[len(labelled) :], progress)
        losses.update(stats)
        return total + domain + self.unlabelled_loss(losses), losses

    def trunk_pass(self, labelled: list[Tensor], target: Tensor) -> tuple[Tensor, Tensor]:
        """Features and logits of the labelled batches and then the target batch, in that order.

        One pass over all of them (BatchNorm normalises the domains together), or, with
        ``domain_statistics``, one for the labelled batches and one for the target batch
        (each domain normalised with its own batch statistics)."""
        if not self.options.domain_statistics:
            return self.network(torch.cat([*labelled, target]))
        labelled_features, labelled_logits = self.network(torch.cat(labelled))
        target_features, target_logits = self.network(target)
        return torch.cat([labelled_features, target_features]), torch.cat([labelled_logits, target_logits])

    def phases(self) -> list[Phase]:
        # The discriminator learns from the same backward pass as the features (through the reversal).
        return [Phase(self.objective, (self.optimizer, self.discriminator_optimizer))]

    # -- checkpoints --------------------------------------------------------------
    def modules(self):
        return {**super().modules(), "discriminator": self.discriminator}

    def optimizers(self):
        return {**super().optimizers(), "discriminator": self.discriminator_optimizer}


def build_dann_task(
    context: TransferContext,
    labelled_sources: list[LabelledSource],
    source_domain: Sequence[str] | None = None,
    classifier: Classifier | None = None,
) -> DomainAdversarialTask:
    """DANN on ``labelled_sources`` against the unlabelled target train set of ``context``.

    Args:
        context: the run (config, data, stages).
        labelled_sources: what the cross-entropy learns from, e.g. source images
            translated to the target style plus ``context.labelled_sources()``'s k target images.
        source_domain: names of the sources aligned with the target; default:
            every source except the k labelled target images (named :data:`TARGET_LABELLED`).
        classifier: the network to start from; default: the run's ``init`` (the source classifier).
            Its trunk learns ``trunk_lr_scale`` times slower than its head.
    """
    config = context.config
    if classifier is None:
        classifier, groups = context.initial_classifier()
    else:
        groups = context._parameter_groups(classifier)
    if source_domain is None:
        source_domain = [source.name for source in labelled_sources if source.name != TARGET_LABELLED]
    target = context.images_only(context.unlabelled_target(), config.training.batch_size, Stream.UNLABELLED_TARGET)
    options = config.options.feature_alignment
    discriminator = domain_discriminator(classifier.trunk.feature_dim, options)
    return DomainAdversarialTask(
        classifier, labelled_sources, config.training, target, discriminator, options, source_domain,
        parameter_groups=groups, **context.task_options(),
    )


def target_statistics(context: TransferContext) -> Callable[[nn.Module], nn.Module] | None:
    """With ``feature_alignment.domain_statistics``: what gives the final classifier the target's
    BatchNorm statistics (re-estimated on the unlabelled target train images); else None."""
    if not context.config.options.feature_alignment.domain_statistics:
        return None

    def finish(model: nn.Module) -> nn.Module:
        batches = reestimate_batchnorm(model, image_batches(context.unlabelled_target().images, ADABN_BATCH),
                                       device=context.device)
        context.notes["target_statistics_batches"] = batches
        return model

    return finish


def build_dann(context: TransferContext) -> MethodPlan:
    # The labelled source loss stays on throughout (weight source_weight, or 1).
    task = build_dann_task(context, context.labelled_sources(include_source=True))
    return MethodPlan(task=task, finish=target_statistics(context))


register_method(
    Method(
        "dann",
        build_dann,
        "source",
        "domain-adversarial training: source classifier + domain discriminator on its features through a "
        "gradient reversal layer, on the unlabelled target train images",
        "Ganin & Lempitsky 2015 (ICML); Ganin et al. 2016 (JMLR), Domain-Adversarial Training of Neural Networks",
        category="feature-level domain adaptation",
        uses_unlabelled=True,
        reads=("feature_alignment",),
    )
)
