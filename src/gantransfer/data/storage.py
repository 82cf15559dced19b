"""Where a domain's pixels live: a uint8 tensor in memory, or image files decoded per batch.

A folder whose pixels (N x C x S x S bytes at the run's format) exceed the
memory budget is not loaded: its :attr:`ImageSet.images` is an
:class:`ImageFiles`, which decodes files when indexed, like a tensor would
give them, and whose batches :class:`~gantransfer.data.batches.BatchStream`
and :func:`model_batches` decode ahead in ``torch.utils.data.DataLoader``
worker processes. Both paths decode a file with the same function
(:func:`decode_to_format`), so they give the same pixels.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from .decode import decode_image
from .geometry import fit_to_format
from .images import ImageFormat, to_model_range, to_pixels

#: the default memory budget: this fraction of the memory available when a domain is loaded
BUDGET_FRACTION = 0.25
GIB = 1024**3


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable`` of /proc/meminfo,
    else free pages by ``os.sysconf``)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_budget(gib: float | None) -> int:
    """The budget in bytes: ``gib`` GiB, or :data:`BUDGET_FRACTION` of the available memory."""
    return int(gib * GIB) if gib is not None else int(available_memory() * BUDGET_FRACTION)


def default_workers(workers: int | None) -> int:
    """DataLoader worker processes: ``workers``, or one per CPU core this process may use, at most 4."""
    if workers is not None:
        return workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(4, cores)


def decode_to_format(path: str | Path, fmt: ImageFormat) -> Tensor:
    """One image file as uint8 (C, S, S) in ``fmt`` (see :mod:`.decode` and :mod:`.geometry`)."""
    return to_pixels(fit_to_format(decode_image(path)[None], fmt))[0]


class ImageFiles(Dataset):
    """Image files standing in for a uint8 (N, C, S, S) tensor: indexing decodes.

    ``files[i]`` is uint8 (C, S, S); ``files[indices]`` (a slice, list or int64
    tensor) is uint8 (len(indices), C, S, S); :meth:`select` is the lazy subset.

    Args:
        paths: the files, in the order of the domain's labels.
        fmt: the format every file is brought to.
        workers: DataLoader worker processes that decode batches ahead (0: in this process).
    """

    dtype = torch.uint8
    ndim = 4

    def __init__(self, paths: Sequence[str | Path], fmt: ImageFormat, workers: int = 0) -> None:
        self.paths = tuple(str(path) for path in paths)
        self.format = fmt
        self.workers = workers

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.paths), *self.format.shape))

    def load(self, index: int) -> Tensor:
        return decode_to_format(self.paths[index], self.format)

    def _positions(self, index) -> list[int]:
        if isinstance(index, slice):
            return list(range(len(self.paths)))[index]
        if isinstance(index, Tensor):
            return [int(i) for i in index.flatten()]
        return [int(i) for i in index]

    def __getitem__(self, index) -> Tensor:
        if isinstance(index, int) or (isinstance(index, Tensor) and index.ndim == 0):
            return self.load(int(index))
        positions = self._positions(index)
        if not positions:
            return torch.empty((0, *self.format.shape), dtype=torch.uint8)
        return torch.stack([self.load(i) for i in positions])

    def select(self, indices) -> "ImageFiles":
        """The files at ``indices``, still undecoded."""
        return ImageFiles([self.paths[i] for i in self._positions(indices)], self.format, self.workers)

    def nbytes(self) -> int:
        return len(self.paths) * self.format.channels * self.format.size**2


class _Decoded(Dataset):
    """What a DataLoader worker returns for one file: its pixels, or the error's message
    (an exception raised in a worker reaches the caller as a multi-line traceback)."""

    def __init__(self, files: ImageFiles) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor | str:
        try:
            return self.files.load(index)
        except DataError as error:
            return str(error)


def _collate(items: list[Tensor | str]) -> Tensor | str:
    errors = [item for item in items if isinstance(item, str)]
    return errors[0] if errors else torch.stack(items)


def decoded_batches(files: ImageFiles, batches: Iterable[list[int]], workers: int | None = None) -> Iterator[Tensor]:
    """uint8 (B, C, S, S) pixels of each index list of ``batches``, in order, decoded
    ``workers`` (default ``files.workers``) processes ahead; a file that cannot be
    decoded is a :class:`DataError` naming it."""
    workers = files.workers if workers is None else workers
    loader = DataLoader(_Decoded(files), batch_sampler=batches, num_workers=workers, collate_fn=_collate,
                        prefetch_factor=2 if workers else None)
    for batch in loader:
        if isinstance(batch, str):
            raise DataError(batch)
        yield batch


def _in_order(count: int, batch_size: int) -> Iterator[list[int]]:
    for start in range(0, count, batch_size):
        yield list(range(start, min(count, start + batch_size)))


def load_into_memory(files: ImageFiles, batch_size: int = 256) -> Tensor:
    """Every file of ``files`` decoded into one uint8 (N, C, S, S) tensor (in its workers, unless
    there are too few files to be worth starting them)."""
    pixels = torch.empty(tuple(files.shape), dtype=torch.uint8)
    start = 0
    workers = files.workers if len(files) > batch_size else 0
    for batch in decoded_batches(files, _in_order(len(files), batch_size), workers):
        pixels[start : start + len(batch)] = batch
        start += len(batch)
    return pixels


#: pixels per channel in one evaluation batch: 1,024 images of 28 x 28, fewer of larger ones, so that
#: the activations of an evaluation stay the same size whatever the images' side (at 128 px a batch
#: of 1,024 held about 1 GB of activations)
EVALUATION_PIXELS = 1024 * 28 * 28


def evaluation_batch_size(images: "Tensor | ImageFiles") -> int:
    """Images per evaluation batch for images (N, C, H, W): :data:`EVALUATION_PIXELS` of them, at least 1."""
    height, width = images.shape[-2:]
    return max(1, EVALUATION_PIXELS // (height * width))


def model_batches(images: "Tensor | ImageFiles", batch_size: int | None = 512) -> Iterator[Tensor]:
    """``images`` in order, as float32 batches (B, C, S, S) in [-1, 1] (what networks see);
    ``batch_size`` None: :func:`evaluation_batch_size`."""
    batch_size = batch_size or evaluation_batch_size(images)
    if isinstance(images, ImageFiles):
        for batch in decoded_batches(images, _in_order(len(images), batch_size)):
            yield to_model_range(batch)
        return
    for start in range(0, len(images), batch_size):
        yield to_model_range(images[start : start + batch_size])
