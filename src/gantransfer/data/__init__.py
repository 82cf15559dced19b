"""Data layer: domains stored as uint8 (in memory, or streamed from files), splits that
never leak, classes matched by name, batched augmentation."""

from .augment import (AffineAugment, NaturalAugment, PhotometricAugment, augment_batch, augment_kind, random_affine,
                      random_natural, random_photometric)
from .batches import BatchStream
from .classes import ClassMatch, load_class_map, match_classes
from .domains import DomainInfo, builtin_domains, describe_domain, load_domain, register_domain
from .formats import FormatChoice, infer_format
from .images import ImageFormat, ImageSet, RawImages, to_model_range, to_unit_range
from .locations import BuildOptions, DataOptions
from .splits import SplitOptions, few_shot_labelled, few_shot_split, per_class_indices, stratified_split
from .storage import ImageFiles, model_batches

__all__ = [
    "AffineAugment",
    "BatchStream",
    "BuildOptions",
    "ClassMatch",
    "DataOptions",
    "DomainInfo",
    "FormatChoice",
    "ImageFiles",
    "ImageFormat",
    "ImageSet",
    "NaturalAugment",
    "PhotometricAugment",
    "RawImages",
    "SplitOptions",
    "augment_batch",
    "augment_kind",
    "random_photometric",
    "builtin_domains",
    "describe_domain",
    "few_shot_labelled",
    "few_shot_split",
    "infer_format",
    "load_class_map",
    "load_domain",
    "match_classes",
    "model_batches",
    "per_class_indices",
    "random_affine",
    "random_natural",
    "register_domain",
    "stratified_split",
    "to_model_range",
    "to_unit_range",
]
