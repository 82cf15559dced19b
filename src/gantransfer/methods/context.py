"""What every transfer method builds on: the loaded data, shared stages, and helpers."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..data import BatchStream, DataOptions, ImageSet, few_shot_split, load_domain
from ..data.classes import require_every_class
from ..data.images import check_labels
from ..errors import ConfigError, DataError
from ..models import Classifier
from ..training.distributed import setup
from ..training.pretrain import PretrainedGan, load_gan
from ..training.run_folder import RunFolder
from ..training.supervised import ClassifierTask, LabelledSource
from .config import TransferConfig
from .stages import StageCache


VALIDATION_SEED = 10_000


@dataclass
class TransferData:
    """The images of one transfer run.

    Attributes:
        source: the labelled source train set.
        target_train: the target train set (less any validation images); its
            labels are read only by the ``oracle`` baseline, its images by
            methods that learn from unlabelled target images.
        target_labelled: ``k`` labelled target images per class, drawn with the run's seed.
        target_test: the target test set, used once, for the final evaluation.
        target_validation: labelled target train images held out for tuning
            (``validation_per_class``), never trained on; None when not asked for.
    """

    source: ImageSet
    target_train: ImageSet
    target_labelled: ImageSet
    target_test: ImageSet
    target_validation: ImageSet | None = None

    @classmethod
    def load(cls, config: TransferConfig, data: DataOptions) -> "TransferData":
        def load(domain: str, split: str) -> ImageSet:
            return load_domain(domain, split, config.format, data.data_dir, data.cache_dir, data.download)

        source = load(config.source, "train")
        require_every_class(source)
        target_train, target_test = load(config.target, "train"), load(config.target, "test")
        for part in (target_train, target_test):
            if part.num_classes > source.num_classes:
                raise DataError(
                    f"{part.name}: has {part.num_classes} classes, the source {source.name} only {source.num_classes}"
                )
            check_labels(part.labels, source.num_classes, part.name)
        validation = None
        if config.validation_per_class:
            # One fixed draw, whatever the run's seed, so that every run is tuned on the same images.
            validation, target_train = few_shot_split(target_train, config.validation_per_class, VALIDATION_SEED)
        labelled, _ = few_shot_split(target_train, config.k, config.seed)
        return cls(source, target_train, labelled, target_test, validation)

    @property
    def num_classes(self) -> int:
        return self.source.num_classes


class TransferContext:
    """Shared helpers for building a method's training task."""

    def __init__(
        self,
        config: TransferConfig,
        data: TransferData,
        stages: StageCache,
        run: RunFolder,
        data_options: DataOptions,
        progress_bar: bool = True,
    ) -> None:
        self.config = config
        self.data = data
        self.stages = stages
        self.run = run
        self.data_options = data_options
        self.progress_bar = progress_bar
        self.distributed = setup(config.acceleration.device)
        self.device = self.distributed.device
        self._gan: PretrainedGan | None = None
        self.notes: dict[str, object] = {}

    # -- data ----------------------------------------------------------------
    def stream(self, images: ImageSet, batch_size: int, salt: int) -> BatchStream:
        """Batches of ``images`` seeded by the run's seed and a per-stream ``salt``
        (this rank's slices of them under torchrun)."""
        return self.distributed.stream((images.images, images.labels), batch_size, seed=self.config.seed * 100 + salt)

    def images_only(self, images: ImageSet, batch_size: int, salt: int, name: str = "batch_size") -> BatchStream:
        """Batches ``(images,)`` of ``images``, their labels left out (e.g. the unlabelled target);
        this rank's slices of them under torchrun."""
        return self.distributed.stream((images.images,), batch_size, seed=self.config.seed * 100 + salt, name=name)

    def self_training_stream(self) -> BatchStream | None:
        """The unlabelled target batches of self-training, or None when ``self_train`` is off."""
        config = self.config
        if not config.self_train:
            return None
        return self.images_only(self.data.target_train, config.self_training.batch_size, 3, "self_training.batch_size")

    def labelled_sources(self, include_source: bool = False) -> list[LabelledSource]:
        """The k labelled target images, and the source set when asked or when ``source_weight > 0``."""
        config, data = self.config, self.data
        sources = []
        if config.k > 0:
            sources.append(LabelledSource("target", self.stream(data.target_labelled, config.training.batch_size, 1)))
        if include_source or config.source_weight > 0:
            weight = config.source_weight if config.source_weight > 0 else 1.0
            sources.append(LabelledSource("source", self.stream(data.source, config.training.batch_size, 2), weight))
        return sources

    # -- shared stages -------------------------------------------------------
    def source_classifier(self) -> Classifier:
        """A fresh copy of the shared source classifier (trained on first use)."""
        config = self.config
        saved = self.stages.source_classifier(
            self.data.source, config.source, Classifier(config.classifier_config(self.data.num_classes)),
            config.source_training, config.shared_seed, config.acceleration.device, self.progress_bar,
            distributed=self.distributed, acceleration=config.acceleration,
        )
        return saved.model

    def source_gan(self) -> PretrainedGan:
        """The source GAN: ``gan_checkpoint`` if given, else the shared pretraining stage."""
        if self._gan is None:
            config = self.config
            if config.gan_checkpoint:
                self._gan = load_gan(config.gan_checkpoint, self.device)
            else:
                self._gan = self.stages.source_gan(config.gan_config(), self.data_options, self.progress_bar)
            if len(self._gan.class_names) != self.data.num_classes:
                raise ConfigError(
                    f"the GAN knows {len(self._gan.class_names)} classes, the domains have {self.data.num_classes}"
                )
        return self._gan

    # -- the classifier ------------------------------------------------------
    def initial_classifier(self, init: str) -> tuple[Classifier, list[dict]]:
        """The classifier to train and its parameter groups (transferred trunks learn
        ``trunk_lr_scale`` times slower than the head)."""
        config = self.config
        if init == "random":
            classifier = Classifier(config.classifier_config(self.data.num_classes))
            return classifier, [{"params": list(classifier.parameters())}]
        if init == "source":
            classifier = self.source_classifier().train()
        else:
            discriminator = self.source_gan().discriminator
            classifier = Classifier(config.classifier_config(self.data.num_classes, discriminator.config.trunk))
            classifier.trunk.load_state_dict(discriminator.trunk.state_dict())
            self.notes["gan_trunk"] = discriminator.config.trunk.__dict__
            features = config.features
            if features.freeze_trunk or features.linear_probe:
                classifier.freeze_trunk(statistics=features.linear_probe)
        return classifier, self._parameter_groups(classifier)

    def _parameter_groups(self, classifier: Classifier) -> list[dict]:
        lr = self.config.training.optimizer.lr
        trunk = [p for p in classifier.trunk.parameters() if p.requires_grad]
        groups = [{"params": list(classifier.head.parameters()), "lr": lr}]
        if trunk and self.config.trunk_lr_scale > 0:
            groups.append({"params": trunk, "lr": lr * self.config.trunk_lr_scale})
        elif trunk:
            for parameter in trunk:
                parameter.requires_grad_(False)
        return groups

    def classifier_task(
        self, classifier: nn.Module, groups: list[dict], sources: list[LabelledSource]
    ) -> ClassifierTask:
        """The supervised task, with self-training on the unlabelled target when asked."""
        config = self.config
        if not sources:
            raise ConfigError(
                f"method {config.method!r} has nothing labelled to learn from: use k > 0 or source_weight > 0"
            )
        return ClassifierTask(classifier, sources, config.training, parameter_groups=groups, **self.task_options())

    def task_options(self) -> dict:
        """What every :class:`ClassifierTask`-based task takes from the run: the device,
        the process group, the acceleration options and self-training (when asked)."""
        config = self.config
        return {"device": self.device, "distributed": self.distributed, "acceleration": config.acceleration,
                "unlabelled": self.self_training_stream(), "self_training": config.self_training}

