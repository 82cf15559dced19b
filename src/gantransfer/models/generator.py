"""DCGAN-style generator, optionally conditioned on a class label."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ConfigError


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of a :class:`Generator`.

    Args:
        latent_dim: length of the noise vector z ~ N(0, I).
        channels: output channels, 1 or 3.
        image_size: output side; must be divisible by 4 (28 and 32 are tested).
        width: channels before the last up-sampling; the first has twice as many.
        num_classes: 0 for an unconditional generator, else the number of
            labels it is conditioned on (cGAN, Mirza & Osindero 2014).
    """

    latent_dim: int = 64
    channels: int = 1
    image_size: int = 28
    width: int = 64
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.image_size % 4 or self.image_size < 8:
            raise ConfigError(f"generator image_size must be a multiple of 4 and >= 8, got {self.image_size}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.latent_dim < 1 or self.width < 1 or self.num_classes < 0:
            raise ConfigError(f"invalid generator shape: {self}")

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

    Shapes for 1 x 28 x 28, width 64: z (N, 64) -> (N, 128, 7, 7)
    -> (N, 64, 14, 14) -> (N, 1, 28, 28).
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        w, side = config.width, config.image_size // 4
        self.base_side = side
        self.label_embedding = nn.Embedding(config.num_classes, config.latent_dim) if config.conditional else None
        self.project = nn.Linear(config.latent_dim, 2 * w * side * side, bias=False)
        self.norm0 = self._norm(2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False)
        self.norm1 = self._norm(w)
        self.up2 = nn.ConvTranspose2d(w, config.channels, 4, 2, 1)

    def _norm(self, channels: int) -> nn.Module:
        if self.config.conditional:
            return ConditionalBatchNorm2d(channels, self.config.num_classes)
        return nn.BatchNorm2d(channels)

    def _apply_norm(self, norm: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
        return norm(x, labels) if self.config.conditional else norm(x)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z float (N, latent_dim), labels int64 (N,) for a conditional generator
        -> images float (N, C, S, S) in [-1, 1]."""
        if self.config.conditional:
            if labels is None:
                raise ValueError("this generator is conditional: pass labels")
            z = z * self.label_embedding(labels)  # multiplicative conditioning of z
        x = self.project(z).view(-1, 2 * self.config.width, self.base_side, self.base_side)
        x = torch.relu(self._apply_norm(self.norm0, x, labels))
        x = torch.relu(self._apply_norm(self.norm1, self.up1(x), labels))
        return torch.tanh(self.up2(x))

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
