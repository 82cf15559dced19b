"""Where data is read from and where caches are written.

The data directory is only ever read (in CI it is read-only); downloads and
cached artefacts (reference classifiers, downloaded datasets) go to the cache
directory instead.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "GANTRANSFER_DATA"
CACHE_DIR_ENV = "GANTRANSFER_CACHE"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The directory holding datasets: the argument, else ``$GANTRANSFER_DATA``, else None."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else None


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The writable cache directory: the argument, else ``$GANTRANSFER_CACHE``,
    else ``$XDG_CACHE_HOME/gantransfer`` (``~/.cache/gantransfer``)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gantransfer"
