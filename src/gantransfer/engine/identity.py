"""When two configs describe the same run, and what names a shared stage.

One policy wherever a stored config meets a new one: resuming a run folder,
re-running a finished ``transfer``, a benchmark's finished cells, and the
names of shared stages.

- Both configs are first written out in full (:func:`~gantransfer.config.with_defaults`):
  an option one of them leaves out takes its default.
- A setting left to inference from the data (``image_size`` or ``channels``
  None: :data:`INFERRED`) matches the value a stored config holds: runs store
  the format they resolved, so a run re-asked without ``--image-size``
  finds itself.
- Acceleration counts by its effect on what is learnt: the speed-only options
  (``channels_last``, ``compile``) not at all, ``precision`` only when it is
  not ``auto``, and a named device as ``auto`` when that is where ``auto``
  goes on this machine (``cpu`` and ``auto`` train the same model without a GPU).
"""

from __future__ import annotations

from typing import Any

from ..config import with_defaults
from ..errors import ConfigError
from .device import resolve_device

SPEED_ONLY = ("channels_last", "compile")
#: settings a config may leave to inference (None) and a stored config holds resolved
INFERRED = ("image_size", "channels")


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (plain values) with each nested ``acceleration`` reduced to what
    decides the result and flattened into its parent."""
    result: dict[str, Any] = {}
    for key, value in config.items():
        if key == "acceleration" and isinstance(value, dict):
            result.update(_effective_acceleration(value))
        elif isinstance(value, dict):
            result[key] = comparable(value)
        else:
            result[key] = value
    return result


def _effective_acceleration(acceleration: dict[str, Any]) -> dict[str, Any]:
    effective = {k: v for k, v in acceleration.items() if k not in SPEED_ONLY}
    if effective.get("precision") == "auto":
        del effective["precision"]
    device = effective.get("device")
    if device not in (None, "auto"):
        try:
            if resolve_device(device) == resolve_device("auto"):
                effective["device"] = "auto"
        except ConfigError:
            pass  # a device this machine lacks (a run stored elsewhere): compare its name
    return effective


def config_changes(
    stored: dict[str, Any], current: dict[str, Any], cls: type | None = None, ignore: tuple[str, ...] = ()
) -> list[str]:
    """Dotted paths of the settings in which a stored config and ``current`` differ.

    Args:
        stored: the config a run folder, a finished run or a stage recorded.
        current: the config asked for now (plain values, as :func:`~gantransfer.config.to_dict` gives).
        cls: the config's dataclass, to write both out in full first (a file may leave
            out options that hold their default); None compares the two as they are
            (a key only one of them has is a change).
        ignore: top-level keys left out (e.g. the training length, which may grow on resume).
    """
    if cls is not None:
        stored, current = with_defaults(cls, stored), with_defaults(cls, current)
    old = {k: v for k, v in comparable(stored).items() if k not in ignore}
    new = {k: v for k, v in comparable(current).items() if k not in ignore}
    return _differences(old, new, "")


def _differences(old: Any, new: Any, prefix: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [path for key in sorted(set(old) | set(new))
                if not (key in INFERRED and new.get(key, _MISSING) is None)
                for path in _differences(old.get(key, _MISSING), new.get(key, _MISSING), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


_MISSING = object()
