"""Fingerprints of a domain's content, so that cached models follow the data and not its name.

Shared stages and reference classifiers are keyed by :func:`domain_key`: the
resolved path (or a built-in's name) plus a digest of what is there, so a
folder whose images changed retrains its stages, and another project's
``data/amazon`` never gets this one's models.

- a folder: every file's relative path, size and modification time (cheap:
  ``stat`` only, so a 50,000-image folder costs a fraction of a second);
- a file (``.npz``): its bytes;
- a built-in or registered domain: the arrays its reader returned.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .images import RawImages

DIGEST_CHARS = 16
_BLOCK = 1 << 20


def folder_fingerprint(root: Path) -> str:
    """Digest of the relative path, size and mtime (ns) of every file under ``root``
    (hidden entries skipped)."""
    digest = hashlib.blake2b(digest_size=16)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            stat = path.stat()
            digest.update(f"{path.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:DIGEST_CHARS]


def file_fingerprint(path: Path) -> str:
    """Digest of the bytes of ``path`` (remembered while its size and mtime stay the same)."""
    stat = path.stat()
    return _file_digest(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()[:DIGEST_CHARS]


def arrays_fingerprint(*parts: RawImages) -> str:
    """Digest of the images, labels and class names of a reader's splits."""
    digest = hashlib.blake2b(digest_size=16)
    for raw in parts:
        images = raw.images.contiguous()
        digest.update(f"{images.dtype}{tuple(images.shape)}{tuple(raw.class_names)}".encode())
        digest.update(_bytes(images))
        digest.update(_bytes(raw.labels.long().contiguous()))
    return digest.hexdigest()[:DIGEST_CHARS]


def _bytes(tensor: torch.Tensor) -> memoryview:
    array = tensor.numpy() if tensor.dtype != torch.bfloat16 else tensor.float().numpy()
    return memoryview(np.ascontiguousarray(array)).cast("B")


def path_fingerprint(path: Path) -> str:
    """:func:`folder_fingerprint` of a folder, :func:`file_fingerprint` of a file."""
    return folder_fingerprint(path) if path.is_dir() else file_fingerprint(path)


def domain_key(identity: str, fingerprint: str) -> str:
    """``identity@fingerprint``: what names a domain in cache keys."""
    return f"{identity}@{fingerprint}"
