"""``DIR/report.md`` and ``DIR/report.html``, rendered from ``DIR/results.jsonl``.

Per direction: a table of mean ± std over seeds per method and k, the
published reference numbers in a separate table, how well each validation
score computed without target labels ranks and picks the cells (see
:mod:`.selection`; left out, with a sentence, when no cell has scores),
accuracy-versus-k curves,
confusion matrices summed over seeds and t-SNE maps of features before and
after adaptation; then sample grids of the shared stages and the cells, and
every cell's own numbers. Everything but the accuracy table draws on files
in the cell folders when they are there; a picture that cannot be made is
left out with a note saying why, so the report renders from ``results.jsonl``
alone.
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..data import DataOptions
from ..data.domains import load_split
from ..errors import GanTransferError, first_line
from ..fileio import atomic_write, read_json
from ..models.saving import load_classifier
from .document import Block, Code, Figures, Heading, Table, Text, format_duration, to_html, to_markdown
from .embedding import EmbeddingImages, embed, save_embedding_figure
from .figures import (
    ALL_LABEL_METHODS,
    Picture,
    cell_pictures,
    copy_picture,
    save_accuracy_bars,
    save_accuracy_vs_k,
    save_summed_confusion,
    stage_pictures,
)
from .published import references_for
from .grid import domain_label
from .layout import BENCHMARK_FILE, CELLS
from .results import LABELLED_ONLY, RESULTS_FILE, Result, Summary, format_accuracy, read_results, summarize
from .selection import LABELLED_VALIDATION, describe_picks, higher_is_better, score_rankings, source_only_accuracy

REPORT_FILE = "report.md"
FIGURES = "figures"
EMBEDDING_FILE = "embedding_tsne.png"
EMBEDDING_IMAGES = 300
CLASSIFIER_FILE = "classifier.safetensors"


@dataclass
class _Context:
    out: Path
    results: list[Result]
    data: DataOptions
    meta: dict
    notes: list[str] = field(default_factory=list)
    _images: dict = field(default_factory=dict)
    _maps: dict = field(default_factory=dict)

    @property
    def figures(self) -> Path:
        return self.out / FIGURES

    @property
    def stages(self) -> Path:
        return self.out / self.meta.get("stages_dir", "stages")  # relative to out, or absolute

    def cell_folder(self, result: Result) -> Path | None:
        return self.out / CELLS / result.cell if result.cell else None

    def embedding_images(self, source: str, target: str, fmt) -> EmbeddingImages:
        """The same test images of a direction for every t-SNE panel (loaded once)."""
        key = (source, target, fmt)
        if key not in self._images:
            data = self.data
            domains = [load_split(name, "test", fmt, data) for name in (source, target)]
            names = (f"{domain_label(source)} (source)", f"{domain_label(target)} (target)")
            self._images[key] = EmbeddingImages.draw(*domains, names, per_domain=EMBEDDING_IMAGES)
        return self._images[key]

    def embedded(self, classifier: Path, inputs: EmbeddingImages):
        """The t-SNE map of a "before" classifier, computed once for all the panels that show it."""
        key = (classifier, inputs.names)
        if key not in self._maps:
            self._maps[key] = embed(load_classifier(classifier).model, inputs)
        return self._maps[key]


def render_report(
    out: str | Path, data: DataOptions = DataOptions(), log: Callable[[str], None] | None = None
) -> Path:
    """Write ``out/report.md``, ``out/report.html`` and ``out/figures/`` from ``out/results.jsonl``; return the .md path.

    ``data`` locates the datasets for feature embeddings not computed yet
    (without them those are skipped with a note).
    """
    out = Path(out)
    results, notes = read_results(out / RESULTS_FILE)
    meta = read_json(out / BENCHMARK_FILE) if (out / BENCHMARK_FILE).is_file() else {}
    context = _Context(out, results, data, meta, list(notes))
    if context.figures.is_dir():
        shutil.rmtree(context.figures)  # rendered afresh: no picture of a result that is gone
    context.figures.mkdir(parents=True)
    blocks = _overview(context)
    for direction in dict.fromkeys(r.direction for r in results):
        blocks += _direction_section(context, direction, [r for r in results if r.direction == direction], log)
    blocks += _samples_section(context) + _cells_section(context) + _notes_section(context)
    title = f"Benchmark report: {meta['name']}" if meta.get("name") else "Benchmark report"
    markdown, page = to_markdown(title, blocks), to_html(title, blocks)
    atomic_write(out / REPORT_FILE, lambda tmp: Path(tmp).write_text(markdown))
    atomic_write(out / "report.html", lambda tmp: Path(tmp).write_text(page))
    return out / REPORT_FILE


def _overview(context: _Context) -> list[Block]:
    results, meta = context.results, context.meta
    blocks: list[Block] = []
    if meta.get("description"):
        blocks.append(Text(meta["description"]))
    planned = set(meta.get("cells", []))
    if planned:
        done = sum(r.cell in planned for r in results)
        others = len(results) - done
        count = (f"{done} of the {len(planned)} cells of the grid have finished"
                 + (f", and {others} of earlier grids run into this folder" if others else ""))
    else:
        count = f"{len(results)} finished cells"
    machines = sorted({r.machine for r in results if r.machine})
    blocks.append(Text(
        f"{count}. Accuracy is top-1 on the whole target test set, in %, evaluated once at the end of "
        "training (no model selection on test images); a table entry is the mean ± sample standard deviation "
        "over seeds. A cell's wall time includes training the shared stages it was the first to need."
        + (f" Machine: {'; '.join(machines)}." if machines else "")
    ))
    if not results:
        blocks.append(Text("No cell has finished yet."))
    blocks.append(Text("Re-render this report from `results.jsonl` with:"))
    blocks.append(Code(f"gantransfer report {context.out}"))
    return blocks


def _direction_section(context: _Context, direction: str, results: list[Result], log) -> list[Block]:
    summaries = summarize(results)
    source, target = results[0].source, results[0].target
    blocks: list[Block] = [Heading(direction, 2)]
    if source and target:
        blocks.append(Text(f"Source `{source}` (labelled), target `{target}`."))
    blocks.append(_accuracy_table(summaries, results))
    references = references_for(source, target)
    if references:
        blocks.append(Heading("Reference numbers (published or measured elsewhere; not produced by this run)", 3))
        blocks.append(Table(
            ["method", "setting", "k", "accuracy (%)", "where from"],
            [[r.method, r.setting, r.k, r.accuracy, r.where] for r in references],
            caption="For comparison only: protocols differ between papers (image subsets, networks, budgets).",
        ))
    blocks += _ablation_blocks(summaries)
    blocks += _selection_blocks(results)
    slug = _slug(direction)
    if len({s.k for s in summaries}) > 1:
        name, draw, heading, width = f"accuracy_vs_k_{slug}.png", save_accuracy_vs_k, "Accuracy against k", 900
    else:  # one k: flat lines against k would say nothing that bars do not say better
        name, draw, heading, width = f"accuracy_{slug}.png", save_accuracy_bars, "Accuracy by method", 700
    draw(context.figures / name, summaries, f"{direction}: target test accuracy (mean ± std over seeds)")
    blocks += [Heading(heading, 3), Figures([(_rel(context, context.figures / name), heading.lower())], width=width)]
    blocks += _confusion_figures(context, slug, results)
    blocks += _embedding_figures(context, slug, results, log)
    return blocks


def _accuracy_table(summaries: list[Summary], results: list[Result]) -> Table:
    def column(summary: Summary) -> str:
        return "all labels" if summary.method in ALL_LABEL_METHODS else f"k={summary.k}"

    columns = [f"k={k}" for k in sorted({s.k for s in summaries if s.method not in ALL_LABEL_METHODS})]
    if any(s.method in ALL_LABEL_METHODS for s in summaries):
        columns.append("all labels")
    most = max(s.n for s in summaries)
    rows = []
    for setting in sorted({s.setting for s in summaries}, key=lambda s: s != LABELLED_ONLY):
        for variant in dict.fromkeys(s.variant for s in summaries if s.setting == setting):
            mine = [s for s in summaries if s.setting == setting and s.variant == variant]
            entries = {column(s): format_accuracy(s.mean, s.std) + (f" (n={s.n})" if s.n < most else "")
                       for s in mine}
            walls = [r.wall_seconds for r in results if r.variant == variant and r.setting == setting
                     and r.wall_seconds is not None]
            wall = format_duration(statistics.fmean(walls)) if walls else "-"
            rows.append([variant, _trains_on(mine, setting)] + [entries.get(c, "") for c in columns] + [wall])
    seeds = ", ".join(map(str, sorted({seed for s in summaries for seed in s.seeds})))
    spread = f"mean ± std over {most} seeds ({seeds})" if most > 1 else f"one seed ({seeds}), so no spread"
    return Table(["method", "trains on"] + columns + ["time / cell"], rows,
                 caption=f"Ours: target test accuracy (%), {spread}; (n=...) marks entries with fewer seeds.")


def _trains_on(summaries: list[Summary], setting: str) -> str:
    """What a row learns from, in words: its setting, made exact where the method says more."""
    if all(s.method in ALL_LABEL_METHODS for s in summaries):
        return "every target train label"
    if setting == LABELLED_ONLY and all(s.k == 0 for s in summaries):
        return "source labels only"
    return setting


#: the ablation of pixel-level adaptation: (row label, variant without self-training, with it)
ABLATION_ROWS = (
    ("no translation (source-only)", "source-only", "source-only-self-train"),
    ("translation (pixel-da)", "pixel-da", "pixel-da-self-train"),
    ("no translation, feature alignment (dann)", "dann", "dann-self-train"),
    ("translation and feature alignment (cycada)", "cycada", "cycada-self-train"),
)


def _ablation_blocks(summaries: list[Summary]) -> list[Block]:
    """Translation on / off x self-training on / off at k = 0, from the cells the grid has
    (nothing when it has no translation row)."""
    found = {s.variant: s for s in summaries if s.k == 0}
    if not any(found.get(v) for _, plain, trained in ABLATION_ROWS[1::2] for v in (plain, trained)):
        return []
    rows = []
    for label, plain, trained in ABLATION_ROWS:
        cells = [found.get(plain), found.get(trained)]
        if any(cells):
            rows.append([label] + [format_accuracy(c.mean, c.std) if c else "-" for c in cells])
    return [Heading("Ablation: translation x self-training (k = 0)", 3),
            Table(["", "without self-training", "with self-training"], rows,
                  caption="Target test accuracy (%), the cells of the table above rearranged; '-': not in the grid.")]


def _selection_blocks(results: list[Result]) -> list[Block]:
    """The table of :mod:`.selection`: each validation score's rank correlation and pick, per k."""
    blocks: list[Block] = [Heading("Choosing without target labels", 3)]
    rankings = score_rankings(results)
    if not rankings:
        return blocks + [Text("No cell of this direction has validation scores (cells run before they were "
                              "computed have none), so the table of how well each score picks is left out.")]
    rows = []
    for r in rankings:
        source_only = source_only_accuracy(results, r.seeds)
        rows.append([f"k={r.k}", r.score, "higher" if higher_is_better(r.score) else "lower", r.cells,
                     "-" if r.spearman is None else f"{r.spearman:+.2f}", f"{100 * r.picked_accuracy:.2f}",
                     describe_picks(r.picked), f"{100 * r.best_accuracy:.2f}",
                     "-" if source_only is None else f"{100 * source_only:.2f}"])
    labelled = (f" {LABELLED_VALIDATION}: accuracy on the held-out labelled target train images of runs with "
                "validation_per_class; it reads target labels (a few per class), and is there to show how close "
                "the label-free scores come to choosing with them."
                if any(r.score == LABELLED_VALIDATION for r in rankings) else "")
    blocks.append(Text(
        "Every cell computes validation scores at its end without target labels (see docs/guide-validation.md). For each k, "
        "the candidates are that k's cells, every method and seed pooled (the oracle is no candidate). "
        "ρ: Spearman rank correlation of the score, signed so that higher is better, with target test accuracy "
        "over the candidates (+1: the same order as test accuracy; '-' with fewer than 3 cells or a constant "
        "value). Picked: per seed, the candidate with the best score; its test accuracy, mean over seeds, beside "
        "that of the best candidate per seed (picking by the test set) and of source-only, over the seeds "
        "that have every candidate (a seed still running picks nothing)." + labelled))
    return blocks + [Table(["k", "score", "better", "cells", "ρ", "picked (%)", "picked cell", "best (%)",
                            "source-only (%)"], rows)]


