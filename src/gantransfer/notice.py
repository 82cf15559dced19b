"""One-line notices to the user: what a run decided for them (a format, streaming) and why."""

from __future__ import annotations

import os
import sys


def notice(message: str) -> None:
    """Print ``gantransfer: message`` to stderr (rank 0 only under torchrun), so stdout stays
    for results (the JSON a command prints)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"gantransfer: {message}", file=sys.stderr, flush=True)
