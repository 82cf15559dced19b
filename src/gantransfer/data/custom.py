"""A user's own data: image folders (one sub-folder per class) and ``.npz`` arrays.

A custom domain is a path. If it holds ``train`` and ``test`` (sub-folders or
``train.npz`` / ``test.npz``), each split reads its own; otherwise the path is
one set, used whatever split is asked for.

``.npz`` files hold ``x`` (N x H x W, N x C x H x W or N x H x W x C; uint8,
or float in [0, 1] or [-1, 1]) and ``y`` (N integer labels), and optionally
``classes`` (class names; labels index into it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2 import functional as TF

from ..errors import DataError, first_line
from .images import ImageFormat, RawImages, standardize

ARRAY_SUFFIXES = (".npz",)


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMG_EXTENSIONS


def load_image_file(path: Path, fmt: ImageFormat) -> Tensor:
    """One image file of any size and mode that Pillow reads, as float (C, S, S) in [0, 1].

    Raises :class:`DataError` naming the file when Pillow cannot decode it.
    """
    try:
        with Image.open(path) as image:
            image = image.convert("L" if fmt.channels == 1 else "RGB")
            if image.size != (fmt.size, fmt.size):
                image = image.resize((fmt.size, fmt.size), Image.Resampling.BILINEAR)
            pixels = TF.pil_to_tensor(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{path}: not a readable image ({first_line(error)})") from None
    return pixels.float().div_(255.0)


def read_image_folder(root: Path, fmt: ImageFormat) -> RawImages:
    """``root/<class name>/<image>`` as images in [0, 1], classes in sorted folder order."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    class_dirs = sorted(entry for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root}: no class sub-folders (expected {root}/<class name>/<image files>)")
    images, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(path for path in class_dir.iterdir() if is_image_file(path))
        if not files:
            raise DataError(f"{class_dir}: class folder holds no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...)")
        images.extend(load_image_file(path, fmt) for path in files)
        labels.extend([label] * len(files))
    return RawImages(
        images=torch.stack(images),
        labels=torch.tensor(labels, dtype=torch.int64),
        class_names=tuple(d.name for d in class_dirs),
        source=str(root),
    )


def array_to_images(x: np.ndarray, where: str) -> Tensor:
    """An image array (N x H x W, N x C x H x W or N x H x W x C) -> float (N, C, H, W) in [0, 1].

    uint8 (and other integer types in 0..255) are divided by 255; floats must
    already be in [0, 1] or [-1, 1].
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
        return torch.from_numpy(x.astype(np.float32))
    if np.issubdtype(x.dtype, np.integer):
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise DataError(f"{where}: integer pixels must lie in 0..255, got {low}..{high}")
        return torch.from_numpy(x.astype(np.float32) / 255.0)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{where}: pixels must be integers or floats, got dtype {x.dtype}")
    images = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if not torch.isfinite(images).all():
        raise DataError(f"{where}: images contain NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low >= 0.0 and high <= 1.0:
        return images
    if low >= -1.0 and high <= 1.0:
        return (images + 1.0) / 2.0
    raise DataError(f"{where}: float pixels must lie in [0, 1] or [-1, 1], got [{low:g}, {high:g}]")


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
    return standardize(raw, fmt, where).images


def load_array_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` or ``.npy`` file, without unpickling anything."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as error:  # BadZipFile, ValueError, OSError, EOFError...
        raise DataError(f"{path}: unreadable array file ({first_line(error)})") from None
    if isinstance(loaded, np.ndarray):
        return {"x": loaded}
    with loaded:
        return {key: loaded[key] for key in loaded.files}


def read_npz(path: Path) -> RawImages:
    """A labelled ``.npz`` file (keys ``x``, ``y``, optional ``classes``)."""
    arrays = load_array_file(path)
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)} (found {', '.join(arrays) or 'none'})")
    return arrays_to_raw(arrays["x"], arrays["y"], str(path), arrays.get("classes"))


def split_path(root: Path, split: str) -> Path:
    """The file or folder of ``split`` inside a custom domain ``root``."""
    for candidate in (root / split, root / f"{split}.npz"):
        if candidate.exists():
            return candidate
    return root


def read_custom(path: Path, split: str, fmt: ImageFormat) -> RawImages:
    """Read a custom domain's ``split`` (see the module docstring for the layouts)."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    chosen = split_path(path, split) if path.is_dir() else path
    if chosen.is_dir():
        return read_image_folder(chosen, fmt)
    if chosen.suffix.lower() in ARRAY_SUFFIXES:
        return read_npz(chosen)
    raise DataError(f"{chosen}: expected a folder of class sub-folders or a .npz file")