def _confusion_figures(context: _Context, slug: str, results: list[Result]) -> list[Block]:
    items = []
    for variant in dict.fromkeys(r.variant for r in results):
        mine = [r for r in results if r.variant == variant]
        k = max(r.k for r in mine)
        chosen = [r for r in mine if r.k == k]
        path = context.figures / f"confusion_{slug}_{_slug(variant)}_k{k}.png"
        where = "all labels" if chosen[0].method in ALL_LABEL_METHODS else f"k={k}"
        if save_summed_confusion(path, chosen, f"{variant}, {where}, {len(chosen)} seed(s)"):
            items.append((_rel(context, path), f"{variant}, {where}: summed over {len(chosen)} seed(s)"))
        else:
            context.notes.append(f"no confusion matrix for {slug}/{variant}: its results lines have none")
    if not items:
        return []
    return [Heading("Confusion matrices (largest k of each method, summed over seeds)", 3), Figures(items, width=300)]


def _embedding_figures(context: _Context, slug: str, results: list[Result], log) -> list[Block]:
    """t-SNE of features, source-only classifier beside each method's (its largest k, first seed)."""
    items = []
    for variant in dict.fromkeys(r.variant for r in results):
        mine = [r for r in results if r.variant == variant]
        if mine[0].method == "source-only" and not mine[0].self_train:
            continue  # it is the "before" of every other panel
        chosen = min(mine, key=lambda r: (-r.k, r.seed))
        path = _embedding(context, chosen, results, log)
        if path is not None:
            name = f"embedding_{slug}_{_slug(variant)}.png"
            copied = copy_picture(path, context.figures, name)
            items.append((_rel(context, copied), f"{chosen.cell}: features before (source-only) and after"))
    if not items:
        return []
    return [Heading("Features before and after adaptation (t-SNE)", 3), Figures(items, width=520)]


