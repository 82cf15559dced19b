"""Exceptions that carry a message meant for the user, not a traceback.

The CLI prints ``GanTransferError`` messages on one line and exits with status 2;
everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


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
