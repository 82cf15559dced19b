"""The generator: z (and a label) -> image; DCGAN's layout, or SNGAN's residual one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .architecture import check_architecture, generator_plan


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of a :class:`Generator`.

    Args:
        latent_dim: length of the noise vector z ~ N(0, I).
        channels: output channels, 1 or 3.
        image_size: output side: a base side of 4 to 7 pixels doubled once per
            up-sampling block (28 = 7 x 4, 32 = 4 x 8, 64 = 4 x 16; see :mod:`.architecture`).
        width: channels of the largest feature map (before the last up-sampling
            for dcgan, out of the last residual block for resnet); each block
            nearer the noise has twice as many.
        num_classes: 0 for an unconditional generator, else the number of
            labels it is conditioned on (cGAN, Mirza & Osindero 2014).
        architecture: ``"dcgan"`` (:class:`DcganGenerator`) or ``"sngan"``
            (SNGAN's residual generator, :class:`~gantransfer.models.sngan.ResNetGenerator`).
    """

    latent_dim: int = 64
    channels: int = 1
    image_size: int = 28
    width: int = 64
    num_classes: int = 0
    architecture: str = "dcgan"

    def __post_init__(self) -> None:
        if self.image_size < 8:
            raise ConfigError(f"generator image_size must be >= 8, got {self.image_size}")
        generator_plan(self.image_size)  # raises for sides with no base of 4 to 7 pixels
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.latent_dim < 1 or self.width < 1 or self.num_classes < 0:
            raise ConfigError(f"invalid generator shape: {self}")
        check_architecture(self.architecture)

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017).

    Conditioning every layer, not only the input, is what makes the requested
    label decide the digit drawn.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.norm(x) * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


class Generator(nn.Module):
    """z (and a label) -> image in [-1, 1].

    ``Generator(config)`` builds the network of ``config.architecture``: a
    :class:`DcganGenerator` or a :class:`~gantransfer.models.sngan.ResNetGenerator`,
    both subclasses, so that code holding a config (training, :func:`load_gan`)
    builds either without knowing which. This base class draws noise and
    samples; the subclasses hold the layers.
    """

    #: the class of each ``GeneratorConfig.architecture``, filled as the subclasses are defined
    #: (``class ResNetGenerator(Generator, architecture="sngan")``); the package imports them all
    architectures: ClassVar[dict[str, type[Generator]]] = {}

    def __init_subclass__(cls, architecture: str | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if architecture is not None:
            Generator.architectures[architecture] = cls

    def __new__(cls, config: GeneratorConfig | None = None, *args, **kwargs):
        # Only Generator itself dispatches: a subclass, or deepcopy (which passes no config), builds as asked.
        if cls is Generator:
            if config is None:
                raise TypeError("Generator needs a GeneratorConfig")
            cls = Generator.architectures[config.architecture]
        return super().__new__(cls)

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config

    def _check_labels(self, labels: Tensor | None) -> None:
        if self.config.conditional and labels is None:
            raise ValueError("this generator is conditional: pass labels")

    @torch.no_grad()
    def generate(self, labels: Tensor | int, seed: int = 0, batch_size: int = 500) -> Tensor:
        """Images from noise seeded by ``seed``, in eval mode, without touching the global RNG.

        Args:
            labels: int64 (N,) classes to draw for a conditional generator, or
                a count N for an unconditional one.

        Returns:
            float (N, C, S, S) in [-1, 1], on the CPU.
        """
        count = labels if isinstance(labels, int) else len(labels)
        if self.config.conditional and isinstance(labels, int):
            raise ValueError("this generator is conditional: pass the labels to draw")
        device = next(self.parameters()).device
        rng = torch.Generator().manual_seed(seed)
        was_training = self.training
        self.eval()
        images = []
        for start in range(0, count, batch_size):
            n = min(batch_size, count - start)
            z = torch.randn(n, self.config.latent_dim, generator=rng).to(device)
            batch = labels[start : start + n].to(device) if self.config.conditional else None
            images.append(self(z, batch).cpu())
        self.train(was_training)
        return torch.cat(images)

    def sample_latent(self, n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        """n noise vectors z ~ N(0, I), float (n, latent_dim)."""
        return torch.randn(n, self.config.latent_dim, generator=generator, device=device)


class DcganGenerator(Generator, architecture="dcgan"):
    """DCGAN's generator (Radford et al. 2016): z -> a linear layer -> a base map of
    4 to 7 pixels -> one stride-2 up-convolution per doubling, channels halving.

    Shapes for 1 x 28 x 28, width 64 (w; base 7, two doublings): z (N, 64)
    -> (N, 2w, 7, 7) -> (N, w, 14, 14) -> (N, 1, 28, 28). At 64 px (base 4, four
    doublings), DCGAN's own layout: (N, 8w, 4, 4) -> (N, 4w, 8, 8) -> (N, 2w, 16, 16)
    -> (N, w, 32, 32) -> (N, C, 64, 64). Layers are ``project``, ``norm0``, then
    ``up1``, ``norm1``, ... ``upN`` (the names checkpoints hold).
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__(config)
        w = config.width
        self.base_side, self.doublings = generator_plan(config.image_size)
        self.base_channels = w * 2 ** (self.doublings - 1)
        side = self.base_side
        self.label_embedding = nn.Embedding(config.num_classes, config.latent_dim) if config.conditional else None
        self.project = nn.Linear(config.latent_dim, self.base_channels * side * side, bias=False)
        self.norm0 = self._norm(self.base_channels)
        channels = self.base_channels
        for index in range(1, self.doublings + 1):
            last = index == self.doublings
            out = config.channels if last else channels // 2
            # Only the last up-convolution has a bias: the others feed a BatchNorm, which has its own.
            self.add_module(f"up{index}", nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=last))
            if not last:
                self.add_module(f"norm{index}", self._norm(out))
            channels = out

    def _norm(self, channels: int) -> nn.Module:
        if self.config.conditional:
            return ConditionalBatchNorm2d(channels, self.config.num_classes)
        return nn.BatchNorm2d(channels)

    def _apply_norm(self, norm: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
        return norm(x, labels) if self.config.conditional else norm(x)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z float (N, latent_dim), labels int64 (N,) for a conditional generator
        -> images float (N, C, S, S) in [-1, 1]."""
        self._check_labels(labels)
        if self.config.conditional:
            z = z * self.label_embedding(labels)  # multiplicative conditioning of z
        x = self.project(z).view(-1, self.base_channels, self.base_side, self.base_side)  # (N, 2^(n-1) w, b, b)
        x = torch.relu(self._apply_norm(self.norm0, x, labels))
        for index in range(1, self.doublings):  # each doubles the side and halves the channels
            x = torch.relu(self._apply_norm(getattr(self, f"norm{index}"), getattr(self, f"up{index}")(x), labels))
        return torch.tanh(getattr(self, f"up{self.doublings}")(x))  # (N, C, S, S)
