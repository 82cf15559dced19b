"""A user's own data: image folders and ``.npz`` arrays, in the layouts below.

A custom domain is a path, in one of these layouts (:data:`LAYOUTS`):

- ``DIR/<class>/<images>``: one folder of class sub-folders;
- ``DIR/train/<class>/...`` and ``DIR/test/<class>/...`` (and optionally ``DIR/validation/``);
- ``DIR/train.npz`` and ``DIR/test.npz`` (and optionally ``validation.npz``);
- ``DIR/NAME_train.npz`` and ``DIR/NAME_test.npz`` (and optionally ``NAME_validation.npz``);
- ``FILE.npz``: one file.

A layout without a test split (one folder, one file, or only a train split)
gets a seeded, stratified one (:func:`~gantransfer.data.splits.stratified_split`),
so that no test image is ever trained on. Class folders are searched
recursively for images (hidden files and folders skipped), through
torchvision's ``datasets.folder``.

``.npz`` files hold ``x`` (N x H x W, N x C x H x W or N x H x W x C; uint8,
uint16, or float in [0, 1] or [-1, 1]) and ``y`` (N integer labels), and
optionally ``classes`` (class names; labels index into it). Nothing is
unpickled: an object array is refused, naming its key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension, make_dataset

from ...errors import DataError, first_line
from ..decode import float_pixels
from ..geometry import standardize
from ..images import ImageFormat, RawImages, to_model_range, validate_raw
from ..listing import ArraySplit, FileSplit, Split
from ..splits import SplitOptions, stratified_split

ARRAY_SUFFIXES = (".npz",)
SPLIT_NAMES = ("train", "test", "validation")
LAYOUTS = (
    "DIR/<class>/<images>",
    "DIR/train/<class>/... and DIR/test/<class>/...",
    "DIR/train.npz and DIR/test.npz",
    "DIR/NAME_train.npz and DIR/NAME_test.npz",
    "a single FILE.npz",
)


def is_image_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMG_EXTENSIONS


def _visible_image(path: str) -> bool:
    return not Path(path).name.startswith(".") and has_file_allowed_extension(path, IMG_EXTENSIONS)


def class_folders(root: Path) -> list[Path]:
    return sorted(entry for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))


def list_image_folder(root: Path) -> FileSplit:
    """``root/<class name>/.../<image>`` as files and labels, classes in sorted folder order."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    folders = class_folders(root)
    if not folders:
        raise DataError(f"{root}: no class sub-folders (expected {root}/<class name>/<image files>)")
    class_to_idx = {folder.name: i for i, folder in enumerate(folders)}
    samples = make_dataset(str(root), class_to_idx, is_valid_file=_visible_image, allow_empty=True)
    counts = torch.bincount(torch.tensor([label for _, label in samples], dtype=torch.int64), minlength=len(folders))
    for folder, count in zip(folders, counts.tolist()):
        if count == 0:
            _check_readable(folder)
            raise DataError(f"{folder}: class folder holds no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...)")
    return FileSplit(root, tuple(Path(path) for path, _ in samples),
                     torch.tensor([label for _, label in samples], dtype=torch.int64), tuple(class_to_idx))


def _check_readable(folder: Path) -> None:
    """Raise :class:`DataError` saying why ``folder`` cannot be listed (an empty listing may mean that)."""
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as error:
        raise DataError(f"{folder}: class folder cannot be read ({error.strerror or error})") from None


def array_to_images(x: np.ndarray, where: str) -> Tensor:
    """An image array (N x H x W, N x C x H x W or N x H x W x C) -> (N, C, H, W).

    uint8 stays uint8 (0..255), as do other integer types in 0..255 and
    booleans (0 or 255); uint16 is scaled by 65535 and floats must already be
    in [0, 1] or [-1, 1]: those give float32 in [0, 1].
    """
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[1] not in (1, 3, 4) and x.shape[-1] in (1, 3, 4):
            x = np.moveaxis(x, -1, 1)
    else:
        raise DataError(f"{where}: images must be N x H x W or N x C x H x W, got shape {x.shape}")
    if x.shape[0] == 0:
        raise DataError(f"{where}: contains no images")
    if np.issubdtype(x.dtype, np.bool_):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8) * np.uint8(255))
    if x.dtype == np.uint16:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32) / 65535.0)
    if np.issubdtype(x.dtype, np.integer):
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise DataError(f"{where}: integer pixels must lie in 0..255 (or be uint16), got {low}..{high}")
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8))
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{where}: pixels must be integers or floats, got dtype {x.dtype}")
    return torch.from_numpy(np.ascontiguousarray(float_pixels(np.asarray(x, dtype=np.float32), where)))


def arrays_to_raw(x: np.ndarray, y: np.ndarray, where: str, classes: np.ndarray | None = None) -> RawImages:
    """Image and label arrays (``x`` as :func:`array_to_images` takes it, ``y`` N integer
    labels, optional class names ``classes`` that labels index into) -> :class:`RawImages`;
    without ``classes`` the classes are named ``"0"`` to ``str(max(y))``."""
    images = array_to_images(x, where)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where}: labels 'y' must be integers, got dtype {y.dtype}")
    labels = torch.from_numpy(y.astype(np.int64))
    if classes is not None:
        class_names = tuple(str(name) for name in np.asarray(classes).tolist())
    else:
        if labels.numel() and int(labels.min()) < 0:
            raise DataError(f"{where}: labels must be >= 0, found {int(labels.min())}")
        count = int(labels.max()) + 1 if labels.numel() else 0
        class_names = tuple(str(i) for i in range(count))
    return RawImages(images, labels, class_names, where)


