"""Stage 1 of the founding method: pretrain a GAN on a labelled source domain.

``pretrain(PretrainConfig(source="mnist", objective="wgan-gp", conditional=True), out="runs/x")``
trains a generator and a discriminator, keeps an exponential moving average
(EMA) of the generator, and writes a run folder (see :mod:`.run_folder`)
whose checkpoints later stages load with :func:`load_gan`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from ..config import from_dict, to_dict
from ..data import (BatchStream, DataOptions, FormatChoice, ImageFormat, ImageSet, SplitOptions, describe_domain,
                    infer_format)
from ..data.augment import diff_augment
from ..data.classes import require_every_class
from ..data.domains import load_split, write_drawn_splits
from ..data.formats import check_format_fields, resolved_format
from ..engine.acceleration import Acceleration, MixedPrecision, compiled, to_channels_last
from ..engine.checkpoint import load_checkpoint
from ..engine.distributed import DistributedContext, setup
from ..engine.logger import RunLogger
from ..engine.run_folder import RunFolder
from ..engine.run_kinds import GAN as GAN_RUN
from ..engine.run_kinds import check_folder
from ..engine.seeding import preserved_randomness, seed_everything
from ..engine.trainer import Callback, FitResult, LoopConfig, Progress, Trainer, TrainingTask
from ..errors import CheckpointError, ConfigError, first_line
from ..evaluation.gan_quality import GanQuality
from ..evaluation.plots import save_image_grid
from ..losses.adversarial import clip_weights_
from ..models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, TrunkConfig
from ..models.architecture import check_architecture
from ..models.trunk import CONV, SNGAN
from ..notice import notice
from ..objectives import GanObjective, OptimizerConfig, get_objective
from .reference import gan_quality_for_domain

KIND = "gan"


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a GAN pretraining run.

    Args:
        source: the source domain (``mnist``, ``usps`` or a path).
        objective: ``minimax``, ``wgan``, ``wgan-gp``, ``hinge`` or ``least-squares``.
        architecture: ``dcgan`` (Radford et al. 2016) or ``resnet`` (SNGAN,
            Miyato et al. 2018: residual blocks, a spectrally normalised
            discriminator, the hinge objective's network). Either way the
            networks get one block per doubling of the image side.
        conditional: feed labels to G and D (cGAN).
        image_size, channels: the image format the source is brought to; None
            (default): taken from the source's images (see :mod:`gantransfer.data.formats`),
            printed, and stored resolved in the run's config.
        fit: how non-square images are made square: ``crop`` (centre), ``pad``,
            or ``mnist-box`` (MNIST's digit normalisation).
        test_fraction, split_seed: the test split drawn (stratified, seeded) for a
            source that has none (a folder of class sub-folders or one .npz).
        latent_dim: noise dimensions.
        generator_width, discriminator_width: channel widths.
        feature_dim: length of the discriminator's feature vector.
        critic_norm: ``batch``/``layer``/``none``; None takes the objective's
            default (``none`` for resnet, which is spectrally normalised instead).
        conditioning: ``projection`` or ``concat`` (how D sees labels).
        batch_size: real images per discriminator update.
        epochs: passes over the source set (real images seen by D); used when ``steps`` is 0.
        steps: generator updates; overrides ``epochs`` when > 0.
        lr_generator, lr_discriminator, n_critic: None takes the objective's defaults.
        ema_decay: decay of the generator's moving average, in [0, 1).
        freeze_discriminator_blocks: keep the lowest this many of the
            discriminator trunk's stages fixed (FreezeD, Mo et al. 2020); for
            adapting a pretrained GAN to few images. The trunk has one stage
            per down-sampling block plus its projection: 4 at 28 and 32 px,
            5 at 64, 6 at 128.
        diff_augment: apply differentiable augmentation to every discriminator
            input (DiffAugment, Zhao et al. 2020); for few images.
        seed: seeds weights, noise and data order.
        eval_every: steps between evaluations (sample grid, quality metrics).
        quality_samples: images generated per quality evaluation (0: grids only).
        acceleration: the device (default ``auto``: a GPU when there is one) and
            the speed options (see :class:`~gantransfer.engine.acceleration.Acceleration`).

    Under ``torchrun``, ``batch_size`` is the global batch, split evenly over
    the processes (see :mod:`.distributed`).
    """

    source: str = "mnist"
    objective: str = "minimax"
    architecture: str = "dcgan"
    conditional: bool = False
    image_size: int | None = None
    channels: int | None = None
    fit: str = "crop"
    test_fraction: float = 0.2
    split_seed: int = 0
    latent_dim: int = 64
    generator_width: int = 64
    discriminator_width: int = 32
    feature_dim: int = 256
    critic_norm: str | None = None
    conditioning: str = "projection"
    batch_size: int = 64
    epochs: float = 10.0
    steps: int = 0
    lr_generator: float | None = None
    lr_discriminator: float | None = None
    n_critic: int | None = None
    ema_decay: float = 0.999
    freeze_discriminator_blocks: int = 0
    diff_augment: bool = False
    seed: int = 0
    eval_every: int = 500
    quality_samples: int = 2000
    acceleration: Acceleration = field(default_factory=Acceleration, metadata={"flatten": True})

    def __post_init__(self) -> None:
        get_objective(self.objective)  # raises for unknown names
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.steps < 0 or self.epochs < 0 or (self.steps == 0 and self.epochs <= 0):
            raise ConfigError("give a positive number of epochs or steps")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.n_critic is not None and self.n_critic < 1:
            raise ConfigError(f"n_critic must be >= 1, got {self.n_critic}")
        check_architecture(self.architecture)
        if self.architecture == "sngan" and self.critic_norm not in (None, "none"):
            raise ConfigError(f"critic_norm must be none (or unset) with architecture resnet, whose discriminator "
                              f"is spectrally normalised instead; got {self.critic_norm!r}")
        check_format_fields(self)
        self.splits  # noqa: B018  (validates test_fraction)
        if self.image_size is not None and self.channels is None:
            replace(self, channels=1)  # the networks follow the size alone: check them now
        elif self.image_size is not None:  # else checked once the format is inferred (with_format)
            self.generator_config(0)  # raises for image sizes and widths the networks cannot take
            stages = self.discriminator_config(0).trunk.num_stages
            if not 0 <= self.freeze_discriminator_blocks <= stages:
                raise ConfigError(
                    f"freeze_discriminator_blocks must be in 0..{stages} (the discriminator trunk at {self.image_size} px "
                    f"has {stages} stages: {stages - 1} down-sampling blocks and the projection), "
                    f"got {self.freeze_discriminator_blocks}"
                )
        if self.quality_samples < 0 or self.eval_every < 0:
            raise ConfigError("quality_samples and eval_every must be >= 0")

    @property
    def spec(self):
        return get_objective(self.objective)

    @property
    def format(self) -> ImageFormat:
        """The image format; only once resolved (:meth:`with_format`, done by :func:`pretrain`)."""
        return resolved_format(self)

    @property
    def splits(self) -> SplitOptions:
        return SplitOptions(self.test_fraction, self.split_seed)

    def with_format(self, fmt: ImageFormat) -> "PretrainConfig":
        """This config with its image format set to ``fmt``."""
        return replace(self, image_size=fmt.size, channels=fmt.channels, fit=fmt.fit)

    @property
    def critic_updates(self) -> int:
        return self.n_critic if self.n_critic is not None else self.spec.n_critic

    def optimizer(self, lr: float | None) -> OptimizerConfig:
        default = self.spec.optimizer
        return default if lr is None else replace(default, lr=lr)

    def generator_config(self, num_classes: int) -> GeneratorConfig:
        fmt = self.format
        return GeneratorConfig(
            latent_dim=self.latent_dim,
            channels=fmt.channels,
            image_size=fmt.size,
            width=self.generator_width,
            num_classes=num_classes if self.conditional else 0,
            architecture=self.architecture,
        )

    def discriminator_config(self, num_classes: int) -> DiscriminatorConfig:
        fmt = self.format
        trunk = TrunkConfig(
            channels=fmt.channels,
            image_size=fmt.size,
            width=self.discriminator_width,
            feature_dim=self.feature_dim,
            norm=self.critic_norm or ("none" if self.architecture == "sngan" else self.spec.critic_norm),
            backbone=SNGAN if self.architecture == "sngan" else CONV,
        )
        return DiscriminatorConfig(trunk, num_classes if self.conditional else 0, self.conditioning)

    def total_steps(self, source_size: int) -> int:
        """Generator updates: ``steps``, or enough for ``epochs`` passes of real images."""
        if self.steps:
            return self.steps
        return max(1, math.ceil(self.epochs * source_size / (self.batch_size * self.critic_updates)))


