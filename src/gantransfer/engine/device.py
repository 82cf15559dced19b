"""Choosing the device a run trains on."""

from __future__ import annotations

import torch

from ..errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


def check_device_name(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is a device name this library knows."""
    if name not in DEVICES and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ConfigError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; a named device must exist."""
    check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' asked for, but Apple MPS is not available")
    return torch.device(name)
