"""SNGAN's residual generator and spectrally normalised discriminator trunk.

The networks of the hinge objective's paper (Miyato et al. 2018, "Spectral
Normalization for Generative Adversarial Networks", its ResNet models), with
labels entering as in Miyato & Koyama 2018 (cGANs with projection
discriminator): class-conditional BatchNorm in every generator block, and a
projection in the discriminator (:class:`~gantransfer.models.Discriminator`
adds the spectrally normalised head and projection to :class:`ResidualTrunk`).

Depth follows the image side as for DCGAN (:mod:`.architecture`): one residual
up-sampling block per doubling from a 4 to 7 pixel base, one residual
down-sampling block per halving down to at most 4 x 4.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from .architecture import generator_plan, trunk_blocks
from .generator import ConditionalBatchNorm2d, Generator, GeneratorConfig
from .trunk import TrunkConfig


def _init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Xavier-uniform weights and zero biases, as in SNGAN's code (before any spectral norm,
    which re-parametrises the weight)."""
    nn.init.xavier_uniform_(layer.weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def sn(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """``layer`` initialised and spectrally normalised: its weight is divided by its largest
    singular value, estimated by one power iteration per training forward."""
    return spectral_norm(_init(layer, gain))


class ResidualUpBlock(nn.Module):
    """(N, in, s, s) -> (N, out, 2s, 2s): ``conv(relu(bn(conv(up(relu(bn(x)))))))``
    plus a 1 x 1 convolution of ``up(x)``; nearest-neighbour up-sampling, BatchNorm
    conditioned on the label when ``num_classes`` > 0."""

    def __init__(self, in_channels: int, out_channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm1 = _generator_norm(in_channels, num_classes)
        self.conv1 = _init(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.norm2 = _generator_norm(out_channels, num_classes)
        self.conv2 = _init(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.shortcut = _init(nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = F.interpolate(torch.relu(_apply(self.norm1, x, labels)), scale_factor=2.0)
        h = self.conv2(torch.relu(_apply(self.norm2, self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0))


def _generator_norm(channels: int, num_classes: int) -> nn.Module:
    return ConditionalBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)


def _apply(norm: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
    return norm(x, labels) if isinstance(norm, ConditionalBatchNorm2d) else norm(x)


class ResNetGenerator(Generator, architecture="sngan"):
    """SNGAN's ResNet generator: z -> linear -> (N, c, b, b) -> one :class:`ResidualUpBlock`
    per doubling -> BatchNorm -> ReLU -> 3 x 3 conv -> tanh.

    Channels (width w, n doublings): the base map and the first block have
    2^(n-1) w, each later block halves them. Shapes at 64 px (base 4, n = 4):
    z (N, latent) -> (N, 8w, 4, 4) -> (N, 8w, 8, 8) -> (N, 4w, 16, 16)
    -> (N, 2w, 32, 32) -> (N, w, 64, 64) -> (N, C, 64, 64).
    Labels enter only through the blocks' conditional BatchNorm.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__(config)
        self.base_side, doublings = generator_plan(config.image_size)
        top = config.width * 2 ** (doublings - 1)
        channels = [top] + [config.width * 2 ** (doublings - 1 - i) for i in range(doublings)]
        self.project = _init(nn.Linear(config.latent_dim, top * self.base_side**2))
        self.blocks = nn.ModuleList(
            ResidualUpBlock(c_in, c_out, config.num_classes) for c_in, c_out in pairwise(channels)
        )
        self.norm = nn.BatchNorm2d(channels[-1])
        self.to_image = _init(nn.Conv2d(channels[-1], config.channels, 3, 1, 1))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z float (N, latent_dim), labels int64 (N,) for a conditional generator
        -> images float (N, C, S, S) in [-1, 1]."""
        self._check_labels(labels)
        x = self.project(z).view(z.shape[0], -1, self.base_side, self.base_side)  # (N, 2^(n-1) w, b, b)
        for block in self.blocks:
            x = block(x, labels)  # side doubles
        return torch.tanh(self.to_image(torch.relu(self.norm(x))))  # (N, C, S, S)


class ResidualDownBlock(nn.Module):
    """(N, in, s, s) -> (N, out, s // 2, s // 2): ``pool(conv(relu(conv(relu(x)))))`` plus a
    1 x 1 convolution of ``x``, pooled; every convolution spectrally normalised.

    The ``first`` block, on the image itself, has no leading ReLU and pools
    before its shortcut convolution (SNGAN's "optimised" block)."""

    def __init__(self, in_channels: int, out_channels: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv1 = sn(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.conv2 = sn(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.shortcut = sn(nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else torch.relu(x)
        h = F.avg_pool2d(self.conv2(torch.relu(self.conv1(h))), 2)
        if self.first:
            return h + self.shortcut(F.avg_pool2d(x, 2))
        return h + F.avg_pool2d(self.shortcut(x), 2)


class GlobalSumPool(nn.Module):
    """(N, C, H, W) -> (N, C): SNGAN sums, rather than averages, over positions."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3))


class ResidualTrunk(nn.Module):
    """Image -> feature vector: one :class:`ResidualDownBlock` per halving of the side
    down to at most 4 x 4, channels doubling, then ReLU, global sum pooling and a
    spectrally normalised linear projection (+ ReLU).

    Shapes at 64 px, width w: (N, C, 64, 64) -> (N, w, 32, 32) -> (N, 2w, 16, 16)
    -> (N, 4w, 8, 8) -> (N, 8w, 4, 4) -> (N, 8w) -> (N, feature_dim). The
    projection sees only the channels, so its size does not grow with the image.
    """

    def __init__(self, config: TrunkConfig) -> None:
        super().__init__()
        self.config = config
        channels = [config.channels] + [config.width * 2**i for i in range(trunk_blocks(config.image_size))]
        self.blocks = nn.Sequential(
            *(ResidualDownBlock(c_in, c_out, first=index == 0)
              for index, (c_in, c_out) in enumerate(pairwise(channels)))
        )
        self.project = nn.Sequential(nn.ReLU(), GlobalSumPool(), sn(nn.Linear(channels[-1], config.feature_dim)),
                                     nn.ReLU())

    def stages(self) -> list[nn.Module]:
        """The ``config.num_stages`` units in input-to-output order (the residual blocks,
        the projection): what FreezeD freezes from the bottom up."""
        return [*self.blocks, self.project]

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim)."""
        return self.project(self.blocks(images))


__all__ = ["GlobalSumPool", "ResNetGenerator", "ResidualDownBlock", "ResidualTrunk", "ResidualUpBlock", "sn"]
