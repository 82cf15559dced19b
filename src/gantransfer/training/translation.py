"""Unpaired image-to-image translation between a source and a target domain.

CycleGAN (Zhu et al. 2017) with CyCADA's semantic consistency (Hoffman et
al. 2018, pixel level): two translators ``G_st`` (source -> target style)
and ``G_ts`` (back), a discriminator per domain, and a generator loss

    adversarial(D_t(G_st(x_s))) + adversarial(D_s(G_ts(x_t)))
    + cycle_weight * (|x_s - G_ts(G_st(x_s))| + |x_t - G_st(G_ts(x_t))|)
    + semantic_weight * (CE(f(G_st(x_s)), argmax f(x_s)) + CE(f(G_ts(x_t)), argmax f(x_t)))
    + identity_weight * (|x_t - G_st(x_t)| + |x_s - G_ts(x_s)|)
    + content_weight * PMSE_m(x_s, G_st(x_s))
    + task_weight * CE(T(G_st(x_s)), y_s)

where ``f`` is a frozen classifier trained on the labelled source and
``PMSE_m`` PixelDA's content similarity on the source foreground ``m``
(Bousmalis et al. 2017); with ``noise``, ``G_st`` also takes PixelDA's noise
vector, so that one source image has many translations. ``T`` is PixelDA's
task classifier: a copy of ``f`` trained with the translators on the labelled
source images and their translations, so that the translations are held to
their labels by a classifier that follows them as they change. The
target images are used without their labels. :class:`TranslationTask` runs
under the shared :class:`~gantransfer.engine.trainer.Trainer`
(checkpoints, exact resume, ``metrics.jsonl``, a grid of source images
beside their translations at every evaluation); :func:`load_translation`
rebuilds the translators from a checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..config import from_dict, to_dict
from ..data import BatchStream, ImageFormat, ImageSet, model_batches, to_model_range
from ..data.augment import diff_augment
from ..data.images import model_to_pixels
from ..engine.acceleration import Acceleration, to_channels_last
from ..engine.checkpoint import load_checkpoint
from ..engine.logger import RunLogger
from ..engine.run_folder import RunFolder
from ..engine.trainer import Progress, TrainingTask
from ..errors import ConfigError
from ..evaluation.classification import predict_logits
from ..evaluation.plots import save_image_grid
from ..losses.translation import cycle_consistency_loss, foreground_mask, masked_pairwise_mse, semantic_consistency_loss
from ..models import Discriminator, DiscriminatorConfig, TrunkConfig
from ..models.translator import Translator, TranslatorConfig
from ..objectives import OptimizerConfig, get_objective

KIND = "translation"


@dataclass(frozen=True)
class TranslationTraining:
    """How the source <-> target translators are trained (CycleGAN + CyCADA's semantic loss).

    Args:
        steps: updates of the translators (each followed by one of the discriminators).
        batch_size: source and target images per step, each.
        lr: Adam learning rate of translators and discriminators (betas 0.5, 0.999).
        objective: adversarial loss: ``minimax`` (non-saturating), ``least-squares`` or ``hinge``.
        cycle_weight: weight of the cycle-consistency L1 loss.
        semantic_weight: weight of the semantic-consistency loss under the
            frozen source classifier (0: plain CycleGAN).
        identity_weight: weight of CycleGAN's identity L1 loss (0: off; it
            discourages the change of digit size that MNIST -> USPS needs).
        content_weight: weight of PixelDA's content-similarity loss (0: off): the
            source -> target translation keeps the shapes of the source foreground
            (pixels brighter than mid-grey: digit strokes on a dark ground) and may
            change their colour as a whole, while the background is free. For
            sources of bright objects on dark, empty grounds (MNIST); a translator
            free of it can hide the label in a texture that only the frozen source
            classifier reads (benchmarks/studies/2026-12-01-mnist-mnistm-translators.md).
        translator_width: channels of the translators at half the image side.
        residual_blocks: residual blocks of each translator.
        skip: translators learn a change of their input and start as the
            identity (for texture or colour shifts; MNIST -> USPS, which needs
            larger digits, does worse with it).
        discriminator_width: first-layer channels of the domain discriminators.
        discriminator_norm: ``layer``, ``batch`` or ``none`` in the discriminators.
        eval_every: steps between evaluations (metrics and a translation grid).
        diff_augment: DiffAugment (Zhao et al. 2020) on every discriminator input, real
            and translated alike, so that discriminators of a few target images (few-shot
            adaptation, ``unlabelled_target: false``) cannot memorise them.
        noise: length of PixelDA's noise vector given to the source -> target
            translator beside its image (0: none). For targets whose grounds vary
            from image to image where the source's are empty (MNIST -> MNIST-M);
            the translations of a translator with noise are drawn with a fixed
            seed, so a stage translates the same set every time.
        task_weight: weight of PixelDA's task loss (0: off): a copy of the source
            classifier is trained with the translators on the source images and
            their translations with the source labels, and the translators also
            minimise its cross-entropy on their translations. The frozen classifier
            of the semantic loss reads the translations as the source taught it;
            this one learns to read them.
    """

    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-4
    objective: str = "minimax"
    cycle_weight: float = 10.0
    semantic_weight: float = 1.0
    identity_weight: float = 0.0
    translator_width: int = 16
    residual_blocks: int = 3
    skip: bool = False
    discriminator_width: int = 16
    discriminator_norm: str = "layer"
    eval_every: int = 250
    diff_augment: bool = False
    content_weight: float = 0.0
    noise: int = 0
    task_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 0:
            raise ConfigError("translation needs steps >= 1, batch_size >= 1 and eval_every >= 0")
        if self.lr <= 0:
            raise ConfigError(f"translation lr must be > 0, got {self.lr}")
        if self.noise < 0:
            raise ConfigError(f"translation noise must be >= 0 (0: none), got {self.noise}")
        weights = (self.cycle_weight, self.semantic_weight, self.identity_weight, self.content_weight, self.task_weight)
        if min(weights) < 0:
            raise ConfigError("translation loss weights must be >= 0")
        spec = get_objective(self.objective)
        if spec.weight_clip is not None or spec.gradient_penalty:
            raise ConfigError(f"translation objective {self.objective!r} needs a constrained critic; "
                              "use minimax, least-squares or hinge")
        TrunkConfig(norm=self.discriminator_norm, width=self.discriminator_width)  # raises for bad values

    @property
    def needs_classifier(self) -> bool:
        """Whether training needs the source classifier (semantic or task loss)."""
        return self.semantic_weight > 0 or self.task_weight > 0

    def translator_configs(self, fmt: ImageFormat) -> dict[str, TranslatorConfig]:
        """The two translators' shapes by module name; only source -> target takes noise."""
        shape = TranslatorConfig(fmt.channels, fmt.size, self.translator_width, self.residual_blocks, skip=self.skip)
        return {"source_to_target": dataclasses.replace(shape, noise=self.noise), "target_to_source": shape}

    def discriminator_config(self, fmt: ImageFormat) -> DiscriminatorConfig:
        """An unconditional discriminator on the shared trunk (feature length 8 x width)."""
        width = self.discriminator_width
        return DiscriminatorConfig(TrunkConfig(fmt.channels, fmt.size, width, 8 * width, self.discriminator_norm))

    def optimizer(self) -> OptimizerConfig:
        return OptimizerConfig("adam", self.lr, (0.5, 0.999))


