"""Exceptions that carry a message meant for the user, not a traceback.

The CLI prints ``GanTransferError`` messages on one line and exits with status 2;
so it does for an :class:`OSError` that is about the user's files
(:func:`is_about_the_files`: a permission refused, a full or read-only disk);
everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno


class GanTransferError(Exception):
    """Base class of every error whose message explains itself to a user."""


class DataError(GanTransferError, ValueError):
    """A dataset file or folder is missing, unreadable or malformed."""


class ConfigError(GanTransferError, ValueError):
    """A configuration value or file is invalid."""


class CheckpointError(GanTransferError, ValueError):
    """A checkpoint is missing, corrupt, or from an incompatible run."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type), for one-line reports."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


_FILE_PROBLEMS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR}


def is_about_the_files(error: OSError) -> bool:
    """Whether ``error`` says something about the user's files or disk rather than about the code."""
    return error.errno in _FILE_PROBLEMS


def describe_os_error(error: OSError) -> str:
    """``path: Permission denied``: one line naming the file."""
    where = error.filename if error.filename is not None else ""
    return f"{where}: {error.strerror}" if where else (error.strerror or first_line(error))
