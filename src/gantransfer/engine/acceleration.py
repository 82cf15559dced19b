"""Where and how fast networks train: the device, mixed precision, channels-last memory, ``torch.compile``.

Every config that trains nests one :class:`Acceleration` (``PretrainConfig.acceleration``,
``TransferConfig.acceleration``); on the command line its fields are the top-level
options ``--device``, ``--precision``, ``--channels-last`` and ``--compile``.

Each speed option's ``auto`` is what ``benchmarks/step_speed.py`` measured to pay
(its table is in ``benchmarks/RESULTS.md``):

- ``precision``: ``auto`` is bf16 autocast on CUDA GPUs that support it, fp32
  elsewhere (the CPU included: results then do not depend on whether a CPU has
  bfloat16 units); ``bf16`` also runs on the CPU, where a CPU with native bfloat16
  matrix units (AMX) trains 1.4-1.5x faster; ``fp16`` (autocast with loss scaling)
  is for CUDA GPUs only. Second-order gradients (the WGAN-GP penalty) are always
  computed in fp32: double backward in 16-bit floats is not shown to be safe.
- ``channels_last``: convolution weights and activations in NHWC order. ``auto``:
  on for the CPU (oneDNN's kernels; with the fused optimisers 1.03-1.09x); off on
  CUDA GPUs until ``benchmarks/gpu_check.py`` measures it there (``true`` turns it
  on), and on Apple MPS.
- ``compile``: ``torch.compile`` the networks a training step calls (not a critic
  under a gradient penalty, whose double backward the compiler does not support).
  ``auto`` leaves it off: on the CPU the compiled steps measured no faster
  (0.96-1.07x) after 14-15 s of compiling. Where compiling fails (no C++ compiler,
  an operation the compiler does not take), training goes on eagerly after a
  one-line notice.

A seeded run gives the same numbers twice under any of these options (a compiled
CPU run turns on PyTorch's deterministic algorithms, process-wide, for it); runs
that differ only in ``channels_last`` or ``compile`` start apart in the last bits
of their arithmetic, which training carries further, as a change of processor does.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..notice import notice
from .device import check_device_name

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: values of the on/off speed options (``channels_last``, ``compile``)
SWITCHES = ("auto", True, False)


@dataclass(frozen=True)
class Acceleration:
    """Where networks train and, on a GPU, how fast; see the module docstring.

    Args:
        device: ``auto`` (a CUDA GPU, then Apple MPS, then the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: ``auto`` (bf16 on CUDA GPUs that support it, else fp32), ``fp32``,
            ``bf16`` (CUDA or CPU) or ``fp16`` (CUDA); the WGAN-GP penalty always runs in fp32.
        channels_last: NHWC memory format for the convolutions: true, false or ``auto``
            (on for the CPU).
        compile: ``torch.compile`` the networks being trained (not a critic under a
            gradient penalty): true, false or ``auto`` (off: it measured no faster on the CPU).
    """

    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | str = "auto"
    compile: bool | str = "auto"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        check_device_name(self.device)
        for name in ("channels_last", "compile"):
            if getattr(self, name) not in SWITCHES:
                raise ConfigError(f"{name} must be true, false or auto, got {getattr(self, name)!r}")

    def uses_channels_last(self, device: torch.device | str) -> bool:
        """Whether the convolutions run NHWC on ``device`` (``auto``: on the CPU, where it was measured)."""
        kind = torch.device(device).type
        if self.channels_last == "auto":
            return kind == "cpu"
        return self.channels_last is True and kind in ("cpu", "cuda")

    def uses_compile(self, device: torch.device | str) -> bool:
        """Whether training steps on ``device`` call compiled networks (``auto``: never; see the module)."""
        return self.compile is True and torch.device(device).type in ("cpu", "cuda")


def check_precision(name: str) -> None:
    if name not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32."""
    check_precision(precision)
    if device.type == "cpu" and precision == "bf16":
        return torch.bfloat16
    if device.type == "cpu" and precision == "fp16":
        raise ConfigError("precision 'fp16' is for CUDA GPUs: on the CPU use bf16 or fp32")
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
    """``module`` with NHWC weights where :meth:`Acceleration.uses_channels_last` says
    (in place; call before wrapping in DDP). Inputs need no conversion: a convolution
    with NHWC weights gives NHWC outputs."""
    if acceleration.uses_channels_last(device):
        module.to(memory_format=torch.channels_last)
    return module


def compiled(module: nn.Module, acceleration: Acceleration, device: torch.device) -> nn.Module:
    """``module`` compiled where :meth:`Acceleration.uses_compile` says (call after wrapping
    in DDP), falling back to eager at its first call if compiling fails; else ``module``."""
    if acceleration.uses_compile(device):
        if torch.device(device).type == "cpu":
            # Else two seeded compiled runs on several threads differed in the 8th digit
            # (on one thread, or with these algorithms, they agree).
            torch.use_deterministic_algorithms(True, warn_only=True)
        return CompiledOrEager(module)
    return module


class CompiledOrEager(nn.Module):
    """``torch.compile(module)``, or ``module`` itself once compiling has failed.

    ``torch.compile`` compiles at the first call, so that is where a missing C++
    compiler or an operation the compiler cannot take shows; the call is then made
    eagerly, after one notice, and so is every later one. Parameters are
    ``module``'s own (``eager``): the compiled wrapper is kept outside the module
    tree, so state dicts and optimisers see each parameter once.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.eager = module
        object.__setattr__(self, "_compiled", torch.compile(module, dynamic=False))
        self.failed = False

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            try:
                return self._compiled(*args, **kwargs)
            except Exception as error:  # whatever the compiler raises: training must go on
                self.failed = True
                notice(f"torch.compile failed ({compile_failure(error)}): training eagerly")
        return self.eager(*args, **kwargs)


def compile_failure(error: BaseException) -> str:
    """One line naming why compiling failed: the compiler's own error, not the wrapper dynamo adds."""
    cause = getattr(error, "inner_exception", None) or error.__cause__ or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[0][:160]}" if lines else type(cause).__name__
