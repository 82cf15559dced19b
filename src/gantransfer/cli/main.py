"""``gantransfer``: the command line, a thin layer over the Python API."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import GanTransferError, describe_os_error, is_about_the_files
from .commands import COMMANDS


def _parser(register) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantransfer",
        description="GAN-based transfer learning: pretrain a GAN on a labelled source domain, "
        "transfer it to a target domain with few or no labels.",
    )
    parser.add_argument("--version", action="version", version=f"gantransfer {__version__}")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command with every option (imports torch and the library)."""
    def register(commands) -> None:
        for module in dict.fromkeys(module for module, _ in COMMANDS.values()):
            importlib.import_module(f"{__package__}.{module}").register(commands)

    return _parser(register)


def overview_parser() -> argparse.ArgumentParser:
    """The commands and their one-line help only: what ``gantransfer --help`` prints, without
    importing torch (building a command's options reads the config dataclasses, which do)."""
    def register(commands) -> None:
        for name, (_, text) in COMMANDS.items():
            commands.add_parser(name, help=text)

    return _parser(register)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not any(word in COMMANDS for word in argv):  # --help, --version or a mistake: no command's options needed
        overview_parser().parse_args(argv)
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
        if "torch.distributed" in sys.modules:  # leave torchrun's process group, if the command joined one
            from ..engine.distributed import cleanup

            cleanup()


if __name__ == "__main__":
    sys.exit(main())
