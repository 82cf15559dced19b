"""Where and how fast networks train: the device, mixed precision, channels-last memory, ``torch.compile``.

Every config that trains nests one :class:`Acceleration` (``PretrainConfig.acceleration``,
``TransferConfig.acceleration``); on the command line its fields are the top-level
options ``--device``, ``--precision``, ``--channels-last`` and ``--compile``.

The speed options apply on CUDA only. On the CPU (and on Apple MPS) every option is a
no-op, so CPU results stay bit-identical whatever the options say; that is
what keeps the tests' seeded numbers meaningful.

- ``precision``: ``auto`` (bf16 autocast on CUDA GPUs that support it, else
  fp32), ``bf16``, ``fp16`` (autocast with loss scaling) or ``fp32``.
  Second-order gradients (the WGAN-GP penalty) are always computed in fp32:
  double backward in 16-bit floats is not shown to be safe.
- ``channels_last``: convolution weights and activations in NHWC order, which
  tensor-core kernels prefer.
- ``compile``: ``torch.compile`` the networks a training step calls (not
  under a gradient penalty, whose double backward the compiler does not support).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .device import check_device_name

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Acceleration:
    """Where networks train and, on a GPU, how fast; see the module docstring.

    Args:
        device: ``auto`` (a CUDA GPU, then Apple MPS, then the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: CUDA only: ``auto`` (bf16 where supported), ``fp32``, ``bf16`` or ``fp16``;
            the WGAN-GP penalty always runs in fp32.
        channels_last: CUDA only: NHWC memory format for the convolutions.
        compile: CUDA only: ``torch.compile`` the networks being trained (not a critic
            under a gradient penalty).
    """

    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        check_precision(self.precision)
        check_device_name(self.device)


#: where the fields of :class:`Acceleration` lived before they were one nested config
#: (a stored config or YAML file of an older version still reads)
MOVED_TO_ACCELERATION = {name: f"acceleration.{name}" for name in ("device", "precision", "channels_last", "compile")}


def check_precision(name: str) -> None:
    if name not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32."""
    check_precision(precision)
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("precision 'bf16' asked for, but this GPU does not support bfloat16: use fp16 or fp32")
    if precision == "auto" and not torch.cuda.is_bf16_supported():
        return None
    return torch.bfloat16


class MixedPrecision:
    """Autocast and, for fp16, loss scaling: ``with mp.autocast(): loss = ...``, then
    ``mp.backward_step(loss, optimizer)`` in place of ``loss.backward(); optimizer.step()``.

    Without autocast (CPU, fp32) both are exactly the plain calls.
    """

    def __init__(self, precision: str, device: torch.device) -> None:
        self.dtype = autocast_dtype(precision, torch.device(device))
        self.device_type = torch.device(device).type
        self._scalers: dict[int, torch.amp.GradScaler] = {}

    @property
    def scaled(self) -> bool:
        """Whether losses are scaled (fp16, whose small gradients would underflow)."""
        return self.dtype == torch.float16

    def autocast(self):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward_step(
        self, loss: Tensor, optimizers: torch.optim.Optimizer | Sequence[torch.optim.Optimizer], key: str = "default"
    ) -> None:
        """Backpropagate ``loss`` and step each optimizer (scaled under fp16, one scaler per ``key``)."""
        optimizers = [optimizers] if isinstance(optimizers, torch.optim.Optimizer) else list(optimizers)
        if not self.scaled:
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            return
        scaler = self._scalers.setdefault(key, torch.amp.GradScaler(self.device_type))
        scaler.scale(loss).backward()
        for optimizer in optimizers:
            scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """Loss-scaler states (empty when nothing is scaled)."""
        return {key: scaler.state_dict() for key, scaler in self._scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, scaler_state in state.items():
            if self.scaled:
                scaler = self._scalers.setdefault(key, torch.amp.GradScaler(self.device_type))
                scaler.load_state_dict(scaler_state)


def to_channels_last(module: nn.Module, acceleration: Acceleration, device: torch.device) -> nn.Module:
    """``module`` with NHWC weights on CUDA when asked (in place; call before wrapping in DDP)."""
    if acceleration.channels_last and torch.device(device).type == "cuda":
        module.to(memory_format=torch.channels_last)
    return module


def compiled(module: nn.Module, acceleration: Acceleration, device: torch.device) -> nn.Module:
    """``torch.compile(module)`` on CUDA when asked (call after wrapping in DDP); else ``module``."""
    if acceleration.compile and torch.device(device).type == "cuda":
        return torch.compile(module)
    return module

