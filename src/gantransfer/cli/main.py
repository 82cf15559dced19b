"""``gantransfer``: the command line, a thin layer over the Python API."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import GanTransferError, describe_os_error, is_about_the_files
from . import experiment_commands, gan_commands, transfer_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantransfer",
        description="GAN-based transfer learning: pretrain a GAN on a labelled source domain, "
        "transfer it to a target domain with few or no labels.",
    )
    parser.add_argument("--version", action="version", version=f"gantransfer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    gan_commands.register(commands)
    transfer_commands.register(commands)
    experiment_commands.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except GanTransferError as error:
        print(f"gantransfer {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if not is_about_the_files(error):
            raise  # a bug: keep its traceback
        print(f"gantransfer {args.command}: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gantransfer {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        from ..training.distributed import cleanup

        cleanup()  # leave torchrun's process group, if the command joined one


if __name__ == "__main__":
    sys.exit(main())
