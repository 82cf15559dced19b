"""Domains by name: the built-in ``mnist``, ``usps``, ``mnist-m`` and ``synth-digits``, and any path.

``load_domain("usps", "train")`` returns an :class:`ImageSet` of uint8 pixels
in a format; :func:`describe_domain` says what a domain is (its classes, its
images' native format, its layout, the key that names it in caches) without
converting it. New named domains are added with :func:`register_domain`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..errors import DataError
from ..notice import notice
from .datasets import READERS, Reader, register_reader
from .datasets.custom import read_custom
from .fingerprint import arrays_fingerprint, domain_key, path_fingerprint
from .geometry import standardize
from .images import ImageFormat, ImageSet, uniformity_warning, validate_raw
from .listing import ArraySplit, FileSplit, ImageSummary, Split
from .locations import BuildOptions, DataLocations, DataOptions
from .splits import SplitOptions
from .storage import GIB, ImageFiles, default_workers, load_into_memory, memory_budget

SPLITS = ("train", "test", "validation")


def register_domain(name: str, reader: Reader) -> None:
    """Make ``name`` usable wherever a domain is asked for (``--source``, ``--target``...).

    ``reader(split, locations, download)`` returns the ``train`` or ``test``
    split's images (uint8, or float in [0, 1]) at any size; they are validated
    and converted like the built-ins.
    """
    register_reader(name, reader)
    clear_domain_caches()


def clear_domain_caches() -> None:
    """Forget every domain read in this process, so the next load reads (or builds) it again."""
    for cache in (_read_builtin, _builtin_key, _load_cached):
        cache.cache_clear()


def builtin_domains() -> tuple[str, ...]:
    """Names of the registered domains."""
    return tuple(sorted(READERS))


class OpenDomain:
    """A domain's splits, before conversion to a format.

    Attributes:
        layout: the built-in's name or which custom layout it is.
        drawn_test: the test split was drawn from the train images here.
    """

    layout: str
    drawn_test: bool

    def split(self, name: str) -> Split:
        raise NotImplementedError

    def has_split(self, name: str) -> bool:
        raise NotImplementedError

    @property
    def key(self) -> str:
        """Names the domain's content in cache keys (:func:`~.fingerprint.domain_key`)."""
        raise NotImplementedError

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(name for name in SPLITS if self.has_split(name))

    def summary(self, split: str = "train") -> ImageSummary:
        """The native format of ``split``'s images (read once per domain content)."""
        summaries = self.__dict__.setdefault("_summaries", {})
        if split not in summaries:
            summaries[split] = self.split(split).summary()
        return summaries[split]


class BuiltinDomain(OpenDomain):
    """A registered reader's domain; each split is read when first asked for."""

    def __init__(self, name: str, locations: DataLocations, download: bool) -> None:
        self.name, self.locations, self.download = name, locations, download
        self.layout, self.drawn_test = f"built-in domain {name}", False

    def split(self, name: str) -> Split:
        if not self.has_split(name):
            raise DataError(f"{self.name}: has no {name} split ({self.layout})")
        return _read_builtin(self.name, name, self.locations, self.download)

    def has_split(self, name: str) -> bool:
        return name in ("train", "test")

    @property
    def key(self) -> str:
        """The name and a digest of the train split's arrays (what stages train on)."""
        return _builtin_key(self.name, self.locations, self.download)


class PathDomain(OpenDomain):
    """A custom domain at a path, every split listed (folders) or read (``.npz``)."""

    def __init__(self, path: Path, fingerprint: str, options: SplitOptions) -> None:
        custom = read_custom(path, options)
        self.layout, self.drawn_test, self.splits = custom.layout, custom.drawn_test, custom.splits
        self._key = domain_key(str(path), fingerprint)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DataError(f"{self._key.rsplit('@', 1)[0]}: has no {name} split ({self.layout})")
        return self.splits[name]

    def has_split(self, name: str) -> bool:
        return name in self.splits

    @property
    def key(self) -> str:
        return self._key