def _embedding(context: _Context, result: Result, results: list[Result], log) -> Path | None:
    folder = context.cell_folder(result)
    if folder is None or not (folder / CLASSIFIER_FILE).is_file():
        context.notes.append(f"no t-SNE for {result.cell or result.variant}: its classifier file is not there")
        return None
    cached = folder / EMBEDDING_FILE
    if cached.is_file():
        return cached
    if not result.source or not result.target:
        context.notes.append(f"no t-SNE for {result.cell}: its results line names no source and target")
        return None
    try:
        after = load_classifier(folder / CLASSIFIER_FILE)
        inputs = context.embedding_images(result.source, result.target, after.format)
        if log:
            log(f"t-SNE of {result.cell} ...")
        panels = [(f"after: {result.variant}, k={result.k}", embed(after.model, inputs))]
        before = _before_classifier(context, result, results)
        if before is not None:
            panels.insert(0, ("before: source-only classifier", context.embedded(before, inputs)))
        else:
            context.notes.append(f"t-SNE of {result.cell}: no source-only classifier found, 'after' only")
        save_embedding_figure(cached, panels, inputs)
    except GanTransferError as error:
        context.notes.append(f"no t-SNE for {result.cell}: {first_line(error)}")
        return None
    return cached


def _before_classifier(context: _Context, result: Result, results: list[Result]) -> Path | None:
    """The source-only classifier: a source-only cell of the same direction (same
    seed preferred), else the source-classifier stage of the same source."""
    candidates = sorted((r for r in results if r.method == "source-only" and not r.self_train and r.cell),
                        key=lambda r: r.seed != result.seed)
    for candidate in candidates:
        path = context.out / CELLS / candidate.cell / CLASSIFIER_FILE
        if path.is_file():
            return path
    for folder in sorted(context.stages.glob("source-classifier-*")):
        try:
            config = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if config.get("source") == result.source and (folder / CLASSIFIER_FILE).is_file():
            return folder / CLASSIFIER_FILE
    return None


