"""The convolutional trunk shared by discriminators and classifiers.

One architecture for both is what makes model transfer possible: a
classifier built from the same :class:`TrunkConfig` can load a GAN
discriminator's trunk weights unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..errors import ConfigError

NORMS = ("batch", "layer", "none")


@dataclass(frozen=True)
class TrunkConfig:
    """Shape of a :class:`ConvTrunk`.

    Args:
        channels: input image channels, 1 or 3.
        image_size: input side in pixels; 28 and 32 are the tested sizes.
        width: channels of the first convolution; each block doubles it.
        feature_dim: length of the feature vector ``features(x)`` returns.
        norm: ``"batch"`` (classifiers, minimax GANs), ``"layer"`` (critics
            under a gradient penalty, which must not mix samples) or ``"none"``.
    """

    channels: int = 1
    image_size: int = 28
    width: int = 32
    feature_dim: int = 256
    norm: str = "batch"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size < 8 or self.width < 1 or self.feature_dim < 1:
            raise ConfigError(f"invalid trunk shape: {self}")


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # LayerNorm over (C, H, W), per sample
    return nn.Identity()


def _norm1d(kind: str, features: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()


def _conv_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


class ConvTrunk(nn.Module):
    """Image -> feature vector: three strided conv blocks and a linear layer.

    Shapes for the default 1 x 28 x 28, width 32:
    (N, 1, 28, 28) -> (N, 32, 14, 14) -> (N, 64, 7, 7) -> (N, 128, 4, 4)
    -> (N, feature_dim).
    """

    def __init__(self, config: TrunkConfig) -> None:
        super().__init__()
        self.config = config
        w, norm = config.width, config.norm
        self.blocks = nn.Sequential(
            nn.Conv2d(config.channels, w, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=norm == "none"),
            _norm2d(norm, 2 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1, bias=norm == "none"),
            _norm2d(norm, 4 * w),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        side = config.image_size
        for kernel, stride, padding in ((4, 2, 1), (4, 2, 1), (3, 2, 1)):
            side = _conv_side(side, kernel, stride, padding)
        self.project = nn.Sequential(
            nn.Linear(4 * w * side * side, config.feature_dim, bias=norm == "none"),
            _norm1d(norm, config.feature_dim),
            nn.LeakyReLU(0.2),
        )

    def stages(self) -> list[nn.Module]:
        """The trunk's four layers in input-to-output order (three conv blocks, the
        linear projection): the units that FreezeD freezes from the bottom up."""
        return [self.blocks[0:2], self.blocks[2:5], self.blocks[5:9], self.project]

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim)."""
        return self.project(self.blocks(images))


__all__ = ["ConvTrunk", "TrunkConfig"]
