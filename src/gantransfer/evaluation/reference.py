"""Reference classifiers: one per domain, trained once on its real train set and cached.

They judge generators (Frechet distance on their features, accuracy on
conditional samples) and are never used for transfer, so a judged method
cannot have shaped them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..config import to_dict
from ..data import BuildOptions, ImageFormat, domain_identity, load_domain
from ..models import Classifier, ClassifierConfig, TrunkConfig
from ..models.saving import SavedClassifier, load_classifier, save_classifier
from ..paths import resolve_cache_dir
from ..training.seeding import seed_everything
from ..training.supervised import ClassifierTraining, fit_classifier_quietly
from .classification import evaluate_classifier

RECIPE_VERSION = 1
REFERENCE_SEED = 0


@dataclass(frozen=True)
class ReferenceRecipe:
    """How reference classifiers are trained (part of the cache key)."""

    steps: int = 3000
    batch_size: int = 128
    width: int = 32
    feature_dim: int = 256


def reference_path(
    domain: str, fmt: ImageFormat, cache_dir: str | None, recipe: ReferenceRecipe, build: BuildOptions = BuildOptions()
) -> Path:
    """Where the reference classifier of ``domain`` in ``fmt`` (built with ``build``) is cached."""
    identity = domain_identity(domain.lower(), build) if "/" not in domain else str(Path(domain).expanduser().resolve())
    key = json.dumps([RECIPE_VERSION, identity, to_dict(fmt), to_dict(recipe)], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = Path(identity).name or "domain"
    return resolve_cache_dir(cache_dir) / "reference" / f"{name}-{fmt.channels}x{fmt.size}-{digest}.safetensors"


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
) -> SavedClassifier:
    """The cached reference classifier of ``domain``, training it first if needed (about a minute on 2 CPU cores for MNIST)."""
    path = reference_path(domain, fmt, cache_dir, recipe, build)
    if path.is_file():
        return load_classifier(path, device)
    train = load_domain(domain, "train", fmt, data_dir, cache_dir, download, build)
    test = load_domain(domain, "test", fmt, data_dir, cache_dir, download, build)
    seed_everything(REFERENCE_SEED)
    config = ClassifierConfig(
        trunk=TrunkConfig(fmt.channels, fmt.size, recipe.width, recipe.feature_dim, "batch"),
        num_classes=train.num_classes,
    )
    training = ClassifierTraining(steps=recipe.steps, batch_size=recipe.batch_size)
    model = fit_classifier_quietly(Classifier(config), train, training, seed=REFERENCE_SEED, device=device, progress=progress)
    accuracy = evaluate_classifier(model, test).accuracy
    save_classifier(path, model, train.class_names, fmt, info={"domain": domain, "test_accuracy": accuracy})
    return load_classifier(path, device)
