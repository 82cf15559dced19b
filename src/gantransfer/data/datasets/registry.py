"""Named datasets: the readers that ``--source mnist`` and the like resolve to."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..images import RawImages
from ..locations import DataLocations

Reader = Callable[[str, DataLocations, bool], RawImages]
"""``reader(split, locations, download) -> RawImages`` for a named dataset (``train`` and ``test``)."""

#: every named dataset's reader, by its lower-case name
READERS: dict[str, Reader] = {}


def register_reader(name: str, reader: Reader) -> None:
    """Make ``name`` a dataset: a plain word (no path separator), case-insensitive."""
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"domain name must be a plain word, got {name!r}")
    READERS[name.lower()] = reader
