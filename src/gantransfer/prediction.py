"""Target prediction (founding document, section 3.4): a saved classifier on new images.

Inputs may be image files of any size and format that Pillow reads, folders
(searched recursively for images and arrays), and ``.npy`` / ``.npz`` arrays
(an ``.npz`` is read from its ``x`` array). Everything is converted exactly
as training data was. A file or folder that cannot be read is reported by
name and skipped; the rest are still predicted.
"""

from __future__ import annotations

import csv
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from .data import DataOptions, SplitOptions, match_classes
from .data.datasets.custom import array_names, array_to_images, is_image_file, load_array_file
from .data.domains import load_split
from .data.geometry import standardize
from .data.images import ImageSet, RawImages
from .data.storage import decode_to_format
from .errors import ConfigError, DataError, first_line
from .evaluation.classification import predict_logits
from .fileio import atomic_write
from .models.saving import SavedClassifier

#: array files ``predict`` reads (``.npy`` holds images only; ``.npz`` needs ``x``)
PREDICTABLE_ARRAYS = (".npy", ".npz")
PREDICTION_SUFFIXES = (".csv", ".json")

# What reading one input may raise: the readers' DataError and, in case a decoder lets one
# through, the errors numpy, zipfile and Pillow raise for a bad file. Either is that input's failure.
INPUT_ERRORS = (DataError, OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, Image.DecompressionBombError)


@dataclass
class Prediction:
    """One input's prediction: ``source`` names the file (``file.npz[3]`` for arrays)."""

    source: str
    label: str
    probabilities: list[float]


@dataclass
class PredictionReport:
    predictions: list[Prediction] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _expand(inputs: list[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    files, failures = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            unread = len(failures)
            found = _search(path, failures)
            if not found and len(failures) == unread:  # a folder that could not be read says so itself
                failures.append(f"{path}: folder holds no images or arrays")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            failures.append(f"{path}: no such file or folder")
    return files, failures


def _search(folder: Path, failures: list[str]) -> list[Path]:
    """The images and arrays under ``folder``, sorted; each folder under it that cannot be
    listed goes to ``failures`` with why (``os.walk``, like ``Path.rglob``, skips it in silence
    otherwise). Linked folders are not followed, as ``rglob`` did not."""
    def unreadable(error: OSError) -> None:
        failures.append(f"{error.filename or folder}: folder cannot be read ({error.strerror or first_line(error)})")

    found = []
    for root, _, names in os.walk(folder, onerror=unreadable):
        paths = (Path(root) / name for name in names)
        found.extend(p for p in paths if is_image_file(p) or p.suffix.lower() in PREDICTABLE_ARRAYS)
    return sorted(found)


def _read(path: Path, saved: SavedClassifier) -> tuple[list[str], torch.Tensor]:
    """Names and uint8 images (N, C, S, S) of one input file, converted exactly as training data were
    (its format's channels, size and fit; every Pillow mode scaled by its own range)."""
    fmt = saved.format
    if path.suffix.lower() in PREDICTABLE_ARRAYS:
        arrays = load_array_file(path, keys=("x",))  # only x: a label array, even one of objects, is not read
        if "x" not in arrays:
            found = ", ".join(array_names(path)) if path.suffix.lower() == ".npz" else ""
            raise DataError(f"{path}: no array 'x' (found {found or 'none'})")
        images = array_to_images(arrays["x"], str(path))
        raw = RawImages(images, torch.zeros(len(images), dtype=torch.int64), saved.class_names, str(path))
        converted = standardize(raw, fmt, str(path)).images
        return [f"{path}[{i}]" for i in range(len(converted))], converted
    return [str(path)], decode_to_format(path, fmt).unsqueeze(0)


def predict_files(saved: SavedClassifier, inputs: list[str | os.PathLike], batch_size: int = 512) -> PredictionReport:
    """Predict every readable input; unreadable ones go to ``failures`` with the reason."""
    files, failures = _expand(inputs)
    names, batches = [], []
    for path in files:
        try:
            file_names, images = _read(path, saved)
        except DataError as error:
            failures.append(first_line(error))
            continue
        except INPUT_ERRORS as error:
            failures.append(f"{path}: unreadable ({first_line(error)})")
            continue
        names.extend(file_names)
        batches.append(images)
    report = PredictionReport(failures=failures)
    if batches:
        probabilities = predict_logits(saved.model, torch.cat(batches), batch_size).softmax(dim=1)
        for name, row in zip(names, probabilities):
            report.predictions.append(
                Prediction(name, saved.class_names[int(row.argmax())], [round(float(p), 6) for p in row])
            )
    return report


def evaluation_set(saved: SavedClassifier, domain: str, split: str = "test", data: DataOptions = DataOptions()
                   ) -> ImageSet:
    """``domain``'s ``split`` as the classifier's training run saw it: in its format, the test split
    drawn with its split options (where its layout has none), and labels matched to the
    classifier's classes by name (with the run's class-map renames)."""
    info = saved.info
    splits = SplitOptions(**info["splits"]) if isinstance(info.get("splits"), dict) else SplitOptions()
    images = load_split(domain, split, saved.format, data, splits)
    match = match_classes(saved.class_names, images.class_names, info.get("classes_renamed") or None,
                          where=f"{domain} ({split})", owner="the classifier",
                          present={images.class_names[label] for label in images.labels.unique().tolist()})
    return match.relabel(images, saved.class_names)


def write_predictions(path: str | os.PathLike, report: PredictionReport, class_names: tuple[str, ...]) -> None:
    """CSV (``.csv``: input, label, one probability column per class) or JSON (``.json``)."""
    path = Path(path)
    if path.suffix.lower() not in PREDICTION_SUFFIXES:
        raise ConfigError(f"{path}: unknown predictions format {path.suffix or '(no suffix)'!r}: use .csv or .json")
    if path.suffix.lower() == ".csv":
        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["input", "label", *[f"p_{name}" for name in class_names]])
                for p in report.predictions:
                    writer.writerow([p.source, p.label, *p.probabilities])
    else:
        def write(tmp: str) -> None:
            data = {
                "class_names": list(class_names),
                "predictions": [p.__dict__ for p in report.predictions],
                "failures": report.failures,
            }
            Path(tmp).write_text(json.dumps(data, indent=2) + "\n")
    atomic_write(path, write)
