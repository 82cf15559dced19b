"""Domains by name: the built-in ``mnist``, ``usps``, ``mnist-m`` and ``synth-digits``, and any path.

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
from .locations import BuildOptions, DataLocations
from .mnist import read_mnist
from .mnist_m import read_mnist_m
from .synth_digits import read_synth_digits
from .usps import read_usps

SPLITS = ("train", "test")

Reader = Callable[[str, DataLocations, bool], RawImages]
"""``reader(split, locations, download) -> RawImages`` for a named domain."""

_READERS: dict[str, Reader] = {
    "mnist": read_mnist,
    "usps": read_usps,
    "mnist-m": read_mnist_m,
    "synth-digits": read_synth_digits,
}


def register_domain(name: str, reader: Reader) -> None:
    """Make ``name`` usable wherever a domain is asked for (``--source``, ``--target``...).

    ``reader(split, locations, download)`` returns the split's images in
    [0, 1] at any size; they are validated and converted like the built-ins.
    """
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"domain name must be a plain word, got {name!r}")
    _READERS[name.lower()] = reader
    _load_cached.cache_clear()


#: the built domains and the :class:`BuildOptions` fields their content depends on
BUILT_DOMAINS = {"mnist-m": ("backgrounds",), "synth-digits": ("fonts", "synth_digits_train", "synth_digits_test")}


def domain_identity(domain: str, build: BuildOptions = BuildOptions()) -> str:
    """A name for ``domain`` that changes when its content does, for keys of cached models.

    The plain name, except for a built domain made with non-default
    :class:`BuildOptions` that concern it, which are appended
    (``"mnist-m[backgrounds=photos]"``), so that a source, reference or
    translation model of the default build is never reused for another one.
    """
    default = BuildOptions()
    changed = [(name, getattr(build, name)) for name in BUILT_DOMAINS.get(domain.lower(), ())
               if getattr(build, name) != getattr(default, name)]
    if not changed:
        return domain
    return f"{domain}[" + ",".join(f"{name}={value}" for name, value in changed) + "]"


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
    build: BuildOptions = BuildOptions(),
) -> ImageSet:
    """One split of a domain, validated and in model space.

    Args:
        domain: a registered name (``"mnist"``, ``"usps"``, ``"mnist-m"``,
            ``"synth-digits"``) or a path to a
            custom domain (image folder or ``.npz``, see :mod:`.custom`).
        split: ``"train"`` or ``"test"``.
        fmt: the image shape to bring every image to.
        data_dir: read-only folder holding the built-in datasets; defaults to
            ``$GANTRANSFER_DATA``.
        cache_dir: writable folder for downloads; defaults to the user cache.
        download: fetch missing built-in datasets through torchvision.
        build: what built domains (``mnist-m`` without its files, ``synth-digits``)
            are made from; they are built once into the cache directory.

    Returns:
        An :class:`ImageSet`: images float32 (N, C, S, S) in [-1, 1], labels int64 (N,).
        The result is cached in memory; treat its tensors as read-only.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    locations = DataLocations.resolve(data_dir, cache_dir, build)
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
