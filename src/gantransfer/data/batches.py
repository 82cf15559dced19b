"""Endless, seeded, resumable batches over in-memory tensors."""

from __future__ import annotations

import torch
from torch import Tensor


class BatchStream:
    """Shuffled mini-batches drawn endlessly from tensors that share a first dimension.

    The order of epoch ``e`` is ``randperm(N)`` seeded by ``(seed, e)``, so the
    stream's whole state is two integers (:meth:`state_dict`) and a resumed
    run draws exactly the batches an uninterrupted one would. Sets smaller
    than a batch are cycled, so ``k = 1`` (ten images) still fills a batch of 64.

    Under data parallelism each of ``world_size`` ranks takes its slice of one
    global batch of ``batch_size * world_size`` examples.

    Args:
        tensors: tensors with the same first dimension N > 0.
        batch_size: examples per batch (per rank).
        seed: seeds the order.
        rank, world_size: this process's slice of the global batch.
    """

    def __init__(
        self, tensors: tuple[Tensor, ...], batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if not tensors or tensors[0].shape[0] == 0:
            raise ValueError("BatchStream needs at least one non-empty tensor")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("BatchStream tensors must share their first dimension")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.position = 0
        self._order = self._permutation(0)

    def __len__(self) -> int:
        """Examples in the underlying tensors."""
        return int(self.tensors[0].shape[0])

    def _permutation(self, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self), generator=generator)

    def _take(self, count: int) -> Tensor:
        pieces = []
        while count > 0:
            if self.position == len(self):
                self.epoch += 1
                self.position = 0
                self._order = self._permutation(self.epoch)
            step = min(count, len(self) - self.position)
            pieces.append(self._order[self.position : self.position + step])
            self.position += step
            count -= step
        return torch.cat(pieces)

    def next_indices(self) -> Tensor:
        """This rank's indices of the next global batch, int64 (batch_size,)."""
        global_batch = self._take(self.batch_size * self.world_size)
        return global_batch[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> tuple[Tensor, ...]:
        indices = self.next_indices()
        return tuple(t[indices] for t in self.tensors)

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.position / len(self)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = self._permutation(self.epoch)