def ema_warmup_rate(decay: float, num_averaged: int) -> float:
    """The EMA's decay after ``num_averaged`` updates: ``min(decay, (1 + n) / (10 + n))``.

    A fixed 0.999 would keep the average near the random initial weights
    for thousands of steps; the warm-up lets it follow early training.
    """
    return min(decay, (1.0 + num_averaged) / (10.0 + num_averaged))


def ema_with_warmup(decay: float):
    """A multi-tensor EMA update with :func:`ema_warmup_rate` (``AveragedModel``'s ``multi_avg_fn``).

    ``average(averaged, current, num_averaged)`` updates the list ``averaged`` in
    place, ``averaged * rate + current * (1 - rate)``, with torch's ``_foreach``
    operations (one kernel launch per list on a GPU, and one read of the counter per
    update instead of one per parameter). Integer buffers (BatchNorm's batch count)
    are averaged as ``AveragedModel`` averages them with a per-tensor function.
    """

    def average(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        rate = ema_warmup_rate(decay, int(num_averaged))
        if averaged and averaged[0].is_floating_point():
            torch._foreach_mul_(averaged, rate)
            torch._foreach_add_(averaged, torch._foreach_mul(current, 1.0 - rate))
            return
        for mean, value in zip(averaged, current):
            mean.copy_(mean * rate + value * (1.0 - rate))

    return average


class GanTask(TrainingTask):
    """One step = ``n_critic`` discriminator updates, then one generator update.

    ``generator`` and ``discriminator`` are the plain networks (what
    checkpoints hold); the objective calls them through whatever
    ``distributed`` and the config's acceleration options wrap around them
    (DistributedDataParallel, channels-last, ``torch.compile``).
    """

    kind = KIND

    def __init__(
        self,
        config: PretrainConfig,
        class_names: tuple[str, ...],
        stream: BatchStream,
        device,
        init: "PretrainedGan | None" = None,
        distributed: DistributedContext | None = None,
    ) -> None:
        """``init``: start from a pretrained GAN's weights (TransferGAN, Wang et al.
        2018) instead of random ones; its architecture must match ``config``.
        ``distributed``: train data-parallel (``stream`` must then be this rank's slice)."""
        self.config = config
        self.class_names = class_names
        self.stream = stream
        self.device = device
        num_classes = len(class_names)
        self.generator = Generator(config.generator_config(num_classes))
        self.discriminator = Discriminator(config.discriminator_config(num_classes))
        if init is not None:
            self.generator.load_state_dict(init.generator.state_dict())
            self.discriminator.load_state_dict(init.discriminator.state_dict())
        self.generator.to(device)
        self.discriminator.to(device)
        for stage in self.discriminator.trunk.stages()[: config.freeze_discriminator_blocks]:
            stage.requires_grad_(False)
        self.ema = AveragedModel(self.generator, multi_avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True)
        augment = diff_augment if config.diff_augment else None
        self.precision = MixedPrecision(config.acceleration.precision, device)
        self.track(stream=self.stream)
        if self.precision.scaled:  # float16's loss scalers; nothing to keep otherwise
            self.track(loss_scalers=self.precision)
        self.gan_objective = GanObjective(config.spec, *self._training_networks(distributed or DistributedContext()),
                                          augment)
        self.g_optimizer = config.optimizer(config.lr_generator).build(self.generator.parameters())
        trainable = [p for p in self.discriminator.parameters() if p.requires_grad]
        self.d_optimizer = config.optimizer(config.lr_discriminator).build(trainable)
        # Fixed noise and labels, so that successive sample grids are comparable.
        fixed = torch.Generator().manual_seed(config.seed + 12345)
        rows = num_classes if config.conditional else 8
        self.grid_columns = 8
        self.fixed_noise = torch.randn(rows * 8, config.latent_dim, generator=fixed).to(device)
        self.fixed_labels = torch.arange(rows).repeat_interleave(8).to(device) if config.conditional else None

    def _training_networks(self, distributed: DistributedContext) -> tuple[nn.Module, nn.Module]:
        """The networks as a training step calls them (each wrapper only where it applies)."""
        acceleration, device = self.config.acceleration, self.device
        generator = compiled(distributed.wrap(to_channels_last(self.generator, acceleration, device)),
                             acceleration, device)
        discriminator = distributed.wrap(to_channels_last(self.discriminator, acceleration, device))
        if not self.config.spec.gradient_penalty:  # torch.compile does not support its double backward
            discriminator = compiled(discriminator, acceleration, device)
        return generator, discriminator

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator, "generator_ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.g_optimizer, "discriminator": self.d_optimizer}

    @property
    def sampling_generator(self) -> Generator:
        """The generator to sample from and to judge: the moving average of the weights."""
        return self.ema.module

    def train_step(self, progress: Progress) -> dict[str, float]:
        spec = self.gan_objective.spec
        logs: dict[str, float] = {}
        for _ in range(self.config.critic_updates):
            real, labels = (t.to(self.device) for t in next(self.stream))
            with self.precision.autocast():
                losses = self.gan_objective.discriminator_losses(real, labels)
            self.d_optimizer.zero_grad(set_to_none=True)
            self.precision.backward_step(losses["d_loss"], self.d_optimizer, "discriminator")
            if spec.weight_clip is not None:
                clip_weights_(self.discriminator, spec.weight_clip)
        logs.update({key: value.item() for key, value in losses.items()})
        with self.precision.autocast():
            g_losses = self.gan_objective.generator_losses(real.shape[0], labels, self.device)
        self.g_optimizer.zero_grad(set_to_none=True)
        self.precision.backward_step(g_losses["g_loss"], self.g_optimizer, "generator")
        self.ema.update_parameters(self.generator)
        logs["g_loss"] = g_losses["g_loss"].item()
        return logs

    def progress(self) -> dict[str, float]:
        return {"epoch": round(self.stream.epochs_done, 4)}

    @torch.no_grad()
    def evaluate(self, step: int, run: RunFolder, logger: RunLogger) -> dict[str, float]:
        """Writes the fixed-noise sample grid; quality metrics come from a :class:`GanQualityCallback`."""
        generator = self.sampling_generator
        generator.eval()
        grid = generator(self.fixed_noise, self.fixed_labels)
        generator.train()
        if logger.enabled:
            image = save_image_grid(run.samples / f"step_{step:07d}.png", grid, columns=self.grid_columns)
            logger.log_images(step, "samples", image)
        return {}


def pretrain(
    config: PretrainConfig,
    out: str | os.PathLike,
    data: DataOptions = DataOptions(),
    resume: bool = False,
    progress_bar: bool = True,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train a GAN on ``config.source``'s train split; write the run to ``out``.

    Returns the trainer's :class:`FitResult` (final quality metrics when
    ``quality_samples > 0``). ``out/checkpoints/latest.pt`` is what
    :func:`load_gan` reads. A format left to the data is resolved from the
    source, printed, and stored in the run's config; a test split drawn for
    the source is written to ``out/splits.json``. ``callbacks`` are given to
    the trainer.
    """
    check_folder(RunFolder(out).root, GAN_RUN)  # a wrong folder is refused before any data is read
    config, choice = resolve_pretrain_format(config, data)
    source = load_split(config.source, "train", config.format, data, config.splits)
    require_every_class(source)
    if choice is not None:
        notice(choice.line())
    return train_gan(config, source, out, data, resume=resume, progress_bar=progress_bar, callbacks=callbacks,
                     record_splits=True)


def run_config(out: str | os.PathLike) -> PretrainConfig | None:
    """The config of the GAN run in ``out`` (what ``--resume`` continues); None when it holds none yet."""
    run = RunFolder(out)
    check_folder(run.root, GAN_RUN)
    stored = run.stored_config()
    return None if stored is None else _from_stored(stored, f"{run.config_path}")[0]


def _from_stored(stored: dict[str, Any], where: str) -> tuple[PretrainConfig, tuple[str, ...]]:
    """The config and class names of a stored GAN config (``config.json``, a checkpoint's ``config``)."""
    stored = dict(stored)
    class_names = tuple(stored.pop("class_names", ()))
    return from_dict(PretrainConfig, stored, where=where), class_names


def resolve_pretrain_format(config: PretrainConfig, data: DataOptions = DataOptions()
                            ) -> tuple[PretrainConfig, FormatChoice | None]:
    """``config`` with the image format its source's images call for where it gives none, and
    that choice (None when the config gave the format)."""
    if config.image_size is not None and config.channels is not None:
        return config, None
    info = describe_domain(config.source, data, config.splits)
    choice = infer_format({config.source: info.summary}, config.image_size, config.channels, config.fit)
    return config.with_format(choice.format), choice


def train_gan(
    config: PretrainConfig,
    images: ImageSet,
    out: str | os.PathLike,
    data: DataOptions = DataOptions(),
    init: "PretrainedGan | None" = None,
    resume: bool = False,
    progress_bar: bool = True,
    callbacks: Sequence[Callback] = (),
    label: str | None = None,
    record_splits: bool = False,
) -> FitResult:
    """Train a GAN on ``images`` (any labelled set, e.g. a few target images),
    optionally starting from ``init``; quality is judged on ``config.source``.
    ``record_splits``: write ``out/splits.json`` when the source's test split was drawn."""
    run = RunFolder(out)
    stored = {**to_dict(config), "class_names": list(images.class_names)}
    # Refuse a wrong folder before the reference classifier is trained; write nothing yet.
    run.check(stored, resume, cls=PretrainConfig, kind=GAN_RUN)
    seed_everything(config.seed)
    distributed = setup(config.acceleration.device)
    device = distributed.device
    stream = distributed.stream((images.images, images.labels), config.batch_size, seed=config.seed)
    task = GanTask(config, images.class_names, stream, device, init=init, distributed=distributed)
    callbacks = list(callbacks)
    if config.quality_samples and distributed.is_main:  # only rank 0 evaluates
        # Building the judge (its reference classifier, its real images) draws no number the GAN
        # would draw: a judged GAN learns what an unjudged one does (stage names leave it out).
        with preserved_randomness():
            callbacks.append(GanQualityCallback(gan_quality_for_domain(
                config.source, config.format, data, samples=config.quality_samples,
                num_classes=images.num_classes, seed=config.seed, device=device, splits=config.splits,
            )))
    loop = LoopConfig(
        steps=config.total_steps(len(images)),
        eval_every=config.eval_every,
        best_metric="frechet_distance" if config.quality_samples else None,
        best_mode="min",
        progress_bar=progress_bar,
        label=label or f"GAN on {config.source}",
    )
    run.prepare(stored, resume, write=distributed.is_main, cls=PretrainConfig, kind=GAN_RUN)
    if record_splits and distributed.is_main:
        write_drawn_splits(out, {"source": config.source}, data, config.splits)
    trainer = Trainer(task, run, loop, stored, distributed=distributed, seed=config.seed, callbacks=callbacks)
    return trainer.fit(resume=resume)


class GanQualityCallback(Callback):
    """At each evaluation, judges the task's sampling generator (Frechet distance and,
    if conditional, label accuracy under the domain's reference classifier)."""

    def __init__(self, quality: GanQuality) -> None:
        self.quality = quality

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, float]) -> dict[str, float]:
        return self.quality(trainer.task.sampling_generator)


