"""A trained classifier as one self-contained safetensors file.

The file holds the weights and, in its metadata, the classifier config, the
class names and the image format, so :func:`load_classifier` rebuilds the
model from that file alone, without unpickling anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..config import from_dict, to_dict
from ..data.images import ImageFormat
from ..errors import CheckpointError, first_line
from ..fileio import atomic_write
from .classifier import Classifier, ClassifierConfig

_META_KEY = "gantransfer"


@dataclass
class SavedClassifier:
    """A classifier with what is needed to use it on new images."""

    model: Classifier
    class_names: tuple[str, ...]
    format: ImageFormat
    info: dict[str, Any] = field(default_factory=dict)


def save_classifier(
    path: str | os.PathLike,
    model: Classifier,
    class_names: tuple[str, ...],
    fmt: ImageFormat,
    info: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` (weights, config, class names, image format, free-form ``info``) atomically."""
    metadata = {
        _META_KEY: json.dumps(
            {
                "version": __version__,
                "config": to_dict(model.config),
                "class_names": list(class_names),
                "format": to_dict(fmt),
                "info": info or {},
            }
        )
    }
    tensors = {name: t.detach().cpu().contiguous() for name, t in getattr(model, "module", model).state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_classifier(path: str | os.PathLike, device="cpu") -> SavedClassifier:
    """Rebuild a classifier saved by :func:`save_classifier`, in eval mode."""
    path = Path(path)
    if path.is_dir():
        path = path / "classifier.safetensors"
    if not path.is_file():
        raise CheckpointError(f"{path}: no such classifier file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({first_line(error)})") from None
    if _META_KEY not in metadata:
        raise CheckpointError(f"{path}: a safetensors file, but not a gantransfer classifier (no metadata)")
    meta = json.loads(metadata[_META_KEY])
    config = from_dict(ClassifierConfig, meta["config"], where=f"{path}: config")
    model = Classifier(config)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the stored config ({first_line(error)})") from None
    return SavedClassifier(
        model=model.to(device).eval(),
        class_names=tuple(meta["class_names"]),
        format=from_dict(ImageFormat, meta["format"]),
        info=meta.get("info", {}),
    )
