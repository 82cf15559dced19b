"""Dataset readers and builders: one module per named dataset (``mnist``, ``usps``, ``mnist-m``,
``synth-digits``), each registering its reader when imported (:func:`.registry.register_reader`),
beside the readers of any folder or ``.npz`` (:mod:`.custom`) and the builders' parts (photos,
fonts, the cache of built arrays).

Every module here is imported with the package: a new dataset is one new file that ends with
``register_reader("name", read)``, found without a list.
"""

import importlib
import pkgutil

from .registry import READERS, Reader, register_reader


def discover() -> None:
    """Import every module of this package (a module already imported is not run again)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


discover()

__all__ = ["READERS", "Reader", "discover", "register_reader"]
