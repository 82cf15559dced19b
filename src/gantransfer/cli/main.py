"""``gantransfer``: the command line, a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import sys

from .. import __version__
from ..errors import GanTransferError
from . import gan_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantransfer",
        description="GAN-based transfer learning: pretrain a GAN on a labelled source domain, "
        "transfer it to a target domain with few or no labels.",
    )
    parser.add_argument("--version", action="version", version=f"gantransfer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    gan_commands.register(commands)
    return parser


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, ``--cache-dir`` and ``--download``, shared by every command that reads data."""
    group = parser.add_argument_group("data")
    group.add_argument("--data-dir", help="folder holding MNIST/ and USPS/ (default: $GANTRANSFER_DATA); only read")
    group.add_argument("--cache-dir", help="writable folder for downloads and reference models "
                       "(default: $GANTRANSFER_CACHE or ~/.cache/gantransfer)")
    group.add_argument("--download", action="store_true", help="download missing built-in datasets (needs a network)")


def print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except GanTransferError as error:
        print(f"gantransfer {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gantransfer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
