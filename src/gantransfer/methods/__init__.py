"""Transfer methods (baselines, GAN feature transfer, GAN data augmentation, unsupervised
adaptation) behind one API.

Every module of this package is imported here, and a method module registers its method
when imported (:func:`register_method`): a new method is one new file, found without a list.
"""

import importlib
import pkgutil

from .config import ClassifierOptions, TransferConfig
from .registry import METHODS, OPTION_GROUPS, Method, MethodPlan, get_method, register_method, register_options
from .transfer import transfer


def discover() -> None:
    """Import every module of this package (a method file registers its method and options)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


discover()

# The option groups of the methods that ship with the library, where their users look for them.
from .dann import DomainAdaptationOptions  # noqa: E402
from .gan_augment import GanAugmentOptions  # noqa: E402
from .gan_features import GanFeatureOptions  # noqa: E402

__all__ = [
    "METHODS",
    "OPTION_GROUPS",
    "ClassifierOptions",
    "DomainAdaptationOptions",
    "GanAugmentOptions",
    "GanFeatureOptions",
    "Method",
    "MethodPlan",
    "TransferConfig",
    "get_method",
    "register_method",
    "register_options",
    "discover",
    "transfer",
]