@dataclass
class PretrainedGan:
    """Networks rebuilt from a GAN checkpoint, in eval mode.

    Attributes:
        generator: the EMA generator (the one to sample from).
        discriminator: the discriminator, whose ``features`` is the reusable trunk.
        config: the :class:`PretrainConfig` that trained them.
        class_names: the source classes.
        step: training steps done.
    """

    generator: Generator
    discriminator: Discriminator
    config: PretrainConfig
    class_names: tuple[str, ...]
    step: int


def load_gan(path: str | os.PathLike, device="cpu") -> PretrainedGan:
    """Rebuild a pretrained GAN from a checkpoint file or a run folder (its ``latest.pt``)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.fspath(RunFolder(path).latest_checkpoint)
    state = load_checkpoint(path, kind=KIND)
    config, class_names = _from_stored(state["config"], f"{path}: config")
    num_classes = len(class_names)
    generator = Generator(config.generator_config(num_classes))
    ema = AveragedModel(generator, use_buffers=True)
    discriminator = Discriminator(config.discriminator_config(num_classes))
    try:
        ema.load_state_dict(state["modules"]["generator_ema"])
        discriminator.load_state_dict(state["modules"]["discriminator"])
    except (RuntimeError, KeyError) as error:
        raise CheckpointError(f"{path}: weights do not fit the stored config ({first_line(error)})") from None
    return PretrainedGan(
        generator=ema.module.to(device).eval(),
        discriminator=discriminator.to(device).eval(),
        config=config,
        class_names=class_names,
        step=int(state["step"]),
    )
