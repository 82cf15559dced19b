"""Transfer methods (baselines, GAN feature transfer, GAN data augmentation) behind one API."""

from . import baselines, gan_augment, gan_features  # noqa: F401  (register the methods)
from . import pixel_da  # noqa: F401
from .config import ClassifierOptions, GanAugmentOptions, GanFeatureOptions, TransferConfig
from .registry import METHODS, Method, MethodPlan, get_method, register_method
from .transfer import transfer

__all__ = [
    "METHODS",
    "ClassifierOptions",
    "GanAugmentOptions",
    "GanFeatureOptions",
    "Method",
    "MethodPlan",
    "TransferConfig",
    "get_method",
    "register_method",
    "transfer",
]
