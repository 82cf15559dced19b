"""Domains built from other data, made once and cached in the cache directory.

A built split is one ``.npz`` file holding ``x`` (uint8 (N, C, H, W)) and
``y`` (int64 (N,)) at ``<cache dir>/built/<domain>-<key>/<split>.npz``, where
``key`` hashes everything the build depends on (recipe version, seed, sizes,
the photos or fonts read), so other inputs build another copy and the same
inputs reuse it. Files are written atomically: a killed build leaves no file,
and the next load builds again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import DataError, first_line, is_about_the_files
from ...fileio import atomic_write
from ..images import RawImages

Build = Callable[[], tuple[np.ndarray, np.ndarray]]
"""``build() -> (x uint8 (N, C, H, W), y int64 (N,))``."""


def recipe_key(recipe: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-compatible description of a build."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def files_digest(root: Path, files: Iterable[Path]) -> str:
    """Hash of the names (relative to ``root``) and bytes of ``files``, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def arrays_digest(arrays: Iterable[np.ndarray]) -> str:
    """Hash of the shapes and bytes of ``arrays``, in the given order."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _save(path: str, x: np.ndarray, y: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a file handle: np.savez would append .npz to a bare name
        np.savez(handle, x=x, y=y)


def load_or_build(path: Path, build: Build) -> tuple[np.ndarray, np.ndarray]:
    """The arrays cached at ``path``, built (and written atomically) first if it is absent.

    Raises :class:`DataError` naming the file if a cached file is unreadable
    (it was damaged after it was written: delete it to build it again).
    """
    if not path.is_file():
        x, y = build()
        if x.dtype != np.uint8 or x.ndim != 4 or y.shape != (x.shape[0],):
            raise ValueError(f"a build must return uint8 (N, C, H, W) and (N,) labels, got {x.dtype} {x.shape}, {y.shape}")
        try:
            atomic_write(path, lambda tmp: _save(tmp, x, y.astype(np.int64)))
        except OSError as error:
            if not is_about_the_files(error):
                raise
            raise DataError(f"{path.parent}: cannot write the built domain there ({error.strerror}); give a "
                            "writable cache folder (--cache-dir or $GANTRANSFER_CACHE)") from None
        return x, y.astype(np.int64)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return arrays["x"], arrays["y"]
    except Exception as error:  # BadZipFile, KeyError, ValueError, OSError...
        raise DataError(f"{path}: unreadable built domain ({first_line(error)}); delete it to build it again") from None


def built_images(x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...], source: str) -> RawImages:
    """Cached uint8 arrays as a reader's :class:`RawImages`, kept uint8 (a float copy of a whole
    domain would take four times its memory; batches are converted one at a time)."""
    return RawImages(
        images=torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8)),
        labels=torch.from_numpy(y.astype(np.int64)),
        class_names=class_names,
        source=source,
    )
