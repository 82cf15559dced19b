"""2-D t-SNE maps of a classifier's features on source and target images.

Side by side, the source-only classifier ("before adaptation") and a
method's classifier ("after"): when adaptation works, the target images'
points join the source clusters of their class.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..data import ImageSet, to_model_range
from ..fileio import atomic_write


@dataclass(frozen=True)
class EmbeddingImages:
    """The images every panel embeds: a fixed random subset of each domain.

    Attributes:
        images: (N, C, S, S) in [-1, 1], source images first.
        labels: (N,) true classes.
        is_source: (N,) bool.
        names: the two domains' names, for the legend.
    """

    images: Tensor
    labels: np.ndarray
    is_source: np.ndarray
    names: tuple[str, str]

    @classmethod
    def draw(cls, source: ImageSet, target: ImageSet, names: tuple[str, str], per_domain: int = 300,
             seed: int = 0) -> "EmbeddingImages":
        parts = []
        for offset, domain in enumerate((source, target)):
            generator = torch.Generator().manual_seed(seed + offset)
            picked = torch.randperm(len(domain), generator=generator)[:per_domain]
            parts.append((to_model_range(domain.images[picked]), domain.labels[picked]))
        (source_images, source_labels), (target_images, target_labels) = parts
        is_source = np.arange(len(source_images) + len(target_images)) < len(source_images)
        return cls(torch.cat([source_images, target_images]), torch.cat([source_labels, target_labels]).numpy(),
                   is_source, names)


@torch.no_grad()
def features_of(model: nn.Module, images: Tensor, batch_size: int = 512) -> np.ndarray:
    """``model.features`` of (N, C, S, S) images in [-1, 1] -> (N, D), in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    parts = [model.features(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(parts).numpy()


def tsne_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) with scikit-learn's t-SNE (PCA start, fixed seed: reproducible).

    Runs on one thread: a few seconds for a few hundred points, where
    OpenMP threads competing with other work on a busy machine take minutes.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    with threadpool_limits(1):
        return TSNE(n_components=2, init="pca", perplexity=perplexity, learning_rate="auto",
                    random_state=seed).fit_transform(features)


def embed(model: nn.Module, inputs: EmbeddingImages, seed: int = 0) -> np.ndarray:
    """The (N, 2) t-SNE map of ``model``'s features of ``inputs``."""
    return tsne_2d(features_of(model, inputs.images), seed)


def save_embedding_figure(path: str | os.PathLike, panels: list[tuple[str, np.ndarray]], inputs: EmbeddingImages) -> None:
    """One scatter panel per (title, (N, 2) points): colour the true class,
    marker the domain (circles source, crosses target)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    labels, is_source = inputs.labels, inputs.is_source
    classes = int(labels.max()) + 1
    colours = "tab10" if classes <= 10 else "tab20"
    domains = ((is_source, "o", inputs.names[0]), (~is_source, "x", inputs.names[1]))
    handles = [Line2D([], [], marker=marker, color="grey", linestyle="", label=name) for _, marker, name in domains]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.0), dpi=110, squeeze=False)
    for ax, (title, points) in zip(axes[0], panels):
        for mask, marker, _ in domains:
            ax.scatter(points[mask, 0], points[mask, 1], c=labels[mask], cmap=colours, vmin=-0.5,
                       vmax=classes - 0.5, marker=marker, s=12 if marker == "o" else 16, alpha=0.7, linewidths=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(handles=handles, fontsize=8, loc="best")
    fig.suptitle("t-SNE of classifier features; colour = true class", fontsize=10)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