# Seeds the noise of translations outside training, so that a stage's translated set and
# previews are the same whoever asks for them.
TRANSLATION_NOISE_SEED = 0


@torch.no_grad()
def translate(translator: Translator, images: Tensor, batch_size: int = 512) -> Tensor:
    """``translator`` applied to ``images`` (N, C, S, S): uint8 pixels, float in [-1, 1]
    or :class:`~gantransfer.data.ImageFiles`) in batches, without gradients.

    Returns float (N, C, S, S) in [-1, 1] on the CPU; the translator's mode is restored.
    A translator with noise gets vectors drawn from :data:`TRANSLATION_NOISE_SEED`.
    """
    out = list(_translated_batches(translator, images, batch_size))
    return torch.cat(out) if out else to_model_range(images[:0]).clone()


def translate_to_pixels(translator: Translator, images: Tensor, batch_size: int = 512) -> Tensor:
    """As :func:`translate`, but uint8 (N, C, S, S) pixels, quantised batch by batch (no float copy of the set)."""
    pixels = torch.empty(tuple(images.shape), dtype=torch.uint8)
    start = 0
    for batch in _translated_batches(translator, images, batch_size):
        pixels[start : start + len(batch)] = model_to_pixels(batch)
        start += len(batch)
    return pixels


@torch.no_grad()
def _translated_batches(translator: Translator, images: Tensor, batch_size: int):
    device = next(translator.parameters()).device
    was_training = translator.training
    translator.eval()
    noise_draw = torch.Generator().manual_seed(TRANSLATION_NOISE_SEED)
    try:
        for batch in model_batches(images, batch_size):
            yield translator(batch.to(device), translator.draw_noise(len(batch), noise_draw)).float().cpu()
    finally:
        translator.train(was_training)