def images_in_model_space(x: np.ndarray, fmt: ImageFormat, where: str) -> Tensor:
    """Unlabelled images (as :func:`array_to_images` takes them) converted exactly as training
    data is: float (N, C, S, S) in [-1, 1] of ``fmt``."""
    images = array_to_images(x, where)
    raw = RawImages(images, torch.zeros(len(images), dtype=torch.int64), ("unlabelled",), where)
    return to_model_range(standardize(raw, fmt, where).images)


def load_array_file(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` or ``.npy`` file (only ``keys`` when given), without
    unpickling anything: an object array is a :class:`DataError` naming the file and key."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(_object_array(path, "x")) from None
        raise DataError(f"{path}: unreadable array file ({first_line(error)})") from None
    except Exception as error:  # BadZipFile, OSError, EOFError...
        raise DataError(f"{path}: unreadable array file ({first_line(error)})") from None
    if isinstance(loaded, np.ndarray):
        return {"x": loaded}
    with loaded:
        arrays = {}
        for key in loaded.files:
            if keys is not None and key not in keys:
                continue
            try:
                arrays[key] = loaded[key]
            except ValueError as error:
                if "allow_pickle" in str(error):
                    raise DataError(_object_array(path, key)) from None
                raise DataError(f"{path}: array {key!r} is unreadable ({first_line(error)})") from None
            except Exception as error:  # a damaged member of the zip
                raise DataError(f"{path}: array {key!r} is unreadable ({first_line(error)})") from None
        return arrays


def array_names(path: Path) -> list[str]:
    with np.load(path, allow_pickle=False) as loaded:
        return list(loaded.files)


def _object_array(path: Path, key: str) -> str:
    return (f"{path}: array {key!r} holds Python objects (it needs allow_pickle, which could run code); "
            "save plain numeric or string arrays")


def read_npz(path: Path) -> RawImages:
    """A labelled ``.npz`` file (keys ``x``, ``y``, optional ``classes``)."""
    arrays = load_array_file(path, keys=("x", "y", "classes"))
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        found = array_names(path)
        raise DataError(f"{path}: missing array(s) {', '.join(missing)} (found {', '.join(found) or 'none'})")
    return arrays_to_raw(arrays["x"], arrays["y"], str(path), arrays.get("classes"))


@dataclass(frozen=True)
class CustomDomain:
    """A custom domain's splits.

    Attributes:
        layout: which of :data:`LAYOUTS` it is.
        splits: ``train``, ``test`` and, when the layout has one, ``validation``.
        drawn_test: the test split was drawn here from the train images
            (:class:`SplitOptions`), not given by the layout.
    """

    layout: str
    splits: dict[str, Split]
    drawn_test: bool


def read_split_source(path: Path) -> Split:
    """One split's folder (class sub-folders) or ``.npz``."""
    if path.is_dir():
        return list_image_folder(path)
    raw = read_npz(path)
    validate_raw(raw)
    return ArraySplit(raw)


def split_files(root: Path) -> tuple[str, dict[str, Path]] | None:
    """The layout and split paths of a folder holding explicit splits, or None."""
    if (root / "train").is_dir() or (root / "test").is_dir():
        return LAYOUTS[1], {name: root / name for name in SPLIT_NAMES if (root / name).is_dir()}
    if (root / "train.npz").is_file() or (root / "test.npz").is_file():
        return LAYOUTS[2], {name: root / f"{name}.npz" for name in SPLIT_NAMES if (root / f"{name}.npz").is_file()}
    prefixes = sorted({path.name[: -len(f"_{name}.npz")] for name in SPLIT_NAMES
                       for path in root.glob(f"*_{name}.npz")})
    if len(prefixes) > 1:
        raise DataError(f"{root}: several NAME_train.npz / NAME_test.npz sets ({', '.join(prefixes)}); "
                        "keep one per folder")
    if prefixes:
        prefix = prefixes[0]
        found = {name: root / f"{prefix}_{name}.npz" for name in SPLIT_NAMES if (root / f"{prefix}_{name}.npz").is_file()}
        return LAYOUTS[3], found
    return None


def read_custom(path: Path, options: SplitOptions) -> CustomDomain:
    """Every split of the custom domain at ``path`` (see the module docstring for the layouts)."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() not in ARRAY_SUFFIXES:
            raise DataError(f"{path}: expected a folder or an .npz file (layouts: {'; '.join(LAYOUTS)})")
        return _with_drawn_test(LAYOUTS[4], read_split_source(path), options)
    explicit = split_files(path)
    if explicit is not None:
        layout, paths = explicit
        if "train" not in paths:
            raise DataError(f"{path}: has a test split but no train split ({layout})")
        splits = {name: read_split_source(split_path) for name, split_path in paths.items()}
        if "test" not in splits:
            return _with_drawn_test(layout + " (no test split: drawn from train)", splits["train"], options,
                                    splits.get("validation"))
        return CustomDomain(layout, splits, drawn_test=False)
    if class_folders(path):
        return _with_drawn_test(LAYOUTS[0], list_image_folder(path), options)
    found = ", ".join(sorted(entry.name for entry in path.iterdir() if not entry.name.startswith("."))[:6])
    raise DataError(f"{path}: not a domain folder (it holds {found or 'nothing'}); a domain is one of: "
                    f"{'; '.join(LAYOUTS)}")


def _with_drawn_test(layout: str, whole: Split, options: SplitOptions, validation: Split | None = None) -> CustomDomain:
    train, test = stratified_split(whole.labels, options)
    if len(test) == 0:
        raise DataError(f"{whole.source}: too few images to hold out a test split (every class has one image); "
                        "give it a test split of its own")
    splits = {"train": whole.subset(train), "test": whole.subset(test)}
    if validation is not None:
        splits["validation"] = validation
    return CustomDomain(layout, splits, drawn_test=True)