@dataclass(frozen=True)
class DomainInfo:
    """What a domain is, for a run to decide its format and check its classes.

    Attributes:
        name: as given (``mnist``, ``data/amazon``).
        key: the content key of cached models trained on it.
        layout: how its files are organised.
        class_names: the train split's classes.
        summary: the train split's native image format.
        drawn_test: its test split was drawn here (see :class:`SplitOptions`).
        splits: the splits it has.
        class_counts: images of each class in the train split (same order as ``class_names``).
    """

    name: str
    key: str
    layout: str
    class_names: tuple[str, ...]
    summary: ImageSummary
    drawn_test: bool
    splits: tuple[str, ...]
    class_counts: tuple[int, ...] = ()

    @property
    def counts_by_class(self) -> dict[str, int]:
        """``{class name: train images}`` (empty where unknown)."""
        return dict(zip(self.class_names, self.class_counts))


@lru_cache(maxsize=8)
def _read_builtin(name: str, split: str, locations: DataLocations, download: bool) -> ArraySplit:
    raw = READERS[name](split, locations, download)
    validate_raw(raw)
    return ArraySplit(raw)


@lru_cache(maxsize=8)
def _builtin_key(name: str, locations: DataLocations, download: bool) -> str:
    return domain_key(name, arrays_fingerprint(_read_builtin(name, "train", locations, download).raw))


@lru_cache(maxsize=8)
def _read_path(path: Path, fingerprint: str, options: SplitOptions) -> PathDomain:
    return PathDomain(path, fingerprint, options)


def open_domain(domain: str, locations: DataLocations, download: bool = False,
                options: SplitOptions = SplitOptions()) -> OpenDomain:
    """The splits of a registered name or a path (a changed folder is read again)."""
    if domain.lower() in READERS:
        return BuiltinDomain(domain.lower(), locations, download)
    if not _looks_like_path(domain):
        raise DataError(
            f"unknown domain {domain!r}: use one of {', '.join(builtin_domains())} "
            "or a path to an image folder or .npz file"
        )
    path = Path(domain).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    resolved = path.resolve()
    return _read_path(resolved, path_fingerprint(resolved), options)


def describe_domain(
    domain: str, data: DataOptions = DataOptions(), options: SplitOptions = SplitOptions()
) -> DomainInfo:
    """Classes, native format, layout and content key of ``domain`` (image headers only,
    for a folder: pixels are decoded when a split is loaded)."""
    opened = open_domain(domain, DataLocations.resolve(data.data_dir, data.cache_dir, data.build), data.download, options)
    train = opened.split("train")
    counts = torch.bincount(train.labels, minlength=len(train.class_names)).tolist() if len(train.labels) else []
    return DomainInfo(domain, opened.key, opened.layout, train.class_names, opened.summary("train"),
                      opened.drawn_test, opened.split_names, tuple(counts))


def drawn_test_members(domain: str, data: DataOptions = DataOptions(), options: SplitOptions = SplitOptions()
                       ) -> dict | None:
    """The test split drawn for ``domain`` (None when its layout gives one): how, and its
    members (file paths relative to the domain, or rows of its array), for ``splits.json``."""
    opened = open_domain(domain, DataLocations.resolve(data.data_dir, data.cache_dir, data.build), data.download, options)
    if not opened.drawn_test:
        return None
    test = opened.split("test")
    return {"domain": domain, "key": opened.key, "layout": opened.layout, "test_fraction": options.test_fraction,
            "seed": options.seed, "train_size": len(opened.split("train")), "test_size": len(test),
            "test": test.members()}


