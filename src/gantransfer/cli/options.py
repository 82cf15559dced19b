"""Command-line options generated from config dataclasses, so the CLI cannot drift from the API.

Every scalar field of a config dataclass becomes ``--field-name``; fields of
nested dataclasses become ``--outer-field-name`` (``--training-steps``);
booleans get ``--flag / --no-flag``. Only options the user actually gives
override the YAML file (``--config``) and the dataclass defaults, in that order.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from ..config import INLINE, field_types, from_dict, load_yaml, merge, nest

_SEP = "."


def _unwrap_optional(hint: Any) -> Any:
    if typing.get_origin(hint) is not None and type(None) in typing.get_args(hint):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _field_help(cls: type, name: str) -> str:
    """The text of ``name`` in the dataclass's Args docstring (``name: text`` or
    ``a, name: text``, continued on more deeply indented lines)."""
    lines = (cls.__doc__ or "").splitlines()
    for index, line in enumerate(lines):
        head, sep, text = line.strip().partition(":")
        if not sep or name not in [part.strip() for part in head.split(",")]:
            continue
        indent = len(line) - len(line.lstrip())
        parts = [text.strip()]
        for follow in lines[index + 1 :]:
            if not follow.strip() or len(follow) - len(follow.lstrip()) <= indent:
                break
            parts.append(follow.strip())
        return " ".join(parts).replace("``", "").replace("%", "%%")  # argparse formats help with %
    return ""


class HelpAll(argparse.Action):
    """``--help-all``: the help with every option, the ones ``--help`` leaves out included."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        for action in parser._actions:
            if hasattr(action, "full_help"):
                action.help = action.full_help
        parser.print_help()
        parser.exit()


def add_config_arguments(
    parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), prefix: str = "", group=None,
    defaults: Any = None, flag_prefix: str | None = None, sections: dict[str, Any] | None = None,
    shown: tuple[str, ...] = (), main_group=None,
) -> None:
    """Add an option for each scalar field of dataclass ``cls``, recursing into nested dataclasses.

    ``skip``: dotted field names to leave out (``gan.seed``). ``defaults``: the
    instance whose values the help shows (default: ``cls()``), so that a nested
    config shows its parent's default for it (``--training-batch-size`` of a
    TransferConfig: 64), not its own class's. A nested field whose metadata says
    ``flatten`` gives top-level flags (``acceleration.device`` is ``--device``).
    ``sections``: argument groups by top-level field name; options of a field
    that has one are listed by ``--help-all`` only (``--help`` shows the rest),
    except the dotted names in ``shown``, which stay with the others.
    """
    hints = field_types(cls)
    flag_prefix = prefix if flag_prefix is None else flag_prefix
    if defaults is None:
        try:
            defaults = cls()
        except (TypeError, ValueError):
            defaults = None
    if group is None:
        group = parser.add_argument_group(f"{cls.__name__} options (also settable in a --config YAML file)")
    main_group = main_group or group
    for field in dataclasses.fields(cls):
        dest = prefix + field.name
        if dest in skip:
            continue
        hint = _unwrap_optional(hints[field.name])
        if field.metadata.get(INLINE):  # its fields are options of this level
            add_config_arguments(parser, hint, skip, prefix=prefix, group=group,
                                 defaults=getattr(defaults, field.name, None), flag_prefix=flag_prefix,
                                 sections=sections, shown=shown, main_group=main_group)
            continue
        flag = "--" + (flag_prefix + field.name).replace(_SEP, "-").replace("_", "-")
        if dataclasses.is_dataclass(hint):
            nested_flags = flag_prefix if field.metadata.get("flatten") else flag_prefix + field.name + _SEP
            add_config_arguments(parser, hint, skip, prefix=dest + _SEP,
                                 group=(sections or {}).get(field.name, group),
                                 defaults=getattr(defaults, field.name, None), flag_prefix=nested_flags,
                                 shown=shown, main_group=main_group)
            continue
        target = main_group if dest in shown else group
        if defaults is not None:
            default = getattr(defaults, field.name)
        else:
            default = field.default if field.default is not dataclasses.MISSING else None
        help_text = _field_help(cls, field.name)
        if default is not None:
            help_text = f"{help_text} (default: {default})".strip()
        if hint is bool:
            action = target.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                         help=help_text, dest=dest)
        elif hint == bool | str:  # a switch with an automatic setting: --flag [auto|on|off]
            action = target.add_argument(flag, type=_switch, nargs="?", const=True, default=argparse.SUPPRESS,
                                         help=help_text, dest=dest, metavar="auto|on|off")
        elif hint in (int, float, str):
            action = target.add_argument(flag, type=hint, default=argparse.SUPPRESS, help=help_text, dest=dest,
                                         metavar=field.name.upper())
        else:
            continue
        if getattr(target, "detailed", False):
            action.full_help, action.help = action.help, argparse.SUPPRESS


def _switch(text: str) -> bool | str:
    """``--flag VALUE`` of an on/off option that has an ``auto`` setting."""
    value = {"auto": "auto", "on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}.get(
        text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected auto, on or off, got {text!r}")
    return value


def detail_section(parser: argparse.ArgumentParser, title: str, description: str | None = None):
    """An argument group whose options only ``--help-all`` lists."""
    group = parser.add_argument_group(title, description)
    group.detailed = True
    return group


def _option_names(cls: type, prefix: str = "") -> set[str]:
    names = set()
    hints = field_types(cls)
    for field in dataclasses.fields(cls):
        hint = _unwrap_optional(hints[field.name])
        if field.metadata.get(INLINE):
            names |= _option_names(hint, prefix)
        elif dataclasses.is_dataclass(hint):
            names |= _option_names(hint, prefix + field.name + _SEP)
        else:
            names.add(prefix + field.name)
    return names


def config_values(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The plain values for ``cls``: the ``--config`` YAML file, then explicit options."""
    values: dict[str, Any] = {}
    config_file = getattr(args, "config", None)
    if config_file:
        values = load_yaml(config_file)
    names = _option_names(cls)
    given = {name: value for name, value in vars(args).items() if name in names}
    return merge(values, nest(given))


def given_sections(cls: type, args: argparse.Namespace) -> set[str]:
    """The top-level fields of ``cls`` that options given on the command line set (not the ``--config`` file)."""
    return {name.split(_SEP)[0] for name in vars(args) if name in _option_names(cls)}


def config_from_args(cls: type, args: argparse.Namespace, base: Any = None):
    """``cls`` built from defaults (or from ``base``, e.g. a stored run's config), then
    the ``--config`` YAML file, then explicit options."""
    where = getattr(args, "config", None) or "options"
    return from_dict(cls, config_values(cls, args), where=where, base=base)
