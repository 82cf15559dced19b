"""Typed configuration: frozen dataclasses to and from plain dicts and YAML.

Defaults live in the dataclasses; a YAML file or a checkpoint's stored
config is a diff applied to them, and an unknown key is an error that names
the key rather than something silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")


#: field metadata: the nested config's keys sit in its parent's mapping (its own name is no key)
INLINE = "inline"
#: field metadata: a function giving the field's config type, for a type made from what is
#: registered at run time (the methods' option groups)
CONFIG_TYPE = "config_type"


def field_types(cls: type) -> dict[str, Any]:
    """The type of each field of dataclass ``cls`` by name: its annotation, or what its
    ``CONFIG_TYPE`` metadata gives now."""
    hints = typing.get_type_hints(cls)
    return {field.name: field.metadata[CONFIG_TYPE]() if CONFIG_TYPE in field.metadata else hints[field.name]
            for field in dataclasses.fields(cls)}


def _inline_fields(cls: type) -> dict[str, type]:
    """The ``INLINE`` fields of dataclass ``cls``, with their (dataclass) types."""
    types_by_name = field_types(cls)
    return {field.name: types_by_name[field.name] for field in dataclasses.fields(cls) if field.metadata.get(INLINE)}


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass (nested ones included) as plain JSON-compatible values, every field written out."""
    return _plain(_fields_of(config))


def _fields_of(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.metadata.get(INLINE):
                fields.update(_fields_of(item))
            else:
                fields[field.name] = _fields_of(item)
        return fields
    if isinstance(value, (list, tuple)):
        return [_fields_of(item) for item in value]
    if isinstance(value, dict):
        return {key: _fields_of(item) for key, item in value.items()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "config", base: T | None = None) -> T:
    """Build dataclass ``cls`` from ``data``, starting from its defaults (or from ``base``).

    Nested dataclass fields take nested dicts, applied on top of that
    field's own default: ``{"gan": {"steps": 300}}`` changes one value of
    the default ``gan`` config rather than starting it from scratch.
    Raises :class:`ConfigError` naming the key (``where.key``) for unknown
    keys and mistyped values.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    data = _gathered(cls, data)
    hints = field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = set(fields) - set(_inline_fields(cls))
        for inline in _inline_fields(cls).values():
            known |= {f.name for f in dataclasses.fields(inline)}
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    values = {}
    for name, value in data.items():
        default = None
        if isinstance(value, dict):
            default = getattr(base, name) if base is not None else _default(fields[name])
        values[name] = _convert(hints[name], value, f"{where}.{name}", default)
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _gathered(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the keys of each ``INLINE`` field of ``cls`` gathered under that field's name."""
    inline = _inline_fields(cls)
    if not inline:
        return data
    data = dict(data)
    for name, inline_type in inline.items():
        gathered = {f.name: data.pop(f.name) for f in dataclasses.fields(inline_type) if f.name in data}
        if gathered:
            data[name] = {**gathered, **data.get(name, {})} if isinstance(data.get(name), dict) else gathered
    return data


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


def _convert(hint: Any, value: Any, where: str, default: Any = None) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where, default)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return from_dict(hint, value, where, base=default if isinstance(default, hint) else None)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, where) for item in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(arg, item, where) for arg, item in zip(args, value))
    if origin is dict or origin is list:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if hint is typing.Any:
        return value
    return value


def leaf_values(config: Any) -> dict[str, Any]:
    """Every field of a dataclass instance that is not itself a dataclass, nested ones
    included, by dotted name: ``{"k": 10, "training.steps": 1500, ...}``."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.metadata.get(INLINE):
            values.update(leaf_values(value))
        elif dataclasses.is_dataclass(value):
            values.update({f"{field.name}.{key}": item for key, item in leaf_values(value).items()})
        else:
            values[field.name] = value
    return values


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys to nested mappings: ``{"training.steps": 5}`` -> ``{"training": {"steps": 5}}``."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        target = nested
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return nested


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` applied: nested mappings merge key by key, other values are replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from ``path``, with a one-line error for unreadable files."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{at}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def with_defaults(cls: type, data: dict[str, Any], default: Any = None) -> dict[str, Any]:
    """A config of ``cls`` (plain values, e.g. a YAML file or a stored run's) with every
    option it leaves out written out at its default. Keys ``cls`` does not know are kept
    as they are (a run folder may store more than the config).

    Args:
        default: the instance whose values fill missing keys (default ``cls()``);
            nested configs take their parent's default for them.
    """
    default = cls() if default is None else default
    result = dict(data)
    for field in dataclasses.fields(cls):
        nested = getattr(default, field.name)
        if field.metadata.get(INLINE):
            result.update(with_defaults(type(nested), result, nested))
            continue
        if field.name not in result:
            result[field.name] = to_dict(nested) if dataclasses.is_dataclass(nested) else _plain(nested)
        elif dataclasses.is_dataclass(nested) and isinstance(result[field.name], dict):
            result[field.name] = with_defaults(type(nested), result[field.name], nested)
    return result
