"""Reaching the network inside the wrappers that training puts around it."""

from __future__ import annotations

from torch import nn
from torch.nn.parallel import DistributedDataParallel


def unwrap(module: nn.Module) -> nn.Module:
    """The network inside ``DistributedDataParallel``, ``torch.compile`` and
    ``CompiledOrEager`` wrappers (any depth), or ``module`` itself. Its attributes (``config``,
    ``sample_latent``...) and its state dict's keys are the plain network's."""
    while True:
        if isinstance(module, DistributedDataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod") and type(module).__name__ == "OptimizedModule":
            module = module._orig_mod  # what torch.compile returns
        elif type(module).__name__ == "CompiledOrEager":
            module = module.eager
        else:
            return module
