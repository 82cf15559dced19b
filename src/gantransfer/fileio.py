"""Small files written atomically, and read with one-line errors.

Atomic writes: a crash leaves either the old file or the new one, never half.

A write killed half-way (``kill -9``, a power cut) can only leave its
temporary file behind: ``.<name>.<8 random characters>.tmp`` beside the
target. :func:`remove_stale_temporaries` recognises exactly that pattern,
so a run that starts again can clear them without touching anything else.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ConfigError, is_about_the_files

_TEMP_SUFFIX = ".tmp"
# mkstemp's names: prefix + 8 characters of tempfile's alphabet ([a-z0-9_]) + suffix.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(_TEMP_SUFFIX))


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` and a newline to ``path`` (created) in one write.

    A write cut short (a full disk, ``kill -9``) can only leave a torn last line,
    which the readers of such logs skip.
    """
    with open(path, "a") as handle:
        handle.write(line + "\n")


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_write`."""
    return _TEMPORARY.fullmatch(path.name) is not None


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries that killed writes left in ``folder`` (not below it); return them.

    Only call this where no other process is writing: a live write's
    temporary looks the same. Links and folders are never removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [path for path in sorted(folder.iterdir())
             if is_temporary(path) and path.is_file() and not path.is_symlink()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_json(path: str | os.PathLike, data: Any) -> None:
    """``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2) + "\n"
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


def write_refusal(path: str | os.PathLike) -> OSError | None:
    """Why ``path`` cannot be created or written (a read-only or full disk, a permission refused),
    or None when it can; ``path`` (and its folder) exist afterwards in that case."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as error:
        if not is_about_the_files(error):
            raise
        return error
    return None


@contextmanager
def file_lock(path: str | os.PathLike, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created) for the ``with`` block; yield whether it is held.

    ``wait=False`` does not wait for another holder: it yields False at once. The
    operating system drops a lock when its process dies, so a killed run never
    leaves one behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
