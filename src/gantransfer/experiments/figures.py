"""The report's pictures: accuracy-versus-k curves, summed confusion matrices, sample grids."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from ..evaluation.plots import save_confusion_matrix
from ..fileio import atomic_write
from .results import LABELLED_ONLY, Result, Summary

ALL_LABEL_METHODS = frozenset({"oracle"})
"""Methods trained on every target label, whatever k says: shown as "all labels", not at their k."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_accuracy_vs_k(path: str | os.PathLike, summaries: list[Summary], title: str) -> None:
    """Mean accuracy (%) against k with ±1 std error bars, one panel per setting.

    A variant run at a single k (source-only, oracle) is a horizontal line
    with a ±1 std band, since it does not depend on the k of the others.
    """
    plt = _pyplot()
    settings = sorted({s.setting for s in summaries}, key=lambda s: s != LABELLED_ONLY)
    variants = list(dict.fromkeys(s.variant for s in summaries))
    colours = {variant: plt.get_cmap("tab10")(index % 10) for index, variant in enumerate(variants)}
    ks = sorted({s.k for s in summaries})
    fig, axes = plt.subplots(1, len(settings), figsize=(6.2 * len(settings), 4.4), dpi=110, squeeze=False,
                             sharey=True)
    for ax, setting in zip(axes[0], settings):
        for variant in variants:
            points = sorted((s for s in summaries if s.setting == setting and s.variant == variant), key=lambda s: s.k)
            if points:
                _plot_variant(ax, points, colours[variant], ks)
        ax.set_title(setting)
        ax.set_xlabel("k (labelled target images per class)")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_ylabel("target test accuracy (%)")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def save_accuracy_bars(path: str | os.PathLike, summaries: list[Summary], title: str) -> None:
    """One bar per row, best on top: mean accuracy (%) with ±1 std whiskers, its value
    written at the bar's end; the colour says the setting. For grids at a single k,
    where a plot against k would be a set of flat lines."""
    plt = _pyplot()
    rows = sorted(summaries, key=lambda s: s.mean)
    settings = sorted({s.setting for s in rows}, key=lambda s: s != LABELLED_ONLY)
    colours = {setting: plt.get_cmap("tab10")(index) for index, setting in enumerate(settings)}
    means = [100 * s.mean for s in rows]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.4), dpi=110)
    ax.barh(range(len(rows)), means, xerr=[100 * (s.std or 0.0) for s in rows], capsize=3,
            color=[colours[s.setting] for s in rows])
    ax.set_yticks(range(len(rows)), [s.variant for s in rows])
    low = max(0.0, min(means) - 10)
    ax.set_xlim(low, 100)
    for index, mean in enumerate(means):
        ax.text(mean + 0.3, index, f"{mean:.1f}", va="center", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[setting]) for setting in settings]
    ax.legend(handles, settings, fontsize=8, loc="lower right")
    ax.set_xlabel("target test accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def _plot_variant(ax, points: list[Summary], colour, ks: list[int]) -> None:
    means = [100 * p.mean for p in points]
    stds = [100 * (p.std or 0.0) for p in points]
    point = points[0]
    if len(points) == 1 and (point.k == 0 or point.method in ALL_LABEL_METHODS):  # k does not apply to it
        where = "all labels" if point.method in ALL_LABEL_METHODS else f"k={point.k}"
        ax.axhline(means[0], color=colour, linestyle="--", label=f"{point.variant} ({where})")
        low, high = (min(ks), max(ks)) if len(ks) > 1 else (ks[0] - 0.5, ks[0] + 0.5)
        ax.fill_between([low, high], means[0] - stds[0], means[0] + stds[0], color=colour, alpha=0.12)
    else:
        ax.errorbar([p.k for p in points], means, yerr=stds, color=colour, marker="o", capsize=3,
                    label=point.variant)


def save_summed_confusion(path: str | os.PathLike, results: list[Result], title: str) -> bool:
    """The confusion matrix summed over ``results`` (e.g. the seeds of one cell); False if none has one."""
    matrices = [torch.tensor(r.confusion) for r in results if r.confusion is not None]
    if not matrices or any(m.shape != matrices[0].shape for m in matrices):
        return False
    names = next((r.class_names for r in results if r.class_names and len(r.class_names) == len(matrices[0])), None)
    save_confusion_matrix(path, sum(matrices), names or tuple(str(i) for i in range(len(matrices[0]))), title)
    return True


@dataclass(frozen=True)
class Picture:
    """A PNG written by a run or a stage, and what it shows."""

    path: Path
    caption: str


CELL_PICTURES = {
    "generated_samples.png": "images generated by the target-adapted GAN, a row per class",
    "translations.png": "source images translated to the target domain",
}
_NOT_SAMPLES = {"confusion_matrix.png", "embedding_tsne.png"}


def latest_sample_grid(folder: Path) -> Path | None:
    """The last ``samples/step_*.png`` a training run wrote (names sort by step)."""
    grids = sorted((folder / "samples").glob("step_*.png"))
    return grids[-1] if grids else None


def _step(grid: Path) -> str:
    """``step_0000300.png`` -> ``step 300``."""
    number = grid.stem.rpartition("_")[2]
    return f"step {int(number)}" if number.isdigit() else grid.stem


def cell_pictures(folder: Path, cell_id: str) -> list[Picture]:
    """Sample grids a cell's method wrote (its GAN's samples, translations, generated images)."""
    pictures = []
    for path in sorted(folder.glob("*.png")):
        if path.name not in _NOT_SAMPLES:
            pictures.append(Picture(path, f"{cell_id}: {CELL_PICTURES.get(path.name, path.stem.replace('_', ' '))}"))
    runs = [folder] + sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for run in runs:  # a GAN trained inside the cell (gan-augment's target_gan/) writes samples/
        grid = latest_sample_grid(run)
        if grid is not None:
            what = "its GAN" if run == folder else f"its {run.name.replace('_', ' ')}"
            pictures.append(Picture(grid, f"{cell_id}: samples of {what} ({_step(grid)})"))
    return pictures


def stage_pictures(stages: Path) -> list[Picture]:
    """The latest sample grid (and any other picture) of every shared stage, e.g. the source GAN."""
    pictures = []
    for folder in sorted(p for p in stages.iterdir() if p.is_dir()) if stages.is_dir() else []:
        kind = folder.name.rsplit("-", 1)[0]
        about = _stage_domains(folder)
        grid = latest_sample_grid(folder)
        if grid is not None:
            pictures.append(Picture(grid, f"{kind}{about}: samples at {_step(grid)}"))
        for path in sorted(folder.glob("*.png")):
            pictures.append(Picture(path, f"{kind}{about}: {CELL_PICTURES.get(path.name, path.stem)}"))
    return pictures


def _stage_domains(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return ""
    source, target = config.get("source"), config.get("target")
    if source and target:
        return f" ({source} -> {target})"
    return f" ({source})" if source else ""


def copy_picture(picture: Path, figures: Path, name: str) -> Path:
    """Copy ``picture`` into the report's figure folder, so the report stands on its own."""
    figures.mkdir(parents=True, exist_ok=True)
    target = figures / name
    shutil.copyfile(picture, target)
    return target
