"""Which source-classifier recipe reads an appearance-shifted target: one variant per line.

Trains a source classifier on MNIST (3 channels) through the library's own
``ClassifierTask`` for each variant (normalisation, geometric augmentation, cosine
schedule, photometric augmentation, per-image input standardisation, target BatchNorm
statistics at prediction) and reports its accuracy on a labelled validation split
carved from MNIST-M-style's *train* set (``--validation-per-class`` images a class,
a fixed draw; their labels serve nothing else). The target test set is read once
per cell, after training, and chooses nothing.

    python benchmarks/source_recipe.py --out benchmarks/results/source-recipe/cells.jsonl \\
        --variants default plain layer layer+appearance --seeds 0 1 2 --steps 1500

Cells already in ``--out`` are skipped, so an interrupted run continues.
``--table`` prints the cells of ``--out`` as a Markdown table (mean +- standard deviation
over the seeds of each variant and pair) and trains nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from gantransfer.data import AffineAugment, BatchStream, ImageFormat, ImageSet, PhotometricAugment, load_domain
from gantransfer.data.splits import per_class_indices
from gantransfer.engine.seeding import seed_everything
from gantransfer.engine.trainer import Progress
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.models import Classifier
from gantransfer.models.classifier import ClassifierConfig
from gantransfer.models.trunk import TrunkConfig
from gantransfer.training.batchnorm import image_batches, reestimate_batchnorm
from gantransfer.training.supervised import ClassifierTask, ClassifierTraining, LabelledSource

#: the fixed draw of the validation split from the target's train set
VALIDATION_SEED = 2024


@dataclass(frozen=True)
class Variant:
    """One source recipe: every choice the study varies."""

    norm: str = "batch"
    affine: bool | AffineAugment = True
    cosine: bool = True
    photometric: PhotometricAugment = PhotometricAugment()
    standardize: bool = False
    target_statistics: bool = False


# Grey batches too (colour_only=False): the variants as first measured, on MNIST -> USPS as well.
APPEARANCE = replace(PhotometricAugment.appearance(), colour_only=False)
STRONG = PhotometricAugment(invert=0.5, recolour=0.8, channel_shuffle=0.5, grey=0.1, colour_only=False)
SHIFT = AffineAugment(translate=0.1)
HALF_AFFINE = AffineAugment(degrees=15.0, translate=0.1, scale=0.1, probability=0.5)
QUARTER_AFFINE = AffineAugment(degrees=15.0, translate=0.1, scale=0.1, probability=0.25)
NEAREST_AFFINE = AffineAugment(degrees=15.0, translate=0.1, scale=0.1, interpolation="nearest")
VARIANTS: dict[str, Variant] = {
    "default": Variant(),
    "plain": Variant(affine=False, cosine=False),
    "adabn": Variant(target_statistics=True),
    "layer": Variant(norm="layer"),
    "layer-plain": Variant(norm="layer", affine=False, cosine=False),
    "layer-noaffine": Variant(norm="layer", affine=False),
    "batch-noaffine": Variant(affine=False),
    "layer-nocosine": Variant(norm="layer", cosine=False),
    "instance": Variant(norm="instance"),
    "none": Variant(norm="none"),
    "layer+invert": Variant(norm="layer", photometric=PhotometricAugment(invert=0.5)),
    "layer+appearance": Variant(norm="layer", photometric=APPEARANCE),
    "batch+appearance": Variant(photometric=APPEARANCE),
    "batch+appearance+adabn": Variant(photometric=APPEARANCE, target_statistics=True),
    "instance+appearance": Variant(norm="instance", photometric=APPEARANCE),
    "none+appearance": Variant(norm="none", photometric=APPEARANCE),
    "layer+standardize+appearance": Variant(norm="layer", photometric=APPEARANCE, standardize=True),
    "batch+standardize": Variant(standardize=True),
    "batch+standardize+appearance": Variant(photometric=APPEARANCE, standardize=True),
    "layer+recolour": Variant(norm="layer", photometric=PhotometricAugment(recolour=0.5)),
    "layer+appearance-noaffine": Variant(norm="layer", photometric=APPEARANCE, affine=False),
    "batch+appearance-noaffine": Variant(photometric=APPEARANCE, affine=False),
    "batch+appearance-noaffine+adabn": Variant(photometric=APPEARANCE, affine=False, target_statistics=True),
    "instance+appearance-noaffine": Variant(norm="instance", photometric=APPEARANCE, affine=False),
    "none+appearance-noaffine": Variant(norm="none", photometric=APPEARANCE, affine=False),
    "layer+appearance-plain": Variant(norm="layer", photometric=APPEARANCE, affine=False, cosine=False),
    "layer+recolour-noaffine": Variant(norm="layer", photometric=PhotometricAugment(recolour=0.5), affine=False),
    "layer+strong-noaffine": Variant(norm="layer", photometric=STRONG, affine=False),
    "layer+appearance+shift": Variant(norm="layer", photometric=APPEARANCE, affine=SHIFT),
    "batch+appearance+shift+adabn": Variant(photometric=APPEARANCE, affine=SHIFT, target_statistics=True),
    "batch+appearance+half-affine": Variant(photometric=APPEARANCE, affine=HALF_AFFINE),
    "batch+appearance+quarter-affine": Variant(photometric=APPEARANCE, affine=QUARTER_AFFINE),
    "batch+appearance+nearest-affine": Variant(photometric=APPEARANCE, affine=NEAREST_AFFINE),
    "batch+nearest-affine": Variant(affine=NEAREST_AFFINE),
}


def _affine(choice: bool | AffineAugment) -> AffineAugment:
    if isinstance(choice, AffineAugment):
        return choice
    return AffineAugment.digits() if choice else AffineAugment()


class StandardizedClassifier(Classifier):
    """A classifier whose input is each image standardised over (C, H, W) (zero mean, unit std)."""

    def features(self, images: Tensor) -> Tensor:
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        std = images.std(dim=(1, 2, 3), keepdim=True).clamp(min=1e-3)
        return super().features((images - mean) / std)


def build(variant: Variant, channels: int) -> Classifier:
    config = ClassifierConfig(TrunkConfig(channels=channels, norm=variant.norm))
    return (StandardizedClassifier if variant.standardize else Classifier)(config)


def train_cell(variant: Variant, seed: int, steps: int, source: ImageSet, target_train: ImageSet,
               validation: ImageSet, test: ImageSet, eval_every: int) -> dict:
    seed_everything(seed)
    training = ClassifierTraining(
        steps=steps, batch_size=128, cosine_schedule=variant.cosine,
        augment=_affine(variant.affine), photometric=variant.photometric,
    )
    classifier = build(variant, source.format.channels)
    stream = BatchStream((source.images, source.labels), training.batch_size, seed=seed)
    task = ClassifierTask(classifier, [LabelledSource("source", stream)], training)
    curve = []
    started = time.perf_counter()
    for step in range(steps):
        task.train_step(Progress(step, steps))
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            curve.append((step + 1, evaluate_classifier(_predictor(task, variant, target_train), validation).accuracy))
    seconds = time.perf_counter() - started
    model = _predictor(task, variant, target_train)
    validation_accuracy = evaluate_classifier(model, validation).accuracy
    report = evaluate_classifier(model, test)  # read once, after training; chooses nothing
    predicted_share = max(report.confusion.sum(dim=0).tolist()) / len(test)
    curve.append((steps, validation_accuracy))
    return {"validation_accuracy": validation_accuracy, "test_accuracy": report.accuracy,
            "largest_predicted_class_share": predicted_share, "validation_curve": curve,
            "train_seconds": round(seconds, 1)}


def _predictor(task: ClassifierTask, variant: Variant, target_train: ImageSet) -> Classifier:
    model = task.final_model
    if variant.target_statistics:
        # AdaBN at prediction: the target train images' statistics (no labels), on a copy.
        model = copy.deepcopy(model)
        reestimate_batchnorm(model, image_batches(target_train.images, 256))
    return model.eval()


def table(cells: list[dict]) -> str:
    """Markdown rows: pair, variant, seeds, validation and test accuracy (mean +- std, %)."""
    groups: dict[tuple, list[dict]] = {}
    for cell in cells:
        pair = f"{cell.get('source', 'mnist')} -> {cell['target']} ({cell.get('size', 28)} px)"
        groups.setdefault((pair, cell["variant"], cell["steps"]), []).append(cell)
    lines = ["| pair | variant | steps | seeds | validation (%) | test (%) | largest class share (%) |",
             "|---|---|---|---|---|---|---|"]
    for (pair, variant, steps), group in groups.items():
        def summary(key: str) -> str:
            values = torch.tensor([100 * c[key] for c in group], dtype=torch.float64)
            spread = f" +- {values.std().item():.2f}" if len(values) > 1 else ""
            return f"{values.mean().item():.2f}{spread}"
        lines.append(f"| {pair} | {variant} | {steps} | {len(group)} | {summary('validation_accuracy')} "
                     f"| {summary('test_accuracy')} | {summary('largest_predicted_class_share')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results file (JSON lines); cells in it are skipped")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=0, help="validation accuracy every N steps (0: at the end)")
    parser.add_argument("--validation-per-class", type=int, default=100)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--target", default="mnist-m")
    parser.add_argument("--channels", type=int, default=3, help="image channels of both domains")
    parser.add_argument("--size", type=int, default=28, help="image side of both domains, in pixels")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--table", action="store_true", help="print --out's cells as a Markdown table; train nothing")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for line in args.out.read_text().splitlines()]))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    fmt = ImageFormat(size=args.size, channels=args.channels)
    source = load_domain(args.source, "train", fmt)
    target_train = load_domain(args.target, "train", fmt)
    test = load_domain(args.target, "test", fmt)
    chosen, _ = per_class_indices(target_train.labels, args.validation_per_class, VALIDATION_SEED)
    validation = target_train.subset(chosen, f"{args.target}/validation")
    done = set()
    if args.out.exists():
        done = {(c["variant"], c["seed"], c["steps"], c.get("source", "mnist"), c["target"])
                for c in map(json.loads, args.out.read_text().splitlines())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name in args.variants:
            if (name, seed, args.steps, args.source, args.target) in done:
                continue
            cell = train_cell(VARIANTS[name], seed, args.steps, source, target_train, validation, test, args.eval_every)
            cell = {"variant": name, "seed": seed, "steps": args.steps, "source": args.source, "target": args.target,
                    "size": args.size,
                    "validation_images": len(validation), **cell,
                    "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine()}
            with args.out.open("a") as handle:
                handle.write(json.dumps(cell) + "\n")
            print(f"{name:32s} seed {seed}: validation {cell['validation_accuracy']:.2%} "
                  f"test {cell['test_accuracy']:.2%} ({cell['train_seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
