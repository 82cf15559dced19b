"""Command-line options generated from config dataclasses, so the CLI cannot drift from the API.

Every field of a config dataclass becomes ``--field-name``; booleans get
``--flag / --no-flag``. Only options the user actually gives override the
YAML file (``--config``) and the dataclass defaults, in that order.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from ..config import from_dict, load_yaml


def _scalar_type(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is not None and type(None) in typing.get_args(hint):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _field_help(cls: type, name: str) -> str:
    """The ``name: text`` line of the dataclass's Args docstring (also ``a, name: text``)."""
    for line in (cls.__doc__ or "").splitlines():
        head, sep, text = line.strip().partition(":")
        if sep and name in [part.strip() for part in head.split(",")]:
            return text.strip().replace("``", "")
    return ""


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add ``--<field>`` for each scalar field of dataclass ``cls`` (nested dataclasses are YAML-only)."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} options (also settable in --config YAML)")
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        hint = _scalar_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = _field_help(cls, field.name)
        if default is not None:
            help_text = f"{help_text} (default: {default})"
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        elif hint in (int, float, str):
            group.add_argument(flag, type=hint, default=argparse.SUPPRESS, help=help_text, dest=field.name,
                               metavar=field.name.upper())


def config_from_args(cls: type, args: argparse.Namespace, yaml_key: str | None = None):
    """``cls`` built from defaults, then the ``--config`` YAML file, then explicit options."""
    values: dict[str, Any] = {}
    config_file = getattr(args, "config", None)
    if config_file:
        loaded = load_yaml(config_file)
        values.update(loaded.get(yaml_key, {}) if yaml_key else loaded)
        where = f"{config_file}" + (f": {yaml_key}" if yaml_key else "")
    else:
        where = "options"
    names = {f.name for f in dataclasses.fields(cls)}
    values.update({name: value for name, value in vars(args).items() if name in names})
    return from_dict(cls, values, where=where)
