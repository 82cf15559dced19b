"""Transfer methods (baselines, GAN feature transfer, GAN data augmentation, unsupervised
adaptation) behind one API.

Every module of this package is imported here, and a method module registers its method
when imported (:func:`register_method`): a new method is one new file, found without a list.
"""

import importlib
import pkgutil

from .config import ClassifierOptions, DomainAdaptationOptions, GanAugmentOptions, GanFeatureOptions, TransferConfig
from .registry import METHODS, Method, MethodPlan, get_method, register_method
from .transfer import transfer

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "METHODS",
    "ClassifierOptions",
    "DomainAdaptationOptions",
    "GanAugmentOptions",
    "GanFeatureOptions",
    "Method",
    "MethodPlan",
    "TransferConfig",
    "get_method",
    "register_method",
    "transfer",
]
