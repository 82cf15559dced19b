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


def save_confusion_matrix(
    path: str | os.PathLike, matrix: Tensor, class_names: tuple[str, ...], title: str = ""
) -> None:
    """Save a (K, K) count matrix (rows: true class, columns: predicted) as a PNG heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = matrix.detach().cpu().to(torch.float64)
    rates = matrix / matrix.sum(dim=1, keepdim=True).clamp(min=1)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * k, 1.0 + 0.5 * k), dpi=120)
    ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names)
    ax.set_yticks(range(k), class_names)
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
