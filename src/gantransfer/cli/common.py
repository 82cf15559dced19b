"""Pieces every command shares: data options and JSON output."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from ..config import from_dict
from ..data import BuildOptions, DataOptions
from .options import add_config_arguments, detail_section


def add_data_arguments(parser: argparse.ArgumentParser, build: bool = True) -> None:
    """``--data-dir``, ``--cache-dir`` and ``--download``, shared by every command that reads data,
    and with ``build`` the :class:`BuildOptions` of built domains (``--backgrounds``, ``--fonts``...)."""
    group = parser.add_argument_group("data")
    group.add_argument("--data-dir", help="folder holding MNIST/, USPS/ and optionally mnist_m/ "
                       "(default: $GANTRANSFER_DATA); only read")
    group.add_argument("--cache-dir", help="writable folder for downloads, reference models and shared stages "
                       "(default: $GANTRANSFER_CACHE or ~/.cache/gantransfer)")
    group.add_argument("--download", action="store_true", help="download missing built-in datasets (needs a network)")
    group.add_argument("--memory-budget", type=float, metavar="GIB",
                       help="GiB of uint8 pixels one split of a domain may hold in memory; an image folder over it is "
                       "streamed from disk (default: a quarter of the available memory)")
    group.add_argument("--workers", type=int, help="processes decoding image files (default: one per core, at most 4)")
    if build:
        add_config_arguments(parser, BuildOptions, group=detail_section(
            parser, "built domains (mnist-m without its published files, synth-digits)"))


def data_options(args: argparse.Namespace) -> DataOptions:
    """The data options given on the command line (build options only where the command has them)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(BuildOptions) if hasattr(args, f.name)}
    return DataOptions(args.data_dir, args.cache_dir, args.download, getattr(args, "memory_budget", None),
                       getattr(args, "workers", None), from_dict(BuildOptions, given, where="options"))


def print_json(data) -> None:
    """Print ``data`` as JSON, once: under torchrun only rank 0 prints."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(data, indent=2))
