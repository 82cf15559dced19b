"""Transfer methods (baselines, GAN feature transfer, GAN data augmentation, unsupervised
adaptation) behind one API."""

from . import baselines, gan_augment, gan_features  # noqa: F401  (register the methods)
from . import adabn, adda, cycada, dann, pixel_da  # noqa: F401  (register the unsupervised adaptation methods)
from . import auto  # noqa: F401  (register the model-selection method)
from .config import ClassifierOptions, DomainAdaptationOptions, GanAugmentOptions, GanFeatureOptions, TransferConfig
from .registry import METHODS, Method, MethodPlan, get_method, register_method
from .transfer import transfer

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