def preview_indices(labels: Tensor, per_class: int) -> Tensor:
    """Up to ``per_class`` indices of each class, the first of every class, then the
    second...: the fixed images of a preview grid, one class per column."""
    members = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]
    return torch.cat([m[j : j + 1] for j in range(per_class) for m in members])


def _rows(images: Tensor, columns: int) -> tuple[Tensor, ...]:
    pad = -len(images) % columns  # a short last row would shift later pairs out of line
    if pad:
        images = torch.cat([images, images.new_ones(pad, *images.shape[1:])])
    return images.split(columns)


def save_translation_grid(
    path: str | os.PathLike,
    source_to_target: Translator,
    target_to_source: Translator | None,
    source_images: Tensor,
    target_images: Tensor | None = None,
    columns: int = 10,
) -> Tensor:
    """A PNG of images beside their translations; returns the grid (C, H, W) in [0, 1].

    Rows come in pairs: ``columns`` source images, then their translations
    to the target style below them; then, when ``target_to_source`` and
    ``target_images`` are given, target images and their translations back.
    """
    rows: list[Tensor] = []
    for images, translator in ((source_images, source_to_target), (target_images, target_to_source)):
        if images is None or translator is None:
            continue
        images = to_model_range(images)
        for original, translated in zip(_rows(images, columns), _rows(translate(translator, images), columns)):
            rows += [original, translated]
    return save_image_grid(path, torch.cat(rows), columns=columns)


