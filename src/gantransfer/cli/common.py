"""Pieces every command shares: data options and JSON output."""

from __future__ import annotations

import argparse
import json
import os

from ..data import DataOptions


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, ``--cache-dir`` and ``--download``, shared by every command that reads data."""
    group = parser.add_argument_group("data")
    group.add_argument("--data-dir", help="folder holding MNIST/ and USPS/ (default: $GANTRANSFER_DATA); only read")
    group.add_argument("--cache-dir", help="writable folder for downloads, reference models and shared stages "
                       "(default: $GANTRANSFER_CACHE or ~/.cache/gantransfer)")
    group.add_argument("--download", action="store_true", help="download missing built-in datasets (needs a network)")


def data_options(args: argparse.Namespace) -> DataOptions:
    return DataOptions(args.data_dir, args.cache_dir, args.download)


def print_json(data) -> None:
    """Print ``data`` as JSON, once: under torchrun only rank 0 prints."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(data, indent=2))
