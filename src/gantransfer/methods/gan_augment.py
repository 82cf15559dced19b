"""``gan-augment``: instance transfer by generating labelled target images.

1. Adapt the source conditional GAN to the target from the k labelled images
   per class: fine-tune both networks from the source weights (TransferGAN,
   Wang et al. 2018), with the lowest discriminator layers frozen (FreezeD,
   Mo et al. 2020) and differentiable augmentation on the discriminator's
   inputs (DiffAugment, Zhao et al. 2020), because k is tiny.
2. Generate ``synthetic_per_class`` images of every class with the adapted
   generator's moving average.
3. Train the classifier (by default started from the GAN discriminator's
   trunk, as ``gan-features``) on generated plus real images, the generated ones
   weighted by ``synthetic_weight`` and, optionally, randomly rotated and
   translated (founding document, section 3.2).

With k = 0 there is nothing to adapt to and the source generator is used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..data import ImageSet
from ..engine.stage_cache import train_once
from ..errors import ConfigError
from ..evaluation.plots import save_image_grid
from ..training.generation import generated_set
from ..training.pretrain import PretrainedGan, load_gan, train_gan
from ..training.supervised import LabelledSource
from .baselines import supervised_plan
from .context import Stream, TransferContext
from .registry import Method, MethodPlan, register_method, register_options, register_stage


@dataclass(frozen=True)
class GanAugmentOptions:
    """Method ``gan-augment``: adapt the source cGAN to the target, then train on its samples.

    Args:
        adapt_steps: generator updates when adapting the GAN to the k target images per class.
        adapt_batch_size: real target images per discriminator update (the few images are cycled).
        freeze_discriminator_blocks: FreezeD: lowest discriminator trunk stages kept fixed
            (0 to the trunk's stages: 4 at 28 px, one more per doubling).
        diff_augment: DiffAugment on every discriminator input while adapting.
        adapt_lr: learning rate while adapting (both networks).
        synthetic_per_class: generated target images per class.
        synthetic_weight: weight of the generated images' loss against the real ones.
        synthetic_batch_size: generated images per classifier step.
        augment_synthetic: also apply the random affine augmentation (rotation,
            translation) to the generated images.
    """

    adapt_steps: int = 500
    adapt_batch_size: int = 32
    freeze_discriminator_blocks: int = 2
    diff_augment: bool = True
    adapt_lr: float = 1e-4
    synthetic_per_class: int = 500
    synthetic_weight: float = 1.0
    synthetic_batch_size: int = 64
    augment_synthetic: bool = True


register_options("gan_augment", GanAugmentOptions,
                 "adapting the source cGAN to the target and training on its images")


def adapted_gan(context: TransferContext) -> PretrainedGan:
    """The run's stage ``adapted_gan``: the source conditional GAN adapted to the k labelled target
    images (:func:`adapt_gan`; the source GAN itself at k = 0)."""
    gan = context.source_gan()
    if not gan.config.conditional:
        raise ConfigError("gan-augment needs a conditional GAN (pretrain with --conditional)")
    return adapt_gan(context, gan)


register_stage("adapted_gan", adapted_gan)


def adapt_gan(context: TransferContext, gan: PretrainedGan) -> PretrainedGan:
    """The source GAN fine-tuned on the k labelled target images (cached in the run folder)."""
    config, options = context.config, context.config.options.gan_augment
    if config.k == 0:
        context.notes["gan_adapted"] = False
        return gan
    folder = context.run.root / "target_gan"
    adapt_config = replace(
        gan.config,
        source=config.target,
        steps=options.adapt_steps,
        batch_size=options.adapt_batch_size,
        freeze_discriminator_blocks=options.freeze_discriminator_blocks,
        diff_augment=options.diff_augment,
        lr_generator=options.adapt_lr,
        lr_discriminator=options.adapt_lr,
        quality_samples=0,  # judging on target test images would leak them into model selection
        eval_every=options.adapt_steps,
        seed=config.seed,
        acceleration=config.acceleration,
    )

    def train(resume: bool):
        return train_gan(adapt_config, context.data.target_labelled, folder, context.data_options, init=gan,
                         resume=resume, progress_bar=context.progress_bar, callbacks=context.callbacks,
                         label="GAN adapted to the k target images")

    train_once(folder, {"steps": options.adapt_steps}, train, context.distributed, config.seed)
    context.notes["gan_adapted"] = True
    return load_gan(folder, context.device)


def synthetic_set(context: TransferContext, gan: PretrainedGan) -> ImageSet:
    """``synthetic_per_class`` generated images of every class, reproducible from the run's seed,
    stored as uint8 pixels (like every other set: a quarter of float32)."""
    per_class = context.config.options.gan_augment.synthetic_per_class
    return generated_set(gan.generator, context.data.source.class_names, per_class,
                         context.config.seed + 777, context.format, "generated")


def save_samples_per_class(context: TransferContext, synthetic: ImageSet, columns: int = 10) -> None:
    if not context.distributed.is_main:
        return
    per_class = context.config.options.gan_augment.synthetic_per_class
    rows = [synthetic.images[c * per_class : c * per_class + min(columns, per_class)]
            for c in range(context.data.num_classes)]
    save_image_grid(context.run.root / "generated_samples.png", torch.cat(rows), columns=min(columns, per_class))


def build_gan_augment(context: TransferContext) -> MethodPlan:
    options = context.config.options.gan_augment
    if options.synthetic_per_class < 1:
        raise ConfigError("gan_augment.synthetic_per_class must be >= 1")
    synthetic = synthetic_set(context, adapted_gan(context))
    save_samples_per_class(context, synthetic)
    stream = context.stream(synthetic, options.synthetic_batch_size, Stream.GENERATED)
    generated = LabelledSource("generated", stream, options.synthetic_weight,
                               augment=options.augment_synthetic)
    # The founding document's whole pipeline: the classifier starts from the GAN's critic trunk
    # (model transfer) and learns from generated plus real target images (instance transfer).
    return supervised_plan(context, context.labelled_sources() + [generated])


register_method(
    Method(
        "gan-augment",
        build_gan_augment,
        "gan",
        "source cGAN adapted to the k target images (TransferGAN + FreezeD + DiffAugment); "
        "classifier trained on generated + real target images",
        "Wang et al. 2018 (TransferGAN); Mo et al. 2020 (FreezeD); Zhao et al. 2020 (DiffAugment)",
        category="instance transfer (data augmentation)",
        reads=("gan_augment", "gan_features"),
        stages=("adapted_gan",),
    )
)
