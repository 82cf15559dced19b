"""Data-parallel training over processes started by ``torchrun``, with PyTorch's own engine.

``torchrun --nproc_per_node N -m gantransfer.cli.main pretrain ...`` starts N
copies of a command and tells each its place through the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).
:func:`setup` reads it, joins the process group (gloo on the CPU, NCCL on
CUDA) and returns a :class:`DistributedContext`; started without torchrun it
returns a single-process context and changes nothing, so one code path
serves both.

What a run on N processes does:

- ``batch_size`` is the *global* batch. Every rank draws the batch a single
  process would draw (same seeded :class:`~gantransfer.data.BatchStream`)
  and keeps its 1/N slice, so the data order, the step count and the learning
  rates do not depend on N, and a checkpoint (whose stream state is global)
  resumes on any N that divides the batch.
- Networks start identical (same seed; DistributedDataParallel also
  broadcasts rank 0's weights) and DDP averages the gradients, so after every
  step all ranks hold the same weights (:meth:`DistributedContext.check_in_sync`
  verifies it at the end of a run).
- Random draws (latent noise, augmentation, dropout) must differ between
  ranks: under N > 1 the trainer seeds each rank's generator per step from
  ``(seed, rank, step)``. Results therefore differ from a single-process run
  within the noise of training; without noise and BatchNorm (e.g. a
  classifier with LayerNorm and no augmentation) they agree up to float
  rounding.
- BatchNorm is plain, per rank: it normalises each rank's slice of the batch;
  running statistics follow rank 0's (DDP broadcasts buffers at each forward).
  SyncBatchNorm is not used.
- Only rank 0 writes (run folder, metrics, pictures, checkpoints, shared
  stages); the others wait for it where they need its files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..data import BatchStream
from ..errors import ConfigError
from .device import resolve_device

#: how long a rank waits in a collective before the run fails
TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a data-parallel run (rank 0 of 1 without torchrun).

    Attributes:
        rank: this process, 0..world_size-1; rank 0 writes every output.
        world_size: processes in the run.
        local_rank: this process on its machine (its GPU index under CUDA).
        device: where this process trains.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when there is more than one process (and so a process group)."""
        return self.world_size > 1

    # -- data and networks ------------------------------------------------------
    def shard(self, batch_size: int, name: str = "batch_size") -> int:
        """This rank's part of a global batch; the batch must split evenly."""
        if batch_size % self.world_size:
            raise ConfigError(
                f"{name} {batch_size} does not split evenly over {self.world_size} processes: "
                f"use a multiple of {self.world_size}"
            )
        return batch_size // self.world_size

    def stream(self, tensors: tuple[Tensor, ...], batch_size: int, seed: int, name: str = "batch_size") -> BatchStream:
        """This rank's slices of the global batches a single process would draw."""
        return BatchStream(tensors, self.shard(batch_size, name), seed=seed, rank=self.rank,
                           world_size=self.world_size)

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DistributedDataParallel when there are several processes
        and it has trainable parameters; else ``module`` itself."""
        if not self.enabled or not any(p.requires_grad for p in module.parameters()):
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    # -- agreement between ranks -------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank gets here (e.g. until rank 0 has written a file)."""
        if self.enabled:
            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object), on every rank."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any, e.g. a stop request seen by one."""
        if not self.enabled:
            return flag
        return bool(self._reduced(torch.tensor([float(flag)]), dist.ReduceOp.MAX)[0] > 0)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The average of each value over ranks (same keys on every rank)."""
        if not self.enabled or not values:
            return values
        keys = sorted(values)
        total = self._reduced(torch.tensor([values[k] for k in keys], dtype=torch.float64), dist.ReduceOp.SUM)
        return {key: float(total[i]) / self.world_size for i, key in enumerate(keys)}

    def seed_step(self, seed: int, step: int) -> None:
        """Seed this rank's random draws for ``step`` from ``(seed, rank, step)``: different
        on every rank, and the same again when a run resumes at that step."""
        state = np.random.SeedSequence([seed % 2**63, self.rank, step]).generate_state(2, dtype=np.uint32)
        torch.manual_seed(int(state[0]) << 32 | int(state[1]))

    def check_in_sync(self, modules: dict[str, nn.Module]) -> None:
        """Raise if the ranks' parameters differ (they never should under DDP)."""
        if not self.enabled:
            return
        sums = []
        for module in modules.values():
            for parameter in module.parameters():
                data = parameter.detach().double()
                sums += [data.sum(), data.square().sum()]
        if not sums:
            return
        local = torch.stack(sums)
        # Every rank must hold exactly rank 0's values: compare with the broadcast ones.
        reference = local.to(self._collective_device, copy=True)
        dist.broadcast(reference, src=0)
        differs = not torch.equal(reference.cpu(), local.cpu())
        if self.any(differs):
            raise RuntimeError("the processes' network weights differ: data-parallel training went out of sync")

    @property
    def _collective_device(self) -> torch.device:
        # NCCL only reduces CUDA tensors; gloo only CPU ones.
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def _reduced(self, tensor: Tensor, op) -> Tensor:
        moved = tensor.to(self._collective_device)
        dist.all_reduce(moved, op=op)
        return moved.cpu()


def _environment() -> tuple[int, int, int]:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    return rank, world_size, local_rank


def setup(device: str = "auto") -> DistributedContext:
    """This process's :class:`DistributedContext`, joining torchrun's process group on first use.

    Without torchrun (``WORLD_SIZE`` unset or 1) nothing is initialised and
    the context is rank 0 of 1 on ``resolve_device(device)``. Under torchrun,
    CUDA processes each take GPU ``LOCAL_RANK`` and talk over NCCL; CPU
    processes talk over gloo. Calling it again returns the same context.
    """
    rank, world_size, local_rank = _environment()
    resolved = resolve_device(device)
    if world_size == 1:
        return DistributedContext(device=resolved)
    if resolved.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"process {local_rank} on this machine has no GPU of its own "
                              f"({torch.cuda.device_count()} visible): start at most that many processes")
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    elif resolved.type == "mps":
        raise ConfigError("multi-process training needs CUDA GPUs or the CPU (gloo), not Apple MPS")
    if not dist.is_initialized():
        # Ranks wait in collectives while rank 0 alone evaluates, or waits for a shared stage
        # that another run is training: allow that much longer than the default minutes.
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo", timeout=TIMEOUT)
    elif dist.get_world_size() != world_size:
        raise ConfigError("a process group of another size is already initialised")
    return DistributedContext(rank=dist.get_rank(), world_size=world_size, local_rank=local_rank, device=resolved)


def cleanup() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