class TranslationTask(TrainingTask):
    """One step = one update of both translators, then one of both discriminators.

    Args:
        options: the losses, networks and optimiser.
        source: labelled source images; the labels only pick the preview grid's
            images and score ``translated_label_agreement``.
        target: target images; their labels are never read.
        classifier: the source classifier: frozen and in eval mode for the
            semantic loss, copied as the task classifier's start (None when
            neither loss is on).
        seed: seeds the two data streams.
        device: where the networks live.
        acceleration: the speed options; the translators train in fp32 whatever
            ``precision`` says (channels-last applies).
    """

    kind = KIND

    def __init__(
        self,
        options: TranslationTraining,
        source: ImageSet,
        target: ImageSet,
        classifier: nn.Module | None,
        seed: int,
        device="cpu",
        acceleration: Acceleration | None = None,
    ) -> None:
        if classifier is None and options.needs_classifier:
            raise ConfigError("the semantic-consistency and task losses need a source classifier "
                              "(or semantic_weight and task_weight 0)")
        if source.format != target.format:
            raise ConfigError(f"source and target formats differ: {source.format} vs {target.format}")
        self.options = options
        self.device = device
        self.format = source.format
        shapes = options.translator_configs(source.format)
        self.source_to_target = Translator(shapes["source_to_target"]).to(device)
        self.target_to_source = Translator(shapes["target_to_source"]).to(device)
        self.target_discriminator = Discriminator(options.discriminator_config(source.format)).to(device)
        self.source_discriminator = Discriminator(options.discriminator_config(source.format)).to(device)
        self.classifier = None
        self.task_classifier = None
        if classifier is not None:
            if options.task_weight > 0:  # copied before freezing, so the copy keeps learning
                self.task_classifier = copy.deepcopy(classifier).to(device).train().requires_grad_(True)
            self.classifier = classifier.to(device).eval().requires_grad_(False)
        for network in self.modules().values():
            to_channels_last(network, acceleration or Acceleration(), device)
        if self.classifier is not None:
            to_channels_last(self.classifier, acceleration or Acceleration(), device)
        self.spec = get_objective(options.objective)
        generators = [*self.source_to_target.parameters(), *self.target_to_source.parameters()]
        discriminators = [*self.target_discriminator.parameters(), *self.source_discriminator.parameters()]
        self.g_optimizer = options.optimizer().build(generators)
        self.d_optimizer = options.optimizer().build(discriminators)
        self.task_optimizer = None
        if self.task_classifier is not None:
            self.task_optimizer = options.optimizer().build(self.task_classifier.parameters())
        self.source_stream = BatchStream((source.images, source.labels), options.batch_size, seed=seed)
        self.target_stream = BatchStream((target.images,), options.batch_size, seed=seed + 1)
        self.track(source=self.source_stream, target=self.target_stream)
        # Fixed images for the evaluation grid and metrics, so evaluations compare.
        self.preview_source = to_model_range(source.images[preview_indices(source.labels, 2)])
        self.preview_target = to_model_range(target.images[:10])
        draw = torch.Generator().manual_seed(seed)
        monitor = torch.randperm(len(source), generator=draw)[:500]
        self.monitor_images, self.monitor_labels = to_model_range(source.images[monitor]), source.labels[monitor]
        self.monitor_target = to_model_range(target.images[torch.randperm(len(target), generator=draw)[:500]])

    def modules(self) -> dict[str, nn.Module]:
        modules = {
            "source_to_target": self.source_to_target,
            "target_to_source": self.target_to_source,
            "target_discriminator": self.target_discriminator,
            "source_discriminator": self.source_discriminator,
        }
        if self.task_classifier is not None:
            modules["task_classifier"] = self.task_classifier
        return modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = {"translators": self.g_optimizer, "discriminators": self.d_optimizer}
        if self.task_optimizer is not None:
            optimizers["task_classifier"] = self.task_optimizer
        return optimizers

    def generator_losses(self, source: Tensor, target: Tensor, source_labels: Tensor | None = None
                         ) -> dict[str, Tensor]:
        """The translators' losses on a source and a target batch (N, C, S, S) in [-1, 1].

        ``source_labels`` (N,) int64 are needed by the task loss only.
        Returns ``{"g_loss": total, "g_adversarial", "cycle", "semantic", "identity",
        "content", "task", "fake_target", "fake_source"}``; the last two are the
        translations, for the discriminators' and the task classifier's updates.
        """
        options = self.options
        fake_target = self.source_to_target(source)
        fake_source = self.target_to_source(target)
        adversarial = (self.spec.generator_loss(self._judge(self.target_discriminator, fake_target))
                       + self.spec.generator_loss(self._judge(self.source_discriminator, fake_source)))
        cycle = cycle_consistency_loss(source, self.target_to_source(fake_target)) + cycle_consistency_loss(
            target, self.source_to_target(fake_source)
        )
        zero = source.new_zeros(())
        semantic = zero
        if options.semantic_weight > 0:
            semantic = self._semantic(source, fake_target) + self._semantic(target, fake_source)
        identity = zero
        if options.identity_weight > 0:
            identity = cycle_consistency_loss(target, self.source_to_target(target)) + cycle_consistency_loss(
                source, self.target_to_source(source)
            )
        content = zero
        if options.content_weight > 0:
            content = masked_pairwise_mse(source, fake_target, foreground_mask(source))
        task = zero
        if self.task_classifier is not None:
            if source_labels is None:
                raise ValueError("the task loss needs the source labels")
            task = F.cross_entropy(self.task_classifier(fake_target), source_labels)
        total = adversarial + options.cycle_weight * cycle + options.semantic_weight * semantic
        total = total + options.identity_weight * identity + options.content_weight * content
        total = total + options.task_weight * task
        return {"g_loss": total, "g_adversarial": adversarial, "cycle": cycle, "semantic": semantic,
                "identity": identity, "content": content, "task": task, "fake_target": fake_target,
                "fake_source": fake_source}

    def _semantic(self, original: Tensor, translated: Tensor) -> Tensor:
        with torch.no_grad():
            original_logits = self.classifier(original)
        return semantic_consistency_loss(self.classifier(translated), original_logits)

    def _judge(self, discriminator: nn.Module, images: Tensor) -> Tensor:
        """``discriminator`` on ``images``, through DiffAugment when the options ask for it."""
        return discriminator(diff_augment(images) if self.options.diff_augment else images)

    def discriminator_losses(self, source: Tensor, target: Tensor, fake_source: Tensor, fake_target: Tensor):
        """Both discriminators' losses; the translations are detached here."""
        d_target = self.spec.discriminator_loss(self._judge(self.target_discriminator, target),
                                                self._judge(self.target_discriminator, fake_target.detach()))
        d_source = self.spec.discriminator_loss(self._judge(self.source_discriminator, source),
                                                self._judge(self.source_discriminator, fake_source.detach()))
        return {"d_loss": d_target + d_source, "d_target": d_target, "d_source": d_source}

    def task_classifier_loss(self, source: Tensor, fake_target: Tensor, source_labels: Tensor) -> Tensor:
        """The task classifier's cross-entropy on the source images and their (detached)
        translations, both with the source labels (PixelDA trains it on both)."""
        images = torch.cat([source, fake_target.detach()])
        return F.cross_entropy(self.task_classifier(images), torch.cat([source_labels, source_labels]))

    def train_step(self, progress: Progress) -> dict[str, float]:
        source, source_labels = (part.to(self.device) for part in next(self.source_stream))
        target = next(self.target_stream)[0].to(self.device)
        judges = [self.target_discriminator, self.source_discriminator]
        if self.task_classifier is not None:
            judges.append(self.task_classifier)
        for judge in judges:  # no weight gradients from the translators' update
            judge.requires_grad_(False)
        g_losses = self.generator_losses(source, target, source_labels)
        self.g_optimizer.zero_grad(set_to_none=True)
        g_losses["g_loss"].backward()
        self.g_optimizer.step()
        for judge in judges:
            judge.requires_grad_(True)
        fake_target = g_losses.pop("fake_target")
        d_losses = self.discriminator_losses(source, target, g_losses.pop("fake_source"), fake_target)
        self.d_optimizer.zero_grad(set_to_none=True)
        d_losses["d_loss"].backward()
        self.d_optimizer.step()
        if self.task_classifier is not None:
            d_losses["task_classifier"] = self.task_classifier_loss(source, fake_target, source_labels)
            self.task_optimizer.zero_grad(set_to_none=True)
            d_losses["task_classifier"].backward()
            self.task_optimizer.step()
        return {key: value.item() for key, value in {**g_losses, **d_losses}.items()}

    def progress(self) -> dict[str, float]:
        return {"epoch": round(self.source_stream.epochs_done, 4)}

    @torch.no_grad()
    def evaluate(self, step: int, run: RunFolder, logger: RunLogger) -> dict[str, float]:
        """Cycle errors on fixed source and target images and, with a classifier, how
        often a translated source image keeps its label (under the frozen source
        classifier and the task classifier); writes ``samples/step_N.png``."""
        if logger.enabled:
            grid = save_translation_grid(run.samples / f"step_{step:07d}.png", self.source_to_target,
                                         self.target_to_source, self.preview_source, self.preview_target)
            logger.log_images(step, "translations", grid)
        to_target, to_source = self.source_to_target, self.target_to_source
        translated = translate(to_target, self.monitor_images)
        round_trip = translate(to_target, translate(to_source, self.monitor_target))
        metrics = {
            "cycle_error_source": float(cycle_consistency_loss(self.monitor_images, translate(to_source, translated))),
            "cycle_error_target": float(cycle_consistency_loss(self.monitor_target, round_trip)),
        }
        for name, classifier in (("translated_label_agreement", self.classifier),
                                 ("task_classifier_agreement", self.task_classifier)):
            if classifier is not None:
                metrics[name] = self._agreement(classifier, translated)
        return metrics

    def _agreement(self, classifier: nn.Module, translated: Tensor) -> float:
        """How often ``classifier`` reads the translated monitor images as their labels."""
        predicted = predict_logits(classifier, translated, batch_size=500).argmax(1)
        return float((predicted == self.monitor_labels).float().mean())


