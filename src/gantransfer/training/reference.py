"""Reference classifiers: one per domain, trained once on its real train set and cached.

They judge generators (Frechet distance on their features, accuracy on
conditional samples) and are never used for transfer, so a judged method
cannot have shaped them. Training one takes a few minutes on 2 CPU cores; it
runs through the shared trainer in a folder beside the cached file, so it says
where it is (a progress bar, or a line a minute without a terminal) and an
interrupted one resumes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import to_dict
from ..data import (BatchStream, BuildOptions, DataOptions, ImageFormat, ImageSet, SplitOptions, describe_domain,
                    load_domain)
from ..data.domains import load_split
from ..engine.run_folder import RunFolder
from ..engine.seeding import preserved_randomness, seed_everything
from ..engine.trainer import LoopConfig, Trainer
from ..errors import ConfigError
from ..evaluation.classification import evaluate_classifier
from ..evaluation.gan_quality import GanQuality
from ..models import Classifier, ClassifierConfig, TrunkConfig
from ..models.saving import SavedClassifier, load_classifier, save_classifier
from ..paths import resolve_cache_dir
from .supervised import ClassifierTask, ClassifierTraining, LabelledSource

RECIPE_VERSION = 1
REFERENCE_SEED = 0


@dataclass(frozen=True)
class ReferenceRecipe:
    """How reference classifiers are trained (part of the cache key).

    Args:
        steps: training steps (3,000 reach about 99 % on MNIST's test set).
        batch_size, width, feature_dim: the batch and the conv trunk's shape.
    """

    steps: int = 3000
    batch_size: int = 128
    width: int = 32
    feature_dim: int = 256

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError(f"the reference classifier needs steps >= 1 and batch_size >= 1, got {self.steps}, "
                              f"{self.batch_size}")


def reference_path(
    domain: str, fmt: ImageFormat, recipe: ReferenceRecipe, data: DataOptions = DataOptions(),
    splits: SplitOptions = SplitOptions(),
) -> Path:
    """Where the reference classifier of ``domain`` in ``fmt`` is cached: named by the domain's
    content key (a path or name plus a fingerprint of its data, built domains' build options
    included), so changed data trains a new one."""
    info = describe_domain(domain, data, splits)
    identity = [RECIPE_VERSION, info.key, to_dict(fmt), to_dict(recipe)]
    if splits != SplitOptions():
        identity.append(to_dict(splits))
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    name = Path(info.key.rsplit("@", 1)[0]).name or "domain"
    return resolve_cache_dir(data.cache_dir) / "reference" / f"{name}-{fmt.channels}x{fmt.size}-{digest}.safetensors"


def reference_classifier(
    domain: str,
    fmt: ImageFormat = ImageFormat(),
    data_dir: str | None = None,
    cache_dir: str | None = None,
    download: bool = False,
    recipe: ReferenceRecipe = ReferenceRecipe(),
    device="cpu",
    progress: bool = True,
    build: BuildOptions = BuildOptions(),
    splits: SplitOptions = SplitOptions(),
) -> SavedClassifier:
    """The cached reference classifier of ``domain`` (built with ``build``; a test split drawn
    with ``splits`` where the layout has none), training it first if needed.

    Its ``info["test_accuracy"]`` is its accuracy on the domain's test split.
    """
    data = DataOptions(data_dir, cache_dir, download, build=build)
    path = reference_path(domain, fmt, recipe, data, splits)
    if path.is_file():
        return load_classifier(path, device)
    train = load_domain(domain, "train", fmt, data_dir, cache_dir, download, splits=splits, build=build)
    test = load_domain(domain, "test", fmt, data_dir, cache_dir, download, splits=splits, build=build)
    print(f"gantransfer: training the reference classifier of {domain} ({recipe.steps} steps, once; "
          f"cached in {path.parent})", file=sys.stderr, flush=True)
    # The caller's random state is given back: a GAN judged by this classifier trains the same
    # whether the classifier was cached or trained now.
    with preserved_randomness():
        _train_reference(path, domain, fmt, recipe, train, test, device, progress)
    return load_classifier(path, device)


def _train_reference(path: Path, domain: str, fmt: ImageFormat, recipe: ReferenceRecipe, train: ImageSet,
                     test: ImageSet, device, progress: bool) -> None:
    """Train the reference classifier of ``domain`` and save it to ``path`` (its test accuracy in its info)."""
    seed_everything(REFERENCE_SEED)
    config = ClassifierConfig(
        trunk=TrunkConfig(fmt.channels, fmt.size, recipe.width, recipe.feature_dim, "batch"),
        num_classes=train.num_classes,
    )
    training = ClassifierTraining(steps=recipe.steps, batch_size=recipe.batch_size)
    stream = BatchStream((train.images, train.labels), training.batch_size, seed=REFERENCE_SEED)
    task = ClassifierTask(Classifier(config), [LabelledSource("train", stream)], training, device=device)
    run = RunFolder(path.with_suffix(""))
    identity = {"domain": domain, "format": to_dict(fmt), "recipe": to_dict(recipe)}
    resume = run.has_run()
    run.prepare(identity, resume=resume)
    loop = LoopConfig(steps=recipe.steps, progress_bar=progress, tensorboard=False,
                      label=f"reference classifier of {domain}")
    Trainer(task, run, loop, identity, seed=REFERENCE_SEED).fit(resume=resume).raise_if_interrupted()
    model = task.classifier.eval()
    accuracy = evaluate_classifier(model, test).accuracy
    save_classifier(path, model, train.class_names, fmt, info={"domain": domain, "test_accuracy": accuracy})


def gan_quality_for_domain(
    domain: str, fmt: ImageFormat, data: DataOptions, samples: int, num_classes: int, seed: int = 0,
    device="cpu", recipe: ReferenceRecipe = ReferenceRecipe(), splits: SplitOptions = SplitOptions(),
) -> GanQuality:
    """A judge of generators of ``domain``: its reference classifier and its test split."""
    reference = reference_classifier(domain, fmt, data.data_dir, data.cache_dir, data.download, recipe, device=device,
                                     build=data.build, splits=splits)
    real = load_split(domain, "test", fmt, data, splits)
    return GanQuality(reference.model, real, samples, num_classes, seed, device)
