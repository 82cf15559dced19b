"""Matching a target domain's classes to the source's by name.

Folder names, an ``.npz``'s ``classes`` and built-in class names (``"0"`` ..
``"9"`` for the digit domains) are compared as strings, never by position:
every target class must be a source class (after the optional class map
renames it), and target labels are re-numbered to the source's class indices.
Source classes the target lacks are allowed (the classifier still knows them)
and are reported.

Within one domain, labels index ``class_names``; an ``.npz`` without a
``classes`` array has the classes ``0..max(y)``, so a stray label of 57 among
ten digits means 58 classes, 48 of them empty: an error where every class
must be learnt (a source domain), rather than a 58-class model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import load_yaml
from ..errors import ConfigError, DataError
from .images import ImageSet


@dataclass(frozen=True)
class ClassMatch:
    """How target classes map to source classes.

    Attributes:
        source_of: for each target class index, the source class index.
        renamed: target name -> source name, for the names a class map changed.
        missing_in_target: source classes with no target class.
    """

    source_of: tuple[int, ...]
    renamed: dict[str, str]
    missing_in_target: tuple[str, ...]

    def relabel(self, images: ImageSet, source_names: tuple[str, ...]) -> ImageSet:
        """``images`` (labelled by target classes) with source class indices and names."""
        table = torch.tensor(self.source_of, dtype=torch.int64)
        labels = table[images.labels] if len(images.labels) else images.labels
        return ImageSet(images.images, labels, source_names, images.name, images.format)

    def as_dict(self) -> dict:
        return {"renamed": self.renamed, "source_classes_missing_in_target": list(self.missing_in_target)}


def load_class_map(path: str | Path) -> dict[str, str]:
    """A YAML or JSON mapping ``target class name: source class name`` (one-line errors naming the file)."""
    data = load_yaml(path)
    bad = [key for key, value in data.items() if not isinstance(value, (str, int)) or isinstance(value, bool)]
    if bad:
        raise ConfigError(f"{path}: class map values must be class names, got {data[bad[0]]!r} for {bad[0]!r}")
    return {str(key): str(value) for key, value in data.items()}


def match_classes(
    source: tuple[str, ...], target: tuple[str, ...], class_map: dict[str, str] | None = None,
    where: str = "target", map_file: str | None = None, owner: str = "the source",
    present: set[str] | None = None, counts: dict[str, int] | None = None,
) -> ClassMatch:
    """Match ``target`` class names to ``source`` ones.

    Raises :class:`DataError` for a target class the source lacks (naming it,
    with the closest source names) and :class:`ConfigError` for a class map
    entry that names no target class. ``owner`` names what ``source`` lists the classes of
    in messages (``the classifier`` for ``gantransfer evaluate``). ``present``: the target
    classes that have images, when known; the others need no source class (they map to -1).
    ``counts``: images of each target class, when known: gives ``present`` and lets a message
    say how many images carry a label the source lacks.
    """
    if present is None and counts:
        present = {name for name, count in counts.items() if count > 0}
    class_map = class_map or {}
    unknown = [name for name in class_map if name not in target]
    if unknown:
        raise ConfigError(f"{map_file or 'class map'}: renames {unknown[0]!r}, which is not a class of {where} "
                          f"(its classes: {_listing(target)})")
    index = {name: i for i, name in enumerate(source)}
    source_of = []
    for name in target:
        wanted = class_map.get(name, name)
        if wanted not in index and present is not None and name not in present:
            source_of.append(-1)
            continue
        if wanted not in index:
            close = difflib.get_close_matches(wanted, source, n=3)
            hint = f"; closest: {', '.join(close)}" if close else ""
            carried = f" ({counts[name]} image(s) carry it)" if counts and name in counts else ""
            raise DataError(
                f"{where}: class {wanted!r}{carried} is not a class of {owner} (its classes: {_listing(source)}){hint}; "
                "rename it with --class-map FILE (YAML: target name: source name)"
            )
        source_of.append(index[wanted])
    renamed = {name: class_map[name] for name in target if name in class_map and class_map[name] != name}
    covered = set(source_of)
    missing = tuple(name for i, name in enumerate(source) if i not in covered)
    return ClassMatch(tuple(source_of), renamed, missing)


def require_every_class(images: ImageSet) -> None:
    """Raise :class:`DataError` naming the classes of ``images`` that have no image."""
    counts = torch.bincount(images.labels, minlength=images.num_classes).tolist()
    empty = tuple(name for name, count in zip(images.class_names, counts) if count == 0)
    if empty:
        raise DataError(
            f"{images.name}: {len(empty)} of its {images.num_classes} classes have no image ({_listing(empty)}); "
            "a source needs images of every class (without a 'classes' array, an .npz's classes are 0..max(y))"
        )


def _listing(names: tuple[str, ...], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")

