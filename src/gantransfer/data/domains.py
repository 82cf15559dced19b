"""Domains by name: the built-in ``mnist`` and ``usps``, and any path.

``load_domain("usps", "train")`` returns an :class:`ImageSet` in model space.
New named domains are added with :func:`register_domain`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ..errors import DataError
from .custom import read_custom
from .images import ImageFormat, ImageSet, RawImages, standardize
from .locations import DataLocations
from .mnist import read_mnist
from .usps import read_usps

SPLITS = ("train", "test")

Reader = Callable[[str, DataLocations, bool], RawImages]
"""``reader(split, locations, download) -> RawImages`` for a named domain."""

_READERS: dict[str, Reader] = {"mnist": read_mnist, "usps": read_usps}


def register_domain(name: str, reader: Reader) -> None:
    """Make ``name`` usable wherever a domain is asked for (``--source``, ``--target``...).

    ``reader(split, locations, download)`` returns the split's images in
    [0, 1] at any size; they are validated and converted like the built-ins.
    """
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"domain name must be a plain word, got {name!r}")
    _READERS[name.lower()] = reader
    _load_cached.cache_clear()


def builtin_domains() -> tuple[str, ...]:
    """Names of the registered domains."""
    return tuple(sorted(_READERS))


def load_domain(
    domain: str,
    split: str = "train",
    fmt: ImageFormat = ImageFormat(),
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = False,
) -> ImageSet:
    """One split of a domain, validated and in model space.

    Args:
        domain: a registered name (``"mnist"``, ``"usps"``) or a path to a
            custom domain (image folder or ``.npz``, see :mod:`.custom`).
        split: ``"train"`` or ``"test"``.
        fmt: the image shape to bring every image to.
        data_dir: read-only folder holding the built-in datasets; defaults to
            ``$GANTRANSFER_DATA``.
        cache_dir: writable folder for downloads; defaults to the user cache.
        download: fetch missing built-in datasets through torchvision.

    Returns:
        An :class:`ImageSet`: images float32 (N, C, S, S) in [-1, 1], labels int64 (N,).
        The result is cached in memory; treat its tensors as read-only.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    locations = DataLocations.resolve(data_dir, cache_dir)
    return _load_cached(domain, split, fmt, locations, download)


@lru_cache(maxsize=16)
def _load_cached(domain: str, split: str, fmt: ImageFormat, locations: DataLocations, download: bool) -> ImageSet:
    reader = _READERS.get(domain.lower())
    if reader is not None:
        raw = reader(split, locations, download)
        name = f"{domain.lower()}/{split}"
    elif _looks_like_path(domain):
        raw = read_custom(Path(domain).expanduser(), split, fmt)
        name = f"{domain}/{split}"
    else:
        raise DataError(
            f"unknown domain {domain!r}: use one of {', '.join(builtin_domains())} "
            "or a path to an image folder or .npz file"
        )
    return standardize(raw, fmt, name)


def _looks_like_path(domain: str) -> bool:
    return Path(domain).expanduser().exists() or "/" in domain or domain.endswith(".npz")