def load_domain(
    domain: str,
    split: str = "train",
    fmt: ImageFormat = ImageFormat(),
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = False,
    *,
    splits: SplitOptions = SplitOptions(),
    memory_budget_gib: float | None = None,
    workers: int | None = None,
    build: BuildOptions = BuildOptions(),
) -> ImageSet:
    """One split of a domain, validated and in ``fmt``.

    Args:
        domain: a registered name (``"mnist"``, ``"usps"``, ``"mnist-m"``,
            ``"synth-digits"``) or a path to a
            custom domain (image folder or ``.npz``, see :mod:`.custom`).
        split: ``"train"``, ``"test"`` or ``"validation"`` (where the layout has one).
        fmt: the format to bring every image to.
        data_dir: read-only folder holding the built-in datasets; defaults to
            ``$GANTRANSFER_DATA``.
        cache_dir: writable folder for downloads; defaults to the user cache.
        download: fetch missing built-in datasets through torchvision.
        splits: how a test split is drawn where the layout has none.
        memory_budget_gib, workers: see :class:`DataOptions`; an image folder
            whose pixels exceed the budget is streamed.
        build: what built domains (``mnist-m`` without its files, ``synth-digits``)
            are made from; they are built once into the cache directory.

    Returns:
        An :class:`ImageSet`: images uint8 (N, C, S, S) (or :class:`ImageFiles`
        when streamed), labels int64 (N,). The result is cached in memory;
        treat its tensors as read-only.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    locations = DataLocations.resolve(data_dir, cache_dir, build)
    opened = open_domain(domain, locations, download, splits)
    part = opened.split(split)
    stream = False
    if isinstance(part, FileSplit):
        budget = memory_budget(memory_budget_gib)
        stream = len(part) * fmt.channels * fmt.size**2 > budget
    # A path's key changes with its files, so a changed folder is read again; a built-in's name suffices.
    token = opened.key if isinstance(opened, PathDomain) else domain.lower()
    return _load_cached(domain, split, fmt, locations, download, splits, token, stream, default_workers(workers))


@lru_cache(maxsize=16)
def _load_cached(domain: str, split: str, fmt: ImageFormat, locations: DataLocations, download: bool,
                 splits: SplitOptions, key: str, stream: bool, workers: int) -> ImageSet:
    part = open_domain(domain, locations, download, splits).split(split)
    name = f"{domain.lower() if domain.lower() in READERS else domain}/{split}"
    if isinstance(part, ArraySplit):
        return _warn_if_uniform(standardize(part.raw, fmt, name))
    files = ImageFiles(part.files, fmt, workers)
    if stream:
        notice(f"{name}: {files.nbytes() / GIB:.2f} GiB of pixels at {fmt.describe()} is over the memory budget: "
               f"streamed from disk ({workers} decoding worker(s); --memory-budget GIB to choose)")
        images = files
    else:
        images = load_into_memory(files)
    return _warn_if_uniform(ImageSet(images, part.labels, part.class_names, name, fmt))


def _warn_if_uniform(images: ImageSet) -> ImageSet:
    """``images``, after a notice if they are (nearly) all blank or alike. A streamed set is not
    looked at: decoding a sample of it here would read files streaming leaves for training."""
    if not images.streamed and (warning := uniformity_warning(images.images, images.name)) is not None:
        notice(warning)
    return images


def load_split(domain: str, split: str, fmt: ImageFormat, data: DataOptions = DataOptions(),
               splits: SplitOptions = SplitOptions()) -> ImageSet:
    """:func:`load_domain` with the locations, memory budget and workers of ``data``."""
    return load_domain(domain, split, fmt, data.data_dir, data.cache_dir, data.download, splits=splits,
                       memory_budget_gib=data.memory_budget, workers=data.workers, build=data.build)


SPLITS_FILE = "splits.json"


def write_drawn_splits(out: str | os.PathLike, domains: dict[str, str], data: DataOptions = DataOptions(),
                       splits: SplitOptions = SplitOptions()) -> Path | None:
    """Write ``out/splits.json``: for each role -> domain of ``domains`` whose test split
    was drawn here, how and which images (see :func:`drawn_test_members`). None if none was."""
    from ..fileio import write_json

    record = {role: drawn for role, domain in domains.items()
              if (drawn := drawn_test_members(domain, data, splits)) is not None}
    if not record:
        return None
    path = Path(out) / SPLITS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return path


def _looks_like_path(domain: str) -> bool:
    return Path(domain).expanduser().exists() or "/" in domain or domain.endswith(".npz")
