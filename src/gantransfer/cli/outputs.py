"""Checks of the paths a command will write, made before it does any work.

A bad ``--out`` or ``--output`` then costs nothing and leaves nothing
behind, and the one-line error names the option, the path and the problem
instead of a traceback from deep inside a run.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError


def output_folder(path: str | os.PathLike, option: str) -> Path:
    """``path`` as a folder the command may create or write into.

    Raises :class:`ConfigError` naming ``option`` when it is a file, lies
    under a file, or cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file, not a folder")
    _require_writable(path, option)
    return path


def output_file(path: str | os.PathLike, option: str, suffixes: tuple[str, ...]) -> Path:
    """``path`` as a file the command may write, ending in one of ``suffixes`` (``.csv``...).

    Raises :class:`ConfigError` naming ``option`` when it is a folder, has
    another suffix, or its folder cannot be made or written.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder, not a file")
    if path.suffix.lower() not in suffixes:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ConfigError(f"{option} {path}: {found}; the formats are {', '.join(suffixes)}")
    _require_writable(path.parent, option)
    return path


def _require_writable(folder: Path, option: str) -> None:
    """The nearest existing folder at or above ``folder`` (where writing or mkdir starts) must be writable."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {folder}: {existing} is not writable")
