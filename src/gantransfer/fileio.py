"""Small files written atomically, and read with one-line errors.

Atomic writes: a crash leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError

def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    """``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_text(path: str | os.PathLike) -> str:
    """The text in ``path``; :class:`ConfigError` naming the file when it cannot be read or is not text."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a text file (invalid UTF-8 at byte {error.start})") from None
    if "\x00" in text:  # valid UTF-8, but no text (nor JSON) holds a NUL character
        raise ConfigError(f"{path}: not a text file (holds NUL bytes)")
    return text


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in ``path``; :class:`ConfigError` naming the file when it cannot be read or parsed."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON (line {error.lineno})") from None
