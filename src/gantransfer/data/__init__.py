"""Data layer: domains as in-memory tensors, few-shot splits, batched augmentation."""

from .augment import AffineAugment, random_affine
from .batches import BatchStream
from .domains import builtin_domains, domain_identity, load_domain, register_domain
from .locations import BuildOptions, DataOptions
from .images import ImageFormat, ImageSet, RawImages, to_unit_range
from .splits import few_shot_split, per_class_indices

__all__ = [
    "AffineAugment",
    "BatchStream",
    "BuildOptions",
    "DataOptions",
    "ImageFormat",
    "ImageSet",
    "RawImages",
    "builtin_domains",
    "domain_identity",
    "few_shot_split",
    "load_domain",
    "per_class_indices",
    "random_affine",
    "register_domain",
    "to_unit_range",
]
