"""Do a source cGAN's images carry their labels? The source classifier's agreement, per GAN stage.

For every conditional source-GAN stage in a stages folder, and the source-classifier stage of the same
source (matched by the source's content key and image format in the stages' ``done.json``), the script
draws the images a source-free run adapts from (``--per-class`` of each class, the noise seed of a run
whose shared seed is ``--seed``) and prints the share that the source classifier reads as the class each
was drawn for: what a source-free run records as ``notes.source_free.source_classifier_agreement``
(chance: one over the number of classes; a collapsed generator sits there).

    python benchmarks/generated_source_agreement.py /work/bench-runs/pairs-sf/stages
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gantransfer.engine.stage_cache import DONE
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.methods.context import GENERATED_SOURCE_SEED
from gantransfer.models.saving import load_classifier
from gantransfer.training.generation import generated_set
from gantransfer.training.pretrain import load_gan


def _finished(stages: Path, kind: str) -> list[tuple[Path, dict]]:
    return [(folder, json.loads((folder / DONE).read_text()))
            for folder in sorted(stages.glob(f"{kind}-*")) if (folder / DONE).is_file()]


def _format(fmt: dict) -> tuple:
    """A classifier stage's image format as (size, channels, fit)."""
    return fmt.get("size"), fmt.get("channels"), fmt.get("fit")


def agreements(stages: Path, per_class: int = 1000, seed: int = 0) -> list[dict]:
    """One row per conditional source-GAN stage with a source classifier of its source: the stage names,
    the GAN's step and ``agreement`` (a fraction in [0, 1]); classifiers of other seeds are rows of their own."""
    classifiers = _finished(stages, "source-classifier")
    rows = []
    for gan_folder, gan_identity in _finished(stages, "source-gan"):
        if not gan_identity.get("conditional"):
            continue
        # The same source images in the same format (a grey and a colour MNIST stage may share a folder).
        made_of = gan_identity.get("source_data"), (gan_identity.get("image_size"), gan_identity.get("channels"),
                                                    gan_identity.get("fit"))
        judges = [folder for folder, identity in classifiers
                  if (identity.get("source"), _format(identity.get("format", {}))) == made_of]
        if not judges:
            continue
        gan = load_gan(gan_folder, "cpu")
        images = generated_set(gan.generator, gan.class_names, per_class, seed + GENERATED_SOURCE_SEED,
                               gan.config.format, f"{gan_folder.name}[generated]")
        for classifier_folder in judges:
            saved = load_classifier(classifier_folder / "classifier.safetensors", "cpu")
            rows.append({"gan": gan_folder.name, "classifier": classifier_folder.name,
                         "source": gan_identity["source_data"], "gan_step": gan.step,
                         "agreement": evaluate_classifier(saved.model, images).accuracy})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", type=Path, help="a folder of shared stages (a benchmark's OUT/stages)")
    parser.add_argument("--per-class", type=int, default=1000, help="generated images per class (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="the runs' shared seed (default: 0)")
    args = parser.parse_args()
    for row in agreements(args.stages, args.per_class, args.seed):
        print(f"{row['gan']} (step {row['gan_step']}) on {row['source']}, judged by {row['classifier']}: "
              f"{100 * row['agreement']:.2f}%")


if __name__ == "__main__":
    main()