def stored_config(options: TranslationTraining, fmt: ImageFormat) -> dict[str, Any]:
    """The config a translation run stores, from which :func:`load_translation` rebuilds it."""
    return {"translation": to_dict(options), "format": to_dict(fmt)}


@dataclass
class Translation:
    """Trained translators rebuilt from a checkpoint, in eval mode.

    Attributes:
        source_to_target: ``G_st``, source images -> target style.
        target_to_source: ``G_ts``, the way back.
        options: the :class:`TranslationTraining` that trained them.
        format: the image format both domains share.
        step: training steps done.
        folder: the run folder it was loaded from (None for a bare checkpoint file).
    """

    source_to_target: Translator
    target_to_source: Translator
    options: TranslationTraining
    format: ImageFormat
    step: int
    folder: Path | None = None


def load_translation(path: str | os.PathLike, device="cpu") -> Translation:
    """Rebuild the translators from a checkpoint file or a run folder (its ``latest.pt``)."""
    path = os.fspath(path)
    folder = None
    if os.path.isdir(path):
        folder, path = Path(path), os.fspath(RunFolder(path).latest_checkpoint)
    state = load_checkpoint(path, kind=KIND)
    options = from_dict(TranslationTraining, state["config"]["translation"], where=f"{path}: translation")
    fmt = from_dict(ImageFormat, state["config"]["format"], where=f"{path}: format")
    translators = []
    for name, shape in options.translator_configs(fmt).items():
        translator = Translator(shape)
        translator.load_state_dict(state["modules"][name])
        translators.append(translator.to(device).eval())
    return Translation(*translators, options=options, format=fmt, step=int(state["step"]), folder=folder)
