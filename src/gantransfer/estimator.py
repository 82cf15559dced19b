"""A scikit-learn estimator over :func:`~gantransfer.methods.transfer`: fit, predict, save, load.

::

    from gantransfer import GanTransfer

    model = GanTransfer("pixel-da", self_train=True, training_steps=1000)
    model.fit(x_target, source=(x_source, y_source))     # or source="mnist", a path...
    labels = model.predict(x_new)
    model.save("model.safetensors"); model = GanTransfer.load("model.safetensors")

``fit(X, y=None, *, source)`` follows scikit-learn: ``X`` is the target
domain (the images to adapt to, which cross-validation splits), ``y`` its
labels where known, ``source`` the labelled source domain, passed through
unchanged. A domain is a built-in name (``"mnist"``), a path (image folder,
``.npz``, see :mod:`gantransfer.data.datasets.custom`), or arrays / tensors
(N x H x W, N x C x H x W or N x H x W x C; uint8, or float in [0, 1] or
[-1, 1]), for the source a pair ``(images, labels)``.

``y``: one integer per target image, -1 for an image without a label
(scikit-learn's semi-supervised convention). Every labelled image is in the
labelled set that the methods learn from (the ``k`` of the CLI, whatever the
count per class); the stored config's ``k`` is the largest count of any class.
With ``y=None`` nothing is labelled, as with ``--k 0``.

The parameters are the fields of :class:`~gantransfer.methods.TransferConfig`
(generated from it, as the CLI's options are), nested ones joined by
underscores: ``training_steps`` is ``--training-steps``; only ``source``,
``target``, ``k`` and ``validation_per_class`` are not parameters, because
``fit``'s data sets them. Besides them: ``out`` (keep the run folder there;
default a temporary folder, deleted after ``fit``), ``stages_dir``,
``data_dir``, ``cache_dir``, ``download``, ``progress_bar`` and
``source_holdout``. So ``get_params``, ``set_params``, ``clone`` and
scikit-learn's model selection work, with :func:`validation_scorer` scoring
candidates without target labels.

In-memory domains are registered (:func:`~gantransfer.data.register_domain`)
under a name made from a hash of their content, ``arrays-<hash>``: nothing is
written to disk, and shared stages (the source classifier...) trained on the
same arrays are found again in the stage cache, never those of other arrays.
They stay registered, and in memory, for the life of the process.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from .config import from_dict, leaf_values, nest
from .data import DataOptions, ImageFormat, ImageSet, builtin_domains, describe_domain, infer_format, register_domain
from .data.datasets.custom import array_to_images, arrays_to_raw, images_in_model_space
from .data.listing import ImageSummary
from .data.classes import match_classes
from .data.images import RawImages
from .errors import ConfigError, DataError
from .evaluation.validation import features_and_logits, validate_classifier
from .evaluation.validation_scores import SCORES
from .methods import TransferConfig, transfer
from .methods.config import TIED_GAN_FIELDS
from .methods.context import VALIDATION_SEED, TransferData, load_splits
from .models.saving import SavedClassifier, load_classifier, save_classifier
from .notice import notice

#: TransferConfig fields that ``fit``'s data decides, so they are no parameters.
DATA_FIELDS = ("source", "target", "k", "validation_per_class")
#: config fields whose command-line name is taken by an estimator method (``fit``)
RENAMED_PARAMETERS = {"fit": "image_fit"}

#: The facade's own parameters and their defaults.
OWN_DEFAULTS: dict[str, Any] = {
    "out": None,
    "stages_dir": None,
    "data_dir": None,
    "cache_dir": None,
    "download": False,
    "progress_bar": True,
    "source_holdout": 0.1,
}


def _config_parameters() -> dict[str, tuple[str, Any]]:
    """``{parameter name: (dotted TransferConfig field, default)}``, checked to be unique.

    Names are the command line's without dashes: ``training_steps``; the acceleration
    options are plain ``device``, ``precision``...; the GAN fields that follow the run
    (``gan.seed``...) are no parameters, as they are no options.
    """
    tied = {f"gan.{name}" for name in TIED_GAN_FIELDS}
    parameters: dict[str, tuple[str, Any]] = {}
    for dotted, default in leaf_values(TransferConfig()).items():
        if dotted.split(".")[0] in DATA_FIELDS or any(dotted == t or dotted.startswith(t + ".") for t in tied):
            continue
        name = dotted.removeprefix("acceleration.").replace(".", "_")
        name = RENAMED_PARAMETERS.get(name, name)
        if name in parameters or name in OWN_DEFAULTS:
            raise RuntimeError(f"TransferConfig fields {parameters[name][0]} and {dotted} both map to {name!r}")
        parameters[name] = (dotted, default)
    return parameters


CONFIG_PARAMETERS = _config_parameters()


def _signature() -> inspect.Signature:
    """``__init__(self, method="finetune", *, every other parameter=its default)``."""
    self = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method = inspect.Parameter("method", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               default=CONFIG_PARAMETERS["method"][1])
    others = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
              for name, (_, default) in CONFIG_PARAMETERS.items() if name != "method"]
    others += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
               for name, default in OWN_DEFAULTS.items()]
    return inspect.Signature([self, method, *others])


SIGNATURE = _signature()


class GanTransfer(ClassifierMixin, BaseEstimator):
    """A transfer method as a scikit-learn classifier (see the module docstring for the parameters).

    Fitted attributes:
        classifier_: the trained :class:`~gantransfer.models.saving.SavedClassifier`.
        classes_: class indices ``0 .. K-1`` (what :meth:`predict` returns).
        class_names_: the source's class names, one per index.
        metrics_: the run's ``metrics.json`` (``validation_scores``, ``prediction_collapse``, ...).
    """

    def __init__(self, method: str = "finetune", **params: Any) -> None:
        # scikit-learn's convention: store every parameter as given; fit checks them.
        unknown = sorted(set(params) - set(SIGNATURE.parameters))
        if unknown:
            raise TypeError(f"GanTransfer got an unexpected parameter {unknown[0]!r}")
        self.method = method
        for name, parameter in SIGNATURE.parameters.items():
            if name not in ("self", "method"):
                setattr(self, name, params.get(name, parameter.default))

    __init__.__signature__ = SIGNATURE  # what get_params, set_params and clone read

    # -- fitting ---------------------------------------------------------------
    def transfer_config(self, k: int = 0, source: str = "mnist", target: str = "usps") -> TransferConfig:
        """The :class:`TransferConfig` these parameters give, for domains ``source`` and ``target``."""
        flat = {dotted: getattr(self, name) for name, (dotted, _) in CONFIG_PARAMETERS.items()}
        values = {**nest(flat), "source": source, "target": target, "k": k}
        return from_dict(TransferConfig, values, where="GanTransfer")

    def fit(self, X, y=None, *, source) -> "GanTransfer":
        """Train on the target ``X`` (labels ``y``, -1 for unlabelled; None: none) and the labelled ``source``."""
        data = DataOptions(self.data_dir, self.cache_dir, self.download)
        config, images = self._run_inputs(X, y, source, data)
        with _run_folder(self.out) as out:
            metrics = transfer(config, out, data, self.stages_dir, self.progress_bar, images=images)
            self.classifier_ = load_classifier(Path(out) / "classifier.safetensors")
        self.metrics_ = metrics
        self.class_names_ = self.classifier_.class_names
        self.classes_ = np.arange(len(self.class_names_))
        self._source_validation = images.source_validation  # for validation_scores(X)
        return self

    def _run_inputs(self, X, y, source, data: DataOptions) -> tuple[TransferConfig, TransferData]:
        """The run's config and images: ``transfer``'s inputs."""
        source_name = _source_domain(source, self.source_holdout)
        fmt = self._format(source_name, X, data)
        source_train, source_validation = load_splits(source_name, fmt, data)
        class_names = source_train.class_names
        target_name, target_train, target_test = _target_domain(X, fmt, data, class_names)
        labels = _target_labels(y, len(target_train), len(class_names))
        labelled = torch.nonzero(labels >= 0).flatten()
        target_labelled = ImageSet(target_train.images[labelled], labels[labelled], class_names,
                                   f"{target_name}[labelled]", fmt)
        counts = torch.bincount(target_labelled.labels, minlength=len(class_names))
        config = self.transfer_config(int(counts.max()), source_name, target_name).with_format(fmt)
        if y is not None:  # the user's labels replace the domain's own (read by the oracle alone)
            target_train = ImageSet(target_train.images, labels, class_names, target_train.name, fmt)
        if config.method == "oracle" and bool((target_train.labels < 0).any()):
            raise ConfigError("GanTransfer: method 'oracle' trains on every target label: give y for every image")
        # The domains' content keys name the shared stages (a path alone would reuse a stale stage).
        source_info = describe_domain(source_name, data, config.splits)
        target_info = describe_domain(target_name, data, config.splits) if _is_domain_name(X) else None
        return config, TransferData(source_train, target_train, target_labelled, target_test,
                                    source_validation=source_validation, source_info=source_info,
                                    target_info=target_info)

    def _format(self, source_name: str, X, data: DataOptions) -> ImageFormat:
        """The run's image format: the parameters' where they give one, the rest inferred from
        the source and the target ``X`` as a command-line run infers it (printed)."""
        config = self.transfer_config()
        if config.image_size is not None and config.channels is not None:
            return config.format
        summaries = {source_name: describe_domain(source_name, data, config.splits).summary}
        if _is_domain_name(X):
            summaries.setdefault(os.fspath(X), describe_domain(os.fspath(X), data, config.splits).summary)
        else:
            images = array_to_images(_as_array(X, "X"), "X")  # (N, C, H, W)
            side = min(images.shape[-2:]), max(images.shape[-2:])
            summaries["X"] = ImageSummary(len(images), 3 if images.shape[1] >= 3 else 1, side[0], side[1],
                                          len(images) if side[0] != side[1] else 0)
        choice = infer_format(summaries, config.image_size, config.channels, config.fit,
                              config.preferred_image_size())
        notice(choice.line())
        return choice.format

    # -- using the fitted classifier -------------------------------------------
    def _images(self, X) -> torch.Tensor:
        saved = self._fitted()
        return images_in_model_space(_as_array(X, "X"), saved.format, "X")

    def _fitted(self) -> SavedClassifier:
        if not hasattr(self, "classifier_"):
            raise NotFittedError("this GanTransfer is not fitted yet: call fit (or GanTransfer.load) first")
        return self.classifier_

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, K), float32, rows summing to 1."""
        _, logits = features_and_logits(self._fitted().model, self._images(X))
        return logits.softmax(dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted class indices (N,), int64 (``class_names_`` names them)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X) -> np.ndarray:
        """The classifier's features (N, D), float32: its trunk's output, before the linear head."""
        features, _ = features_and_logits(self._fitted().model, self._images(X))
        return features.numpy()

    def validation_scores(self, X) -> dict[str, float | None]:
        """Every validation score (:data:`~gantransfer.evaluation.validation_scores.SCORES`) with
        ``X`` as the unlabelled target images (at least 2); the source-based ones use the
        source images held out at ``fit`` (None after :meth:`load`)."""
        return validate_classifier(self._fitted().model, self._images(X),
                                   getattr(self, "_source_validation", None)).scores

    # -- files -----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted classifier, these parameters and the run's metrics to one safetensors file."""
        saved = self._fitted()
        params = {name: (str(value) if isinstance(value, Path) else value)
                  for name, value in self.get_params(deep=False).items()}
        info = {**saved.info, "estimator": {"params": params, "metrics": self.metrics_}}
        save_classifier(path, saved.model, saved.class_names, saved.format, info=info)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GanTransfer":
        """A fitted :class:`GanTransfer` from :meth:`save`'s file (no pickled code is read)."""
        saved = load_classifier(path)
        stored = saved.info.get("estimator")
        if not isinstance(stored, dict):
            raise ConfigError(f"{path}: a classifier file, but not a saved GanTransfer (use load_classifier)")
        defaults = SIGNATURE.parameters
        params = {name: (tuple(value) if isinstance(defaults[name].default, tuple) else value)
                  for name, value in stored["params"].items() if name in defaults}
        model = cls(**params)
        model.classifier_, model.metrics_ = saved, stored.get("metrics", {})
        model.class_names_ = saved.class_names
        model.classes_ = np.arange(len(saved.class_names))
        return model


