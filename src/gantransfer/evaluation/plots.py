"""Pictures: image grids and confusion matrices, written as PNG files."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image

from ..data.images import to_unit_range
from ..fileio import atomic_write


def save_image_grid(path: str | os.PathLike, images: Tensor, columns: int = 8) -> Tensor:
    """Save (N, C, H, W) images in [-1, 1] as one PNG grid; return the grid (C, H', W') in [0, 1]."""
    grid = make_grid(to_unit_range(images.detach().cpu()), nrow=columns, padding=2, pad_value=1.0)
    atomic_write(Path(path), lambda tmp: save_image(grid, tmp, format="png"))
    return grid


LABEL_CHARACTERS = 16


def short_label(name: str, limit: int = LABEL_CHARACTERS) -> str:
    """``name`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def save_confusion_matrix(
    path: str | os.PathLike, matrix: Tensor, class_names: tuple[str, ...], title: str = ""
) -> None:
    """Save a (K, K) count matrix (rows: true class, columns: predicted) as a PNG heat map.

    Long class names are shortened to :data:`LABEL_CHARACTERS` characters (with an
    ellipsis) and the column labels turned, so that they stay readable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = matrix.detach().cpu().to(torch.float64)
    rates = matrix / matrix.sum(dim=1, keepdim=True).clamp(min=1)
    k = len(class_names)
    labels = [short_label(name) for name in class_names]
    margin = 0.08 * max((len(label) for label in labels), default=1)  # inches for the longest label
    fig, ax = plt.subplots(figsize=(1.0 + margin + 0.5 * k, 1.0 + margin + 0.5 * k), dpi=120)
    ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    turned = max((len(label) for label in labels), default=0) > 2
    ax.set_xticks(range(k), labels, rotation=60 if turned else 0, ha="right" if turned else "center",
                  rotation_mode="anchor")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    for i in range(k):
        for j in range(k):
            count = int(matrix[i, j])
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
