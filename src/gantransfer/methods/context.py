"""What every transfer method builds on: the loaded data, shared stages, and helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, unique
from typing import Any

from torch import nn

from ..config import to_dict
from ..data import (BatchStream, ClassMatch, DataOptions, DomainInfo, FormatChoice, ImageFormat, ImageSet, SplitOptions,
                    describe_domain, few_shot_labelled, few_shot_split, infer_format, load_class_map,
                    match_classes)
from ..data.classes import require_every_class
from ..data.domains import load_split
from ..engine.distributed import setup
from ..engine.identity import comparable
from ..engine.run_folder import RunFolder
from ..engine.seeding import preserved_randomness
from ..engine.trainer import Callback
from ..errors import ConfigError
from ..evaluation.classification import evaluate_classifier
from ..models import Classifier, TrunkConfig
from ..models.pretrained import BackboneWeights, read_backbone_weights
from ..models.trunk import CONV
from ..notice import notice
from ..training.generation import agreement_warning, generated_set
from ..training.pretrain import PretrainedGan, load_gan
from ..training.supervised import ClassifierTask, LabelledSource
from .config import TransferConfig
from .registry import STAGES, Method, get_method, register_stage
from .stages import StageCache

VALIDATION_SEED = 10_000
#: added to the shared seed for the noise of a source-free run's generated source
GENERATED_SOURCE_SEED = 20_000

#: the name of the k labelled target images among a task's labelled sources
TARGET_LABELLED = "target_labelled"


@unique
class Stream(IntEnum):
    """The random batch streams of the library's own methods, by what they draw. Each is
    seeded from the run's seed and its own number (``100 * seed + number``), so no two
    streams of a run share an order; the numbers are fixed, so that seeded results stay as
    they were. A new method names its streams instead (any string: :func:`named_stream_seed`)."""

    TARGET_LABELLED = 1  #: the k labelled target images
    SOURCE = 2  #: the labelled source images (source replay, DANN's source side)
    SELF_TRAINING = 3  #: unlabelled target images for the mean teacher
    TARGET_ALL = 4  #: every labelled target train image (the oracle)
    GENERATED = 5  #: gan-augment's generated images
    UNLABELLED_TARGET = 6  #: unlabelled target images for feature alignment (DANN, ADDA, CyCADA)
    DISCRIMINATOR_SOURCE = 7  #: ADDA's source images for the domain discriminator
    TRANSLATED_SOURCE = 8  #: the source translated to the target style (pixel-da, CyCADA)


def named_stream_seed(seed: int, name: str) -> int:
    """The seed of the stream ``name`` of a run seeded ``seed``, in [0, 2^31): 31 bits of a hash of
    both, so that a method's own streams need no number and, short of a hash collision, share no
    order with one another or with a :class:`Stream` (whose seeds lie below 100 * (seed + 1))."""
    digest = hashlib.sha256(f"{name}\0{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


@dataclass
class TransferData:
    """The images of one transfer run.

    Attributes:
        source: the labelled source train set.
        target_train: the target train set (less any validation images); its
            labels are read only by the ``oracle`` baseline (-1 where unknown:
            the Python facade's unlabelled arrays, which refuse the oracle), its
            images by methods that learn from unlabelled target images.
        target_labelled: ``k`` labelled target images per class, drawn with the run's seed
            (the facade's: every image given a label).
        target_test: the target test set, used once, for the final evaluation
            (None for targets without labelled test images: the Python facade's arrays).
        target_validation: labelled target images for tuning, never trained on: the
            target's own validation split, or ``validation_per_class`` images
            per class held out of its train split; None when there is neither.
        source_validation: held-out labelled source images for the validation
            scores: the source test split, which nothing trains on or picks by
            (see :mod:`gantransfer.evaluation.validation`).
        choice: the run's image format and why (inferred where the config leaves it open).
        source_info, target_info: what the domains are (layouts, content keys).
        classes: how target classes map to source classes (by name); target
            labels are source class indices.

    A domain's test split is its own (a layout's ``test``) or drawn from its
    images by the config's ``test_fraction`` and ``split_seed``; every other
    set is taken from the train split, so none of them holds a test image.
    """

    source: ImageSet
    target_train: ImageSet
    target_labelled: ImageSet
    target_test: ImageSet | None
    target_validation: ImageSet | None = None
    source_validation: ImageSet | None = None
    choice: FormatChoice | None = None
    source_info: DomainInfo | None = None
    target_info: DomainInfo | None = None
    classes: ClassMatch | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config: TransferConfig, data: DataOptions) -> "TransferData":
        splits = config.splits
        source_info = describe_domain(config.source, data, splits)
        target_info = describe_domain(config.target, data, splits)
        choice = resolve_format(config, source_info, target_info)
        fmt = choice.format

        def load(domain: str, split: str) -> ImageSet:
            return load_split(domain, split, fmt, data, splits)

        class_map = load_class_map(config.class_map) if config.class_map else None
        classes = match_classes(source_info.class_names, target_info.class_names, class_map,
                                where=f"target {config.target}", map_file=config.class_map,
                                counts=target_info.counts_by_class)
        source, source_validation = load_splits(config.source, fmt, data, splits)
        require_every_class(source)

        def target(split: str) -> ImageSet:
            return classes.relabel(load(config.target, split), source.class_names)

        target_train, target_test = target("train"), target("test")
        validation = None
        if "validation" in target_info.splits:
            if config.validation_per_class:
                raise ConfigError(f"{config.target} has a validation split of its own: leave validation_per_class at 0")
            validation = target("validation")
        elif config.validation_per_class:
            # One fixed draw, whatever the run's seed, so that every run is tuned on the same images.
            validation, target_train = few_shot_split(target_train, config.validation_per_class, VALIDATION_SEED)
        labelled = few_shot_labelled(target_train, config.k, config.seed)
        return cls(source, target_train, labelled, target_test, validation, source_validation, choice, source_info,
                   target_info, classes)

    @property
    def num_classes(self) -> int:
        return self.source.num_classes

    @property
    def format(self) -> ImageFormat:
        return self.source.format

    def record(self) -> dict:
        """What metrics.json says about the data (beside ``image_format``): the domains'
        keys and layouts, how classes matched, the sets' sizes and which are streamed."""
        record: dict = {}
        for role, info in (("source", self.source_info), ("target", self.target_info)):
            if info is not None:
                record[role] = {"key": info.key, "layout": info.layout, "test_split": "drawn (splits.json)"
                                if info.drawn_test else "given", "native": info.summary.describe()}
        if self.classes is not None:
            record["classes"] = self.classes.as_dict()
        record["sizes"] = {"source_train": len(self.source), "target_train": len(self.target_train),
                           "target_test": len(self.target_test) if self.target_test is not None else 0,
                           "streamed": [s.name for s in self.sets() if s.streamed]}
        return record

    def sets(self) -> list[ImageSet]:
        return [s for s in (self.source, self.target_train, self.target_test, self.target_validation) if s is not None]


def resolve_format(config: TransferConfig, source: DomainInfo, target: DomainInfo) -> FormatChoice:
    """The run's format: ``config``'s where it gives one, the rest from the two domains."""
    summaries = {config.source: source.summary}
    summaries.setdefault(config.target, target.summary)
    return infer_format(summaries, config.image_size, config.channels, config.fit, config.preferred_image_size())


def load_splits(domain: str, fmt: ImageFormat, data: DataOptions, splits: SplitOptions = SplitOptions()
                ) -> tuple[ImageSet, ImageSet]:
    """A domain's train and test splits (the test split drawn, never overlapping, where the
    layout has none); of the source, the test split is the held-out labelled images of the
    validation scores."""
    return load_split(domain, "train", fmt, data, splits), load_split(domain, "test", fmt, data, splits)


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
        callbacks: Sequence[Callback] = (),
    ) -> None:
        # Everything downstream (networks, stage names) uses the resolved format.
        self.config = config.with_format(data.format)
        self.format = data.format
        self.data = data
        self.stages = stages
        self.run = run
        self.data_options = data_options
        self.progress_bar = progress_bar
        self.callbacks = list(callbacks)
        self.distributed = setup(config.acceleration.device)
        self.device = self.distributed.device
        self.method = get_method(config.method)
        #: how the classifier starts: the config's ``init``, else the method's own choice
        self.init = config.init or self.method.default_init
        self._gan: PretrainedGan | None = None
        self._backbone_weights: BackboneWeights | None = None
        self._generated_source: ImageSet | None = None
        self.notes: dict[str, object] = {}

    # -- data ----------------------------------------------------------------
    def stream(self, images: ImageSet, batch_size: int, stream: Stream | str) -> BatchStream:
        """Batches ``(images, labels)`` of ``images`` in the order of ``stream`` (one of
        :class:`Stream`, or a name of the method's own choosing: ``"entropy-target"``);
        this rank's slices of them under torchrun."""
        return self.distributed.stream((images.images, images.labels), batch_size, seed=self._seed(stream))

    def images_only(self, images: ImageSet, batch_size: int, stream: Stream | str,
                    name: str = "batch_size") -> BatchStream:
        """Batches ``(images,)`` of ``images``, their labels left out (e.g. the unlabelled target);
        this rank's slices of them under torchrun."""
        return self.distributed.stream((images.images,), batch_size, seed=self._seed(stream), name=name)

    def _seed(self, stream: Stream | str) -> int:
        if isinstance(stream, str):
            return named_stream_seed(self.config.seed, stream)
        return self.config.seed * 100 + int(stream)

    def self_training_stream(self) -> BatchStream | None:
        """The unlabelled target batches of self-training, or None when ``self_train`` is off."""
        config = self.config
        if not config.self_train:
            return None
        return self.images_only(self.unlabelled_target(), config.teacher.batch_size, Stream.SELF_TRAINING,
                                "teacher.batch_size")

    def unlabelled_target(self) -> ImageSet:
        """The target images methods learn from without their labels: the target train set, or
        with ``unlabelled_target: false`` the k labelled images alone (few-shot adaptation)."""
        return self.data.target_train if self.config.unlabelled_target else self.data.target_labelled

    def unlabelled_target_key(self) -> Any:
        """Names :meth:`unlabelled_target` in stage identities (the k images depend on the seed;
        the train set less the held-out validation images is another set than the whole)."""
        config = self.config
        if config.unlabelled_target and not config.validation_per_class:
            return self.target_key  # the name every stage of a whole train set has had
        key: dict[str, Any] = {"domain": self.target_key}
        if config.validation_per_class:  # the k labelled images are drawn from what it leaves, too
            key["validation_held_out"] = config.validation_per_class
        if not config.unlabelled_target:
            key["labelled_only"] = {"k": config.k, "seed": config.seed}
        return key

    def adaptation_source(self) -> ImageSet:
        """The labelled source images adaptation learns from: the source train set, or with
        ``source_free`` ``generated_source_per_class`` images of each class from the source
        conditional GAN, labelled by the class each was generated for (drawn once per run)."""
        if not self.config.source_free:
            return self.data.source
        if self._generated_source is None:
            gan = self.source_gan()
            if not gan.generator.config.conditional:
                raise ConfigError("source_free adapts with labelled generated images: the source GAN must be "
                                  "conditional (gan.conditional, or a conditional --gan-checkpoint)")
            config = self.config
            generated = generated_set(
                gan.generator, self.data.source.class_names, config.generated_source_per_class,
                config.shared_seed + GENERATED_SOURCE_SEED, self.format, f"{config.source}[generated]")
            # Judged at the source, with what travels (the source classifier): a collapsed
            # generator's labels do not hold, and nothing downstream would say so. The fresh
            # network the classifier is loaded into draws weights: the run's numbers must not move.
            with preserved_randomness():
                agreement = evaluate_classifier(self.source_classifier(), generated).accuracy
            if (warning := agreement_warning(agreement, generated.num_classes, len(generated))) is not None:
                notice(warning)
            self.notes["source_free"] = {"generated_per_class": config.generated_source_per_class,
                                         "source_classifier_agreement": agreement}
            self._generated_source = generated
        return self._generated_source

    def adaptation_source_key(self) -> Any:
        """Names :meth:`adaptation_source` in stage identities."""
        config = self.config
        if not config.source_free:
            return self.source_key
        gan = self.source_gan()
        return {"generated_from": self.source_key, "gan": comparable(to_dict(gan.config)), "gan_step": gan.step,
                "per_class": config.generated_source_per_class, "seed": config.shared_seed + GENERATED_SOURCE_SEED}

    def labelled_sources(self, include_source: bool = False) -> list[LabelledSource]:
        """The k labelled target images, and the source set when asked or when ``source_weight > 0``."""
        config, data = self.config, self.data
        sources = []
        if config.k > 0:
            sources.append(LabelledSource(TARGET_LABELLED, self.stream(data.target_labelled,
                                                                       config.training.batch_size,
                                                                       Stream.TARGET_LABELLED)))
        if include_source or config.source_weight > 0:
            weight = config.source_weight if config.source_weight > 0 else 1.0
            sources.append(LabelledSource("source", self.stream(self.adaptation_source(), config.training.batch_size,
                                                                Stream.SOURCE), weight))
        return sources

    # -- shared stages -------------------------------------------------------
    @property
    def source_key(self) -> str:
        """The source's content key (path or name plus a fingerprint) that names its stages."""
        return self.data.source_info.key if self.data.source_info else self.config.source

    @property
    def target_key(self) -> str:
        return self.data.target_info.key if self.data.target_info else self.config.target

    def source_classifier(self) -> Classifier:
        """A fresh copy of the shared source classifier (trained on first use, from :meth:`new_classifier`)."""
        config = self.config
        saved = self.stages.source_classifier(
            self.data.source, self.source_key, self.new_classifier,
            config.source_training, config.shared_seed, config.acceleration.device, self.progress_bar,
            distributed=self.distributed, acceleration=config.acceleration, monitor=self.data.source_validation,
            callbacks=self.callbacks,
        )
        return saved.model

    def source_gan(self) -> PretrainedGan:
        """The source GAN: ``gan_checkpoint`` if given, else the shared pretraining stage."""
        if self._gan is None:
            config = self.config
            if config.gan_checkpoint:
                self._gan = load_gan(config.gan_checkpoint, self.device)
            else:
                self._gan = self.stages.source_gan(config.gan_config(), self.data_options, self.progress_bar,
                                                   self.callbacks, source_key=self.source_key)
            if len(self._gan.class_names) != self.data.num_classes:
                raise ConfigError(
                    f"the GAN knows {len(self._gan.class_names)} classes, the domains have {self.data.num_classes}"
                )
            if self._gan.config.format.shape != self.format.shape:
                raise ConfigError(
                    f"the GAN makes {self._gan.config.format.describe()} images, this run's format is "
                    f"{self.format.describe()}: give --image-size and --channels to match it"
                )
        return self._gan

    def stages_needed(self, method: Method) -> list[str]:
        """The stages ``method`` reads in this run, in the order they are trained: those its start
        needs (:attr:`init`, and both source stages for ``source_free``), then its own."""
        needed = []
        if self.config.source_free:
            needed += ["source_classifier", "source_gan"]
        needed += {"source": ["source_classifier"], "gan": ["source_gan"]}.get(self.init, [])
        return list(dict.fromkeys([*needed, *method.stages]))

    def train_stages(self, names: Sequence[str]) -> None:
        """Train (or find cached) each of the stages ``names`` (:data:`~.registry.STAGES`), leaving
        the run's random state as it was: what a method's ``build`` draws is the same whether
        the stages were trained here or long ago."""
        for name in names:
            with preserved_randomness():
                STAGES[name](self)

    # -- the classifier ------------------------------------------------------
    def new_classifier(self) -> Classifier:
        """A classifier of the run's config that has learnt nothing here yet: random weights,
        its torchvision backbone started from ``classifier.backbone_weights`` when given
        (the trunk config then records their provenance, which also names the source stage)."""
        config = self.config
        weights = self.backbone_weights()
        if weights is None:
            return Classifier(config.classifier_config(self.data.num_classes))
        trunk = replace(config.trunk(), pretrained=weights.provenance)
        classifier = Classifier(config.classifier_config(self.data.num_classes, trunk))
        try:
            classifier.trunk.load_backbone_state(weights.state)
        except ConfigError as error:
            raise ConfigError(f"classifier.backbone_weights={config.classifier.backbone_weights}: {error}") from None
        return classifier

    def backbone_weights(self) -> BackboneWeights | None:
        """The state dict ``classifier.backbone_weights`` names (read once), or None without one."""
        options = self.config.classifier
        if options.backbone_weights is None:
            return None
        if self._backbone_weights is None:
            self._backbone_weights = read_backbone_weights(options.backbone, options.backbone_weights,
                                                           self.data_options.download, "classifier.backbone_weights")
        return self._backbone_weights

    def critic_trunk(self) -> TrunkConfig:
        """The source GAN critic's trunk config, known without pretraining the GAN."""
        config = self.config
        if self._gan is not None or config.gan_checkpoint:
            return self.source_gan().discriminator.config.trunk
        return config.gan_config().discriminator_config(self.data.num_classes).trunk

    def check_gan_init(self) -> None:
        """Raise :class:`ConfigError` unless ``init: gan`` can start this run's classifier
        from the GAN critic's trunk (before the GAN is trained or adapted)."""
        options, critic = self.config.classifier, self.critic_trunk()
        # The classifier takes the critic's whole trunk; a backbone asked for must be that one
        # (the default, conv, stands for the library's own trunks, conv or sngan).
        if options.backbone not in (CONV, critic.backbone):
            raise ConfigError(
                f"init=gan needs the classifier's backbone to match the GAN critic's trunk (critic: "
                f"{critic.description}, classifier: {options.backbone}); use --classifier-backbone "
                f"{critic.backbone} or --init source"
            )
        if options.backbone_weights is not None:
            raise ConfigError("init=gan starts the trunk from the GAN critic, which would replace "
                              "classifier.backbone_weights; drop one of them")

    def initial_classifier(self, init: str | None = None) -> tuple[Classifier, list[dict]]:
        """The classifier to train (started as ``init``, default :attr:`init`) and its
        parameter groups: layers transferred from elsewhere (a source classifier's or GAN
        critic's trunk, a pretrained backbone) learn ``trunk_lr_scale`` times slower than
        the layers that start here."""
        config = self.config
        init = init or self.init
        if init == "random":
            classifier = self.new_classifier()
            if config.classifier.backbone_weights is None:
                return classifier, [{"params": list(classifier.parameters())}]
            # As in Transfer-Learning-Library: the new bottleneck learns at the head's rate.
            return classifier, self._parameter_groups(classifier, list(classifier.trunk.backbone.parameters()))
        if init == "source":
            classifier = self.source_classifier().train()
        else:
            self.check_gan_init()
            discriminator = self.source_gan().discriminator
            classifier = Classifier(config.classifier_config(self.data.num_classes, discriminator.config.trunk))
            classifier.trunk.load_state_dict(discriminator.trunk.state_dict())
            self.notes["gan_trunk"] = to_dict(discriminator.config.trunk)
            features = config.options.gan_features
            if features.freeze_trunk or features.linear_probe:
                classifier.freeze_trunk(statistics=features.linear_probe)
        return classifier, self._parameter_groups(classifier)

    def _parameter_groups(self, classifier: Classifier, transferred: list[nn.Parameter] | None = None) -> list[dict]:
        """The head and every other new layer at the training lr, ``transferred`` (default:
        the whole trunk) at ``trunk_lr_scale`` times it, or frozen when that is 0."""
        lr = self.config.training.optimizer.lr
        transferred = list(classifier.trunk.parameters()) if transferred is None else transferred
        moved = {id(p) for p in transferred}
        new = [p for p in classifier.trunk.parameters() if id(p) not in moved and p.requires_grad]
        trunk = [p for p in transferred if p.requires_grad]
        groups = [{"params": list(classifier.head.parameters()) + new, "lr": lr}]
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
                "unlabelled": self.self_training_stream(), "teacher": config.teacher}


register_stage("source_classifier", TransferContext.source_classifier)
register_stage("source_gan", TransferContext.source_gan)
