"""Colour photos whose patches become mnist-m's backgrounds.

By default the colour photographs that ship inside scikit-image's wheel
(``skimage.data``: no download); otherwise every image file in a folder the
user gives (``--backgrounds DIR``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from torchvision.datasets.folder import IMG_EXTENSIONS

from ...errors import DataError, first_line
from .built import arrays_digest, files_digest

#: the natural colour photographs bundled with scikit-image (its other images are
#: grey, synthetic, microscope or telescope pictures, unlike BSDS500's scenes)
BUNDLED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")


def bundled_photos() -> list[np.ndarray]:
    """scikit-image's bundled colour photographs, uint8 (H, W, 3), in :data:`BUNDLED_PHOTOS` order."""
    import skimage.data

    loaders = {
        "astronaut": skimage.data.astronaut,
        "chelsea": skimage.data.chelsea,
        "coffee": skimage.data.coffee,
        "rocket": skimage.data.rocket,
        "motorcycle": lambda: skimage.data.stereo_motorcycle()[0],  # the left view; the right one nearly repeats it
    }
    try:
        return [np.ascontiguousarray(loaders[name]()[..., :3], dtype=np.uint8) for name in BUNDLED_PHOTOS]
    except Exception as error:  # a stripped or broken scikit-image install
        raise DataError(f"scikit-image's bundled photos cannot be loaded ({first_line(error)}); "
                        "reinstall scikit-image or pass --backgrounds DIR") from None


def photo_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (recursively), sorted; raises :class:`DataError` if none."""
    if not folder.is_dir():
        raise DataError(f"backgrounds: {folder}: not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise DataError(f"backgrounds: {folder}: holds no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...)")
    return files


def load_photo(path: Path, min_side: int) -> np.ndarray:
    """One photo as uint8 (H, W, 3); grey or palette images are converted to RGB.

    Raises :class:`DataError` naming the file if it is unreadable or smaller
    than ``min_side`` on a side (no patch would fit).
    """
    try:
        with Image.open(path) as image:
            photo = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DataError(f"backgrounds: {path}: not a readable image ({first_line(error)})") from None
    if min(photo.shape[:2]) < min_side:
        raise DataError(f"backgrounds: {path}: {photo.shape[1]} x {photo.shape[0]} pixels, "
                        f"smaller than the {min_side} x {min_side} patches cut from it")
    return photo


class PhotoSource:
    """The photos of one build: scikit-image's (``folder=None``) or a folder's.

    ``digest`` identifies them without decoding a folder's files (it hashes
    their bytes), so a cached domain is found cheaply.
    """

    def __init__(self, folder: str | Path | None, min_side: int) -> None:
        self.folder = None if folder is None else Path(folder).expanduser()
        self.min_side = min_side
        self._files = None if self.folder is None else photo_files(self.folder)

    @property
    def digest(self) -> str:
        if self._files is None:
            return "skimage-" + arrays_digest(bundled_photos())
        return files_digest(self.folder, self._files)

    def load(self) -> list[np.ndarray]:
        """Every photo, uint8 (H, W, 3), in a fixed order."""
        if self._files is None:
            return bundled_photos()
        return [load_photo(path, self.min_side) for path in self._files]
