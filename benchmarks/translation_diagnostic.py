"""Did pixel-da's translator move the source images towards the target domain?

Reads a finished translation stage (its ``translated_source.pt``: the labelled
source train set as the source -> target translator renders it) and measures,
on the first ``--images`` source images:

- how far the translation moved the pixels (mean |translated - source| in [0, 1]);
- colour: the mean difference between an image's channels (0 for grey
  images; photo backgrounds have more), the mean brightness and how much
  the images' mean colours differ from one image to the next (translations
  that give every digit the same ground have little of it; photo patches
  much), beside the same statistics of the real target train images;
- the source labels as read by two classifiers: the source classifier (does
  the translation keep the digits?) and a classifier trained on the labelled
  target train images (an oracle cell: does it read the translations as it
  reads its own domain?).

Nothing here reads a target test image or chooses a setting: it explains a
row of a table after the fact.

    python benchmarks/translation_diagnostic.py STAGES/translation-XXXX --source mnist --target mnist-m \\
        --source-classifier STAGES/source-classifier-XXXX --target-classifier CELLS/oracle/k0/seed0 \\
        --data-dir PATH --output benchmarks/results/translation-diagnostic.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import Tensor

from gantransfer.config import from_dict
from gantransfer.data import ImageFormat, ImageSet, load_domain
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.methods.pixel_da import TRANSLATED_FILE
from gantransfer.models.saving import load_classifier


def pixel_change(before: Tensor, after: Tensor) -> float:
    """Mean |after - before| of uint8 (N, C, S, S) images, in [0, 1] units."""
    return float((after.float() - before.float()).abs().mean() / 255)


def colour_statistics(images: Tensor) -> dict[str, float]:
    """Of uint8 (N, C, S, S) images, in [0, 1] units: ``channel_spread``, mean |channel -
    mean of channels| (0 for grey); ``brightness``, the mean pixel; ``between_images``,
    the standard deviation over the images of an image's mean value in a channel,
    averaged over the channels (0 when every image has the same mean colour)."""
    unit = images.float() / 255
    spread = (unit - unit.mean(1, keepdim=True)).abs().mean()
    between = unit.mean((2, 3)).std(0, unbiased=False).mean()
    return {"channel_spread": round(float(spread), 4), "brightness": round(float(unit.mean()), 4),
            "between_images": round(float(between), 4)}


def readings(classifier_path: str, sets: dict[str, ImageSet]) -> dict[str, float]:
    """Percentage of each set's images that the saved classifier reads as their labels."""
    model = load_classifier(classifier_path).model
    return {name: round(100 * evaluate_classifier(model, images).accuracy, 2) for name, images in sets.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", help="a finished translation stage folder (holds translated_source.pt)")
    parser.add_argument("--source", required=True, help="the stage's source domain")
    parser.add_argument("--target", required=True, help="the stage's target domain (its train split is read)")
    parser.add_argument("--source-classifier", required=True, help="source classifier (stage folder or .safetensors)")
    parser.add_argument("--target-classifier", required=True,
                        help="a classifier trained on the labelled target train images (an oracle cell)")
    parser.add_argument("--images", type=int, default=10000, help="source images measured (the first N)")
    parser.add_argument("--data-dir", help="the datasets folder")
    parser.add_argument("--output", help="also write the measurements here as JSON")
    args = parser.parse_args(argv)

    stage = Path(args.stage)
    translated_file = stage / TRANSLATED_FILE
    if not translated_file.is_file():
        parser.error(f"{translated_file} not found: give a translation stage that a pixel-da run has used")
    fmt = from_dict(ImageFormat, json.loads((stage / "config.json").read_text())["format"])
    source = load_domain(args.source, "train", fmt, data_dir=args.data_dir)
    target = load_domain(args.target, "train", fmt, data_dir=args.data_dir)
    translated = torch.load(translated_file, weights_only=True)
    if tuple(translated.shape) != tuple(source.images.shape):
        parser.error(f"{translated_file} holds {tuple(translated.shape)}, {args.source} train is "
                     f"{tuple(source.images.shape)}: not this source's stage")
    count = min(args.images, len(source.images))
    before, after, labels = source.images[:count], translated[:count], source.labels[:count]
    sets = {"source": ImageSet(before, labels, source.class_names, args.source, fmt),
            "translated": ImageSet(after, labels, source.class_names, f"{args.source}->{args.target}", fmt)}
    report = {
        "stage": stage.name, "images": count, "format": f"{fmt.channels} x {fmt.size} x {fmt.size}",
        "pixel_change": round(pixel_change(before, after), 4),
        "colour": {"source": colour_statistics(before), "translated": colour_statistics(after),
                   "target": colour_statistics(target.images[:count])},
        "source_classifier_accuracy": readings(args.source_classifier, sets),
        "target_classifier_accuracy": readings(args.target_classifier, sets),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
