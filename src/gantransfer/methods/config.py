"""The configuration of one transfer run (``gantransfer transfer``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..config import CONFIG_TYPE, INLINE
from ..data import ImageFormat, SplitOptions
from ..data.formats import check_format_fields, resolved_format
from ..engine.acceleration import Acceleration
from ..errors import ConfigError
from ..models import ClassifierConfig, TrunkConfig
from ..models.trunk import CONV, check_backbone
from ..training.pretrain import PretrainConfig
from ..training.self_training import TeacherOptions
from ..training.supervised import ClassifierTraining
from .registry import method_options, method_options_type

INITS = ("random", "source", "gan")


#: the input side of ImageNet-pretrained backbones, which an inferred format takes
PRETRAINED_BACKBONE_SIZE = 224
#: the side a config's classifier is checked at before the data give the real one
PROVISIONAL_SIZE = 32


@dataclass(frozen=True)
class ClassifierOptions:
    """The classifier every method trains (the same network for all, so tables compare methods).

    Args:
        width, feature_dim, norm: the trunk, as in :class:`~gantransfer.models.TrunkConfig`;
            the defaults equal the default GAN discriminator's trunk, so its weights fit.
        dropout: before the linear head.
        backbone: the trunk's network: conv (the library's small conv trunk, the
            GAN critic's) or a torchvision classification model (resnet18, resnet34,
            resnet50, ...) with its final layer removed, then a bottleneck of size feature_dim.
        backbone_weights: a torchvision backbone's starting weights: imagenet
            (torchvision's default weights, read from torch's hub cache) or the
            path of a state dict of the torchvision model (.pth, .pt, .safetensors);
            unset: random. The trunk then maps its inputs to ImageNet's mean and std.
    """

    width: int = 32
    feature_dim: int = 256
    norm: str = "batch"
    dropout: float = 0.0
    backbone: str = CONV
    backbone_weights: str | None = None

    def __post_init__(self) -> None:
        check_backbone(self.backbone)
        if self.backbone_weights is not None:
            if not self.backbone_weights.strip():
                raise ConfigError("backbone_weights: give 'imagenet' or a file path (leave it unset for random weights)")
            if self.backbone == CONV:
                raise ConfigError("backbone_weights needs a torchvision backbone (e.g. --classifier-backbone "
                                  "resnet18); the conv backbone has no pretrained weights")


def _source_training() -> ClassifierTraining:
    return ClassifierTraining(steps=4000, batch_size=128)


def _target_training() -> ClassifierTraining:
    return ClassifierTraining(steps=1500, batch_size=64)


def _gan() -> PretrainConfig:
    return PretrainConfig(conditional=True, objective="minimax", epochs=10, quality_samples=0)


#: fields of the source GAN's config that follow the transfer run (:meth:`TransferConfig.gan_config`),
#: with where they come from; they are not options of ``gan``
TIED_GAN_FIELDS = {
    "source": "source",
    "image_size": "image_size",
    "channels": "channels",
    "fit": "fit",
    "test_fraction": "test_fraction",
    "split_seed": "split_seed",
    "seed": "stage_seed, or seed",
    "acceleration": "--device, --precision, --channels-last, --compile",
}


@dataclass(frozen=True)
class TransferConfig:
    """Everything that defines one transfer run.

    Args:
        source, target: domains (``mnist``, ``usps`` or paths).
        method: a registered method (``gantransfer transfer --help`` lists them).
        k: labelled target images per class (0: none).
        seed: seeds the k-shot draw, weights, data order and augmentation.
        init: how the classifier starts: ``random``, ``source`` (the source
            classifier), ``gan`` (the source GAN's discriminator trunk); None:
            the method's own choice. Lets methods compose (gan-augment on a gan trunk).
        self_train: add self-training (mean teacher) on the unlabelled target train images.
        source_weight: also train on the labelled source images, with this loss weight (0: not).
        trunk_lr_scale: learning rate of transferred layers relative to the head's:
            a trunk started from a source classifier or a GAN critic, or a new
            classifier's pretrained backbone (``classifier.backbone_weights``).
        image_size, channels: the image format of both domains; None (default):
            inferred from the domains (colour if either is colour, the larger
            typical side, see :mod:`gantransfer.data.formats`), printed, recorded
            in metrics.json and stored resolved in the run's config.
        fit: how non-square images are made square: ``crop`` (short side
            resized, centre cut), ``pad`` (long side resized, black bars) or
            ``mnist-box`` (MNIST's digit normalisation: a 20/28 box centred by
            centre of mass, for small digit images beside MNIST).
        test_fraction, split_seed: the test split drawn (stratified, seeded) for a
            domain whose layout has none (one folder of class sub-folders or one
            .npz); the k labelled, unlabelled and validation images never come from it.
        class_map: YAML or JSON file mapping target class names to source class
            names (classes are matched by name; this renames those that differ).
        classifier: the classifier network.
        training: the target classifier's training.
        source_training: the source classifier's training (a shared stage).
        teacher: the teacher of self-training and the loss that ties the classifier to it (when ``self_train``).
        gan_checkpoint: a pretrained GAN (run folder or .pt); None: pretrain ``gan``
            as a shared stage.
        gan: how the source GAN is pretrained when no checkpoint is given.
        options: the option groups that only some methods read, each registered by the
            module of a method that reads it (:func:`~gantransfer.methods.registry.register_options`):
            ``options.feature_alignment`` (``dann``, ``adda``, ``cycada``), ``options.translation``
            (``pixel-da``, ``cycada``), ``options.gan_augment``, ``options.gan_features``
            (``gan-features``, ``init: gan``), ... Their keys sit at the top level of a YAML file
            or stored config (``feature_alignment: {domain_weight: 0.3}``), their flags too
            (``--feature-alignment-domain-weight``).
        stage_seed: seed of the shared source stages; None: the run's seed.
        validation_per_class: hold out this many labelled target train images
            per class (one fixed draw) for tuning; they are never trained on, and
            metrics.json then also reports target_validation_accuracy.
        acceleration: the device (default ``auto``: a GPU when there is one) and the
            speed options, for every network the run trains (its shared stages too).
        unlabelled_target: learn from the unlabelled target train images; false: the
            k labelled ones are the only target images.
        source_free: adapt with images of the source cGAN in place of the source images.
        generated_source_per_class: generated source images per class (source_free).

    A run with ``unlabelled_target: false`` is few-shot adaptation: every method that
    learns from target images without their labels (self-training, AdaBN, DANN, ADDA,
    the translators of pixel-da and cycada) sees only the k labelled ones.
    ``source_free`` is adaptation where the source images cannot travel to the target
    (hospitals share models, not scans): the source classifier and the source GAN are
    trained at the source, and every use of the source images in adaptation (source
    replay, DANN's and ADDA's source batches, pixel-da's translated source) reads
    ``generated_source_per_class`` images of each class from the conditional GAN
    instead, their labels those they were generated for; the validation scores then
    have no source images either.

    Under ``torchrun``, every batch size is a global batch, split evenly over
    the processes (see :mod:`gantransfer.engine.distributed`).
    """

    source: str = "mnist"
    target: str = "usps"
    method: str = "finetune"
    k: int = 10
    seed: int = 0
    init: str | None = None
    self_train: bool = False
    source_weight: float = 0.0
    trunk_lr_scale: float = 0.1
    image_size: int | None = None
    channels: int | None = None
    fit: str = "crop"
    test_fraction: float = 0.2
    split_seed: int = 0
    class_map: str | None = None
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    training: ClassifierTraining = field(default_factory=_target_training)
    source_training: ClassifierTraining = field(default_factory=_source_training)
    teacher: TeacherOptions = field(default_factory=TeacherOptions)
    gan_checkpoint: str | None = None
    gan: PretrainConfig = field(default_factory=_gan)
    # Its type is made from the registered groups when asked for (config.field_types).
    options: Any = field(default_factory=method_options,
                         metadata={INLINE: True, CONFIG_TYPE: method_options_type})
    stage_seed: int | None = None
    validation_per_class: int = 0
    acceleration: Acceleration = field(default_factory=Acceleration, metadata={"flatten": True})
    unlabelled_target: bool = True
    source_free: bool = False
    generated_source_per_class: int = 1000

    def __post_init__(self) -> None:
        default_gan = _gan()
        # The resolved format and the run's acceleration are written into gan too (stored configs have them
        # there, with the defaults of their day): allowed when equal to the run's.
        tied = [name for name in TIED_GAN_FIELDS if getattr(self.gan, name) != getattr(default_gan, name)
                and not (name in ("image_size", "channels", "acceleration")
                         and getattr(self.gan, name) == getattr(self, name))]
        if tied:
            raise ConfigError(f"gan.{tied[0]} is set by the run ({TIED_GAN_FIELDS[tied[0]]}), not by gan options")
        if not self.unlabelled_target and self.k < 1:
            raise ConfigError("unlabelled_target: false leaves the k labelled images as the only target images: "
                              "k must be >= 1")
        if self.generated_source_per_class < 1:
            raise ConfigError(f"generated_source_per_class must be >= 1, got {self.generated_source_per_class}")
        if self.k < 0 or self.validation_per_class < 0:
            raise ConfigError(f"k and validation_per_class must be >= 0, got {self.k}, {self.validation_per_class}")
        if self.init is not None and self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.source_weight < 0 or self.trunk_lr_scale < 0:
            raise ConfigError("source_weight and trunk_lr_scale must be >= 0")
        check_format_fields(self)
        self.splits  # noqa: B018  (validates test_fraction)
        # Checked with a provisional format while it is left to the data (and again once inferred).
        provisional = ImageFormat(self.image_size or self.preferred_image_size() or PROVISIONAL_SIZE,
                                  self.channels or 3, self.fit)
        try:
            self.trunk(provisional)
        except ConfigError as error:
            raise ConfigError(f"classifier: {error}") from None

    def with_options(self, **groups: Any) -> "TransferConfig":
        """This config with the given option groups (by name) replaced:
        ``config.with_options(feature_alignment=DomainAdaptationOptions(domain_weight=0.3))``."""
        return replace(self, options=replace(self.options, **groups))

    @property
    def format(self) -> ImageFormat:
        """The image format of the run; only once resolved from the data (:meth:`with_format`,
        done by :func:`~gantransfer.methods.transfer.transfer`) or given."""
        return resolved_format(self)

    @property
    def splits(self) -> SplitOptions:
        return SplitOptions(self.test_fraction, self.split_seed)

    def preferred_image_size(self) -> int | None:
        """The classifier's usual input side, which an inferred format takes (None: the
        data decide): 224 for a torchvision backbone with pretrained weights (the side
        its ImageNet features were learnt at); trunks trained here from scratch have none."""
        return PRETRAINED_BACKBONE_SIZE if self.classifier.backbone_weights else None

    def with_format(self, fmt: ImageFormat) -> "TransferConfig":
        """This config with the image format ``fmt``, in its own fields and the GAN's
        (which holds it too), so stored and resumed runs compare equal."""
        return replace(self, image_size=fmt.size, channels=fmt.channels, fit=fmt.fit,
                       gan=replace(self.gan, image_size=fmt.size, channels=fmt.channels))

    @property
    def shared_seed(self) -> int:
        return self.seed if self.stage_seed is None else self.stage_seed

    def trunk(self, fmt: ImageFormat | None = None) -> TrunkConfig:
        """The classifier's trunk (in the run's format, or ``fmt``); pretrained weights come with
        ImageNet input normalisation."""
        options, fmt = self.classifier, fmt or self.format
        normalization = "imagenet" if options.backbone_weights else "none"
        return TrunkConfig(fmt.channels, fmt.size, options.width, options.feature_dim, options.norm,
                           backbone=options.backbone, input_normalization=normalization)

    def classifier_config(self, num_classes: int, trunk: TrunkConfig | None = None) -> ClassifierConfig:
        return ClassifierConfig(trunk or self.trunk(), num_classes, self.classifier.dropout)

    def gan_config(self) -> PretrainConfig:
        """The source GAN's config, tied to this run's source, format (as resolved for the
        run: a transfer resolves it before it asks), source split, stage seed and acceleration."""
        return replace(self.gan, source=self.source, image_size=self.image_size, channels=self.channels,
                       fit=self.fit, test_fraction=self.test_fraction, split_seed=self.split_seed,
                       seed=self.shared_seed, acceleration=self.acceleration)


