"""Endless, seeded, resumable batches over in-memory tensors or image files."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import Tensor

from .images import to_model_range
from .storage import ImageFiles, decoded_batches


class _Order:
    """The position in an endless sequence of seeded epochs: epoch ``e`` visits
    ``randperm(N)`` seeded by ``(seed, e)``."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0
        self.position = 0
        self.order = self.permutation(0)

    def permutation(self, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator)

    def take(self, count: int) -> Tensor:
        pieces = []
        while count > 0:
            if self.position == self.size:
                self.epoch += 1
                self.position = 0
                self.order = self.permutation(self.epoch)
            step = min(count, self.size - self.position)
            pieces.append(self.order[self.position : self.position + step])
            self.position += step
            count -= step
        return torch.cat(pieces)

    def seek(self, epoch: int, position: int) -> None:
        self.epoch, self.position = epoch, position
        self.order = self.permutation(epoch)


class BatchStream:
    """Shuffled mini-batches drawn endlessly from tensors that share a first dimension.

    The order of epoch ``e`` is ``randperm(N)`` seeded by ``(seed, e)``, so the
    stream's whole state is two integers (:meth:`state_dict`) and a resumed
    run draws exactly the batches an uninterrupted one would. Sets smaller
    than a batch are cycled, so ``k = 1`` (ten images) still fills a batch of 64.

    uint8 tensors are image pixels (0..255) and come out as float32 in
    [-1, 1] (:func:`~gantransfer.data.images.to_model_range`), converted per
    batch so that a domain is stored at a quarter of float32's size. An
    :class:`~gantransfer.data.storage.ImageFiles` column (a domain over the
    memory budget) gives the same batches, decoded ahead in DataLoader workers.

    Under data parallelism each of ``world_size`` ranks takes its slice of one
    global batch of ``batch_size * world_size`` examples.

    Args:
        tensors: tensors (or ImageFiles) with the same first dimension N > 0.
        batch_size: examples per batch (per rank).
        seed: seeds the order.
        rank, world_size: this process's slice of the global batch.
    """

    def __init__(
        self, tensors: tuple[Tensor | ImageFiles, ...], batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if not tensors or len(tensors[0]) == 0:
            raise ValueError("BatchStream needs at least one non-empty tensor")
        if any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("BatchStream tensors must share their first dimension")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self._cursor = _Order(len(tensors[0]), seed)
        self._ahead: list[Iterator[Tensor] | None] = [None] * len(tensors)

    def __len__(self) -> int:
        """Examples in the underlying tensors."""
        return self._cursor.size

    @property
    def epoch(self) -> int:
        return self._cursor.epoch

    @property
    def position(self) -> int:
        return self._cursor.position

    def _next_slice(self, cursor: _Order) -> Tensor:
        global_batch = cursor.take(self.batch_size * self.world_size)
        return global_batch[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def next_indices(self) -> Tensor:
        """This rank's indices of the next global batch, int64 (batch_size,)."""
        return self._next_slice(self._cursor)

    def _upcoming(self) -> Iterator[list[int]]:
        """The index lists of every batch from the current position on (of a copy of the
        cursor taken now, before the caller draws its next batch)."""
        cursor = copy.deepcopy(self._cursor)

        def batches() -> Iterator[list[int]]:
            while True:
                yield self._next_slice(cursor).tolist()

        return batches()

    def _column(self, index: int, column: Tensor | ImageFiles, indices: Tensor) -> Tensor:
        if isinstance(column, ImageFiles):
            if self._ahead[index] is None:
                raise RuntimeError("internal: the decoding workers start before the batch is drawn")
            return to_model_range(next(self._ahead[index]))
        return to_model_range(column[indices])

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> tuple[Tensor, ...]:
        for index, column in enumerate(self.tensors):
            if isinstance(column, ImageFiles) and self._ahead[index] is None:
                self._ahead[index] = decoded_batches(column, self._upcoming())
        indices = self.next_indices()
        return tuple(self._column(i, column, indices) for i, column in enumerate(self.tensors))

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.position / len(self)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._cursor.seek(int(state["epoch"]), int(state["position"]))
        self._ahead = [None] * len(self.tensors)  # the workers decode from the new position on
