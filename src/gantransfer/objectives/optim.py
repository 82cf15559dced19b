"""Optimiser settings as data, so that each objective can carry its paper's defaults."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class OptimizerConfig:
    """An optimiser: ``name`` in adam | rmsprop | sgd, learning rate, Adam betas,
    SGD momentum, weight decay."""

    name: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.name!r}")
        if self.lr <= 0:
            raise ConfigError(f"learning rate must be > 0, got {self.lr}")

    def build(self, params: Iterable[nn.Parameter] | Iterable[dict]) -> torch.optim.Optimizer:
        """The optimiser over ``params`` (parameters or parameter groups).

        Adam and SGD take PyTorch's fused kernels where every parameter allows them
        (floating point, on the CPU or a CUDA GPU): one kernel for all parameters in
        place of a few per parameter (a few per cent of a classifier step on the CPU,
        measured by ``benchmarks/step_speed.py``).
        """
        params = [dict(item, params=list(item["params"])) if isinstance(item, dict) else item for item in params]
        if self.name == "adam":
            return torch.optim.Adam(params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay,
                                    fused=_fusable(params))
        if self.name == "rmsprop":
            return torch.optim.RMSprop(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
                               fused=_fusable(params))


def _fusable(params: list) -> bool | None:
    """True where a fused optimiser takes every parameter, else None (PyTorch's default choice)."""
    tensors = [p for item in params for p in (item["params"] if isinstance(item, dict) else [item])]
    fits = all(t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors)
    return True if tensors and fits else None