def _samples_section(context: _Context) -> list[Block]:
    pictures: list[Picture] = stage_pictures(context.stages)
    for (direction, variant), members in _groups(context.results).items():
        first = min(members, key=lambda r: (-r.k, r.seed))
        folder = context.cell_folder(first)
        if folder is not None and folder.is_dir():
            pictures += cell_pictures(folder, first.cell)
    if not pictures:
        return []
    items = []
    for index, picture in enumerate(pictures):
        copied = copy_picture(picture.path, context.figures, f"sample_{index:03d}_{_slug(picture.path.stem)}.png")
        items.append((_rel(context, copied), picture.caption))
    return [Heading("Sample grids", 2),
            Text("The source GAN (a shared stage), target-adapted GANs and translations, where the methods made them "
                 "(each method's largest k, first seed)."),
            Figures(items, width=340)]


def _cells_section(context: _Context) -> list[Block]:
    if not context.results:
        return []
    rows = [[r.cell or f"{r.direction}/{r.variant}/k{r.k}/seed{r.seed}", f"{100 * r.accuracy:.2f}",
             format_duration(r.wall_seconds) if r.wall_seconds is not None else "-", r.machine or "-"]
            for r in context.results]
    return [Heading("Every finished cell", 2), Table(["cell", "accuracy (%)", "wall time", "machine"], rows)]


def _notes_section(context: _Context) -> list[Block]:
    if not context.notes:
        return []
    return [Heading("Notes", 2), Text(" ".join(f"({i}) {note}." for i, note in enumerate(context.notes, 1)))]


def _groups(results: list[Result]) -> dict[tuple[str, str], list[Result]]:
    groups: dict[tuple[str, str], list[Result]] = {}
    for result in results:
        groups.setdefault((result.direction, result.variant), []).append(result)
    return groups


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _rel(context: _Context, path: Path) -> str:
    return path.relative_to(context.out).as_posix()
