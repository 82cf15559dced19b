"""Does a saved classifier gain from BatchNorm statistics recomputed on the target train set?

A self-trained classifier (the mean teacher) keeps the BatchNorm running
statistics it collected from the last augmented target batches. This script
re-estimates them over the whole target train set (AdaBN, Li et al. 2016,
"Revisiting batch normalization for practical domain adaptation"), once from
the clean images and once from images augmented with the library's default
digit augmentation (the self-training default), and prints the
target test accuracy of each. A diagnostic, not part of any method: it reads
the test set.

    GANTRANSFER_DATA=PATH/TO/datasets python benchmarks/target_batchnorm.py \
        RUN/classifier.safetensors mnist
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from gantransfer.data import AffineAugment, load_domain, random_affine, to_model_range
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.models.saving import load_classifier


def recompute_batchnorm(model: nn.Module, images: torch.Tensor, augment: AffineAugment, batch_size: int = 128) -> nn.Module:
    """``model`` with every BatchNorm's running mean and variance the average over ``images``."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over every batch
    model.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            model(random_affine(to_model_range(images[start : start + batch_size]), augment))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("classifier", help="a saved classifier (classifier.safetensors of a run)")
    parser.add_argument("target", help="the target domain (mnist, usps or a path)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    saved = load_classifier(args.classifier)
    test = load_domain(args.target, "test", saved.format)
    train = load_domain(args.target, "train", saved.format)
    print(f"as saved: {evaluate_classifier(saved.model, test).accuracy:.4f}")
    for name, augment in (("augmented", AffineAugment.digits()), ("clean", AffineAugment())):
        model = recompute_batchnorm(load_classifier(args.classifier).model, train.images, augment)
        print(f"statistics from {name} target train images: {evaluate_classifier(model, test).accuracy:.4f}")


if __name__ == "__main__":
    main()
