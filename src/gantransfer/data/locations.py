"""Where built-in datasets are looked for, where downloads and built domains go,
and what built domains are made from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..paths import DATA_DIR_ENV, resolve_cache_dir, resolve_data_dir

#: where built domains go, beside ``download_dir`` in the cache directory
BUILT_FOLDER = "built"


@dataclass(frozen=True)
class BuildOptions:
    """What the built-in domains that are made rather than read are made from.

    ``mnist-m`` is built when its published files are absent (or ``backgrounds``
    is given), ``synth-digits`` always is. Each distinct value builds its own
    cached copy, so other photos or fonts never pick up a stale domain.

    Args:
        backgrounds: folder of colour photos (any format Pillow reads, searched
            recursively) whose patches are mnist-m's backgrounds (default: the
            colour photographs bundled with scikit-image); giving it builds
            mnist-m even where its published files are present.
        fonts: folder of TrueType / OpenType fonts (.ttf, .otf, searched
            recursively) that synth-digits prints its digits in (default:
            the DejaVu, STIX and Computer Modern fonts bundled with matplotlib).
        synth_digits_train: images in synth-digits' train split.
        synth_digits_test: images in synth-digits' test split.
    """

    backgrounds: str | None = None
    fonts: str | None = None
    synth_digits_train: int = 50_000
    synth_digits_test: int = 10_000

    def __post_init__(self) -> None:
        for name in ("synth_digits_train", "synth_digits_test"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("backgrounds", "fonts"):
            if getattr(self, name) == "":
                raise ConfigError(f"{name} must be a folder, got an empty string")


@dataclass(frozen=True)
class DataOptions:
    """Where data comes from, as a user gives it; not part of a run's identity,
    so a run can resume on a machine that keeps its data elsewhere.

    Args:
        data_dir: read-only folder of built-in datasets (default ``$GANTRANSFER_DATA``).
        cache_dir: writable folder for downloads and cached reference models.
        download: fetch missing built-in datasets (needs a network).
        memory_budget: GiB of pixels a domain's split may hold in memory (uint8,
            at the run's format); an image folder over it streams from disk.
            None: a quarter of the memory available when it is loaded.
        workers: DataLoader processes that decode streamed (and loading) image
            files; None: one per CPU core, at most 4; 0: in the main process.
        build: what built domains (mnist-m without its files, synth-digits) are made from.
    """

    data_dir: str | None = None
    cache_dir: str | None = None
    download: bool = False
    memory_budget: float | None = None
    workers: int | None = None
    build: BuildOptions = BuildOptions()

    def __post_init__(self) -> None:
        if self.memory_budget is not None and self.memory_budget < 0:
            raise DataError(f"memory budget must be >= 0 GiB, got {self.memory_budget}")
        if self.workers is not None and self.workers < 0:
            raise DataError(f"workers must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class DataLocations:
    """The read-only data directory, the writable download directory, and what
    built domains are made from.

    Built-in datasets are looked for first under ``data_dir`` (``--data-dir``
    or ``$GANTRANSFER_DATA``), then under ``download_dir``; downloads are only
    ever written to ``download_dir`` and built domains to :attr:`built_dir`,
    never to ``data_dir``.
    """

    data_dir: Path | None
    download_dir: Path
    build: BuildOptions = BuildOptions()

    @classmethod
    def resolve(
        cls,
        data_dir: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
        build: BuildOptions = BuildOptions(),
    ) -> "DataLocations":
        return cls(resolve_data_dir(data_dir), resolve_cache_dir(cache_dir) / "datasets", build)

    @property
    def built_dir(self) -> Path:
        """Where built domains are cached: ``<cache dir>/built``."""
        return self.download_dir.parent / BUILT_FOLDER

    @property
    def roots(self) -> list[Path]:
        return [root for root in (self.data_dir, self.download_dir) if root is not None]

    def find(self, dataset: str, alternatives: list[list[str]]) -> tuple[Path, list[Path]] | None:
        """The first root and files where one alternative layout is complete.

        Args:
            dataset: the folder name under each root (e.g. ``"MNIST/raw"``).
            alternatives: lists of file names; the first list whose files all
                exist under ``root/dataset`` wins.
        """
        for root in self.roots:
            folder = root / dataset
            for names in alternatives:
                files = [folder / name for name in names]
                if all(f.is_file() for f in files):
                    return folder, files
        return None

    def missing_error(self, dataset: str, alternatives: list[list[str]], hint: str = "") -> DataError:
        """A one-line error that says which files were expected, and where."""
        where = " or ".join(str(root / dataset) for root in self.roots) or "(no data directory set)"
        layouts = " or ".join("{" + ", ".join(names) + "}" for names in alternatives)
        message = f"{dataset.split('/')[0]} not found: expected {layouts} in {where}"
        if self.data_dir is None:
            message += f"; set --data-dir or ${DATA_DIR_ENV}"
        return DataError(message + (f"; {hint}" if hint else ""))
