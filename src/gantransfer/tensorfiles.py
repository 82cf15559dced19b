"""Reading files that ``torch.save`` wrote, without ever running pickled code."""

from __future__ import annotations

import os
import pickle
import warnings
from typing import Any

import torch

from .errors import CheckpointError, first_line


def read_torch_file(path: str | os.PathLike) -> Any:
    """What ``torch.save`` wrote to ``path``, read without unpickling code (``weights_only=True``).

    Raises :class:`CheckpointError` in one line naming the file: a pickle that would have to run
    code to load is "not a file this library wrote"; a truncated or otherwise unreadable one is
    damaged. Never torch's own advice, which is to load untrusted files with pickling switched on.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: not a file this library wrote (it holds pickled objects other than "
                              "tensors, which are never loaded), or a damaged one") from None
    except Exception as error:  # a truncated zip, an OS error, ...
        reason = "truncated or damaged" if isinstance(error, RuntimeError) else first_line(error)
        raise CheckpointError(f"{path}: not a readable gantransfer checkpoint ({reason})") from None


__all__ = ["read_torch_file"]
