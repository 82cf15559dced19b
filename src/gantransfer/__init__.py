"""gantransfer: GAN-based transfer learning from a labelled source domain to a small target domain.

The main API is importable from here; each name is imported on first use
(PEP 562), so ``import gantransfer`` stays cheap and loads neither torch nor
the methods until one of them is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_API = {
    "GanTransfer": "gantransfer.estimator",
    "validation_scorer": "gantransfer.estimator",
    "transfer": "gantransfer.methods",
    "TransferConfig": "gantransfer.methods",
    "register_method": "gantransfer.methods",
    "pretrain": "gantransfer.training.pretrain",
    "PretrainConfig": "gantransfer.training.pretrain",
    "load_classifier": "gantransfer.models.saving",
    "predict_files": "gantransfer.prediction",
    "register_domain": "gantransfer.data",
    "DataOptions": "gantransfer.data",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'gantransfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