def validation_scorer(score: str) -> Callable[..., float]:
    """A scikit-learn scorer ``scorer(estimator, X, y=None)``: the validation score ``score`` of a
    fitted :class:`GanTransfer` on the target images ``X``, signed so that greater is better
    (lower-is-better scores are negated, as scikit-learn's ``neg_`` scorers are); ``y`` is ignored."""
    if score not in SCORES:
        raise ConfigError(f"unknown validation score {score!r}: choose one of {', '.join(SCORES)}")
    sign = 1.0 if SCORES[score].higher_is_better else -1.0

    def scorer(estimator: GanTransfer, X, y=None) -> float:
        value = estimator.validation_scores(X)[score]
        if value is None:
            raise ConfigError(f"validation score {score!r} needs held-out source images, which this model lacks")
        return sign * value

    scorer.__name__ = f"validation_scorer_{score}"
    return scorer


# -- domains from what the user gives ----------------------------------------------
def _as_array(value, where: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise DataError(f"{where}: expected an image array or tensor ({error})") from None


def _is_domain_name(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _source_domain(source, holdout: float) -> str:
    """The domain name of ``source``: itself for a name or path; for ``(images, labels)``, a
    registered in-memory domain whose test split is a ``holdout`` fraction of them, one fixed
    draw whatever the run's seed (so every seed's runs share the source stages and scores)."""
    if _is_domain_name(source):
        return os.fspath(source)
    if not (isinstance(source, (tuple, list)) and len(source) == 2):
        raise DataError("source: expected a domain name, a path, or a pair (images, labels)")
    if not 0 <= holdout < 1:
        raise ConfigError(f"GanTransfer: source_holdout must be in [0, 1), got {holdout}")
    raw = arrays_to_raw(_as_array(source[0], "source images"), _as_array(source[1], "source labels"), "source")
    if len(raw.labels) != len(raw.images):
        raise DataError(f"source: {len(raw.images)} images but {len(raw.labels)} labels")
    order = torch.randperm(len(raw.labels), generator=torch.Generator().manual_seed(VALIDATION_SEED))
    count = int(round(holdout * len(order)))
    # Without a test split of its own, the train split serves both (so the domain has no held-out images).
    splits = {"train": _subset(raw, order[count:]), "test": _subset(raw, order[:count] if count >= 2 else order[count:])}
    name = _content_name([raw.images, raw.labels, torch.tensor([holdout])])
    if name not in builtin_domains():  # registering clears the domain cache: only when new
        register_domain(name, lambda split, locations, download: splits[split])
    return name


def _subset(raw: RawImages, indices: torch.Tensor) -> RawImages:
    return RawImages(raw.images[indices], raw.labels[indices], raw.class_names, raw.source)


def _content_name(content: list[torch.Tensor]) -> str:
    """``arrays-<hash of content>``: the same arrays always get the same domain name, others never."""
    digest = hashlib.sha256()
    for tensor in content:
        digest.update(tensor.contiguous().numpy().tobytes())
    return f"arrays-{digest.hexdigest()[:16]}"


def _target_domain(X, fmt: ImageFormat, data: DataOptions, class_names: tuple[str, ...]):
    """``(name, train split, labelled test split or None)`` of the target ``X``.

    Arrays have no labels: their train split's labels are -1 (unknown) until ``y`` says
    otherwise, and only the oracle reads them. They need no registered domain (``transfer``
    gets the images themselves), only a name for the config and the stages.
    """
    if _is_domain_name(X):
        name = os.fspath(X)
        train, test = load_splits(name, fmt, data)
        match = match_classes(class_names, train.class_names, where=f"target {name}")  # by name, not position
        return name, match.relabel(train, class_names), match.relabel(test, class_names)
    images = images_in_model_space(_as_array(X, "X"), fmt, "X")
    name = _content_name([images])
    unknown = torch.full((len(images),), -1, dtype=torch.int64)
    return name, ImageSet(images, unknown, class_names, f"{name}/train", fmt), None


def _target_labels(y, count: int, num_classes: int) -> torch.Tensor:
    """int64 (count,): ``y``, -1 where unlabelled (all -1 for None), checked."""
    if y is None:
        return torch.full((count,), -1, dtype=torch.int64)
    labels = _as_array(y, "y")
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"y: expected {count} integer labels (-1: unlabelled), got {labels.dtype} of shape {labels.shape}")
    labels = torch.from_numpy(labels.astype(np.int64))
    if labels.numel() and (int(labels.min()) < -1 or int(labels.max()) >= num_classes):
        raise DataError(f"y: labels must lie in [0, {num_classes - 1}] or be -1 (unlabelled)")
    return labels


@contextmanager
def _run_folder(out):
    """``out``, or a temporary folder removed afterwards."""
    if out is not None:
        yield os.fspath(out)
        return
    with tempfile.TemporaryDirectory(prefix="gantransfer-") as folder:
        yield folder
