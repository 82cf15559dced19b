"""``gan-features``: feature transfer and model initialisation from a GAN.

The classifier's trunk starts as the source GAN discriminator's trunk, which
learnt digit features without labels (founding document, sections 2.3 and
3.3; the critic trunk as feature extractor as in DCGAN, Radford et al. 2016,
section 5.1). Options freeze it (feature extractor), make it a linear probe,
or train it slower than the head (``trunk_lr_scale``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .baselines import supervised_plan
from .context import TransferContext
from .registry import Method, MethodPlan, register_method, register_options


@dataclass(frozen=True)
class GanFeatureOptions:
    """How a GAN discriminator's trunk is reused (method ``gan-features``, or ``init: gan``).

    Args:
        freeze_trunk: keep the transferred trunk's weights fixed (a feature extractor).
        linear_probe: freeze the trunk and its BatchNorm statistics; only the head learns.
    """

    freeze_trunk: bool = False
    linear_probe: bool = False


register_options("gan_features", GanFeatureOptions, "a transferred GAN critic trunk")


def build_gan_features(context: TransferContext) -> MethodPlan:
    return supervised_plan(context, context.labelled_sources())


register_method(
    Method(
        "gan-features",
        build_gan_features,
        "gan",
        "classifier trunk initialised from the source GAN's discriminator; trained on the k target labels",
        "Radford et al. 2016 (DCGAN), discriminator features for classification",
        category="feature / model transfer",
        reads=("gan_features",),
    )
)
