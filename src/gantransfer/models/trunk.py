"""The trunk config shared by discriminators and classifiers, and the small convolutional trunk.

One architecture for both is what makes model transfer possible: a
classifier built from the same :class:`TrunkConfig` can load a GAN
discriminator's trunk weights unchanged. :func:`~gantransfer.models.backbone.build_trunk`
builds the trunk a config names: :class:`ConvTrunk` (``backbone="conv"``), SNGAN's
residual trunk (``"sngan"``) or a torchvision network.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

from torch import Tensor, nn

from ..errors import ConfigError
from .architecture import trunk_blocks

NORMS = ("batch", "layer", "instance", "none")
#: the library's own small trunk (DCGAN's discriminator layout)
CONV = "conv"
#: SNGAN's spectrally normalised residual trunk (Miyato et al. 2018)
SNGAN = "sngan"
INPUT_NORMALIZATIONS = ("none", "imagenet")
_CONV_WIDTH = 32


@functools.cache
def torchvision_backbones() -> tuple[str, ...]:
    """Names of torchvision's image classification models (``torchvision.models.list_models``)."""
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def check_backbone(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is ``conv``, ``sngan`` or a torchvision classification model."""
    if name in (CONV, SNGAN) or name in torchvision_backbones():
        return
    close = difflib.get_close_matches(name, (CONV, SNGAN, *torchvision_backbones()), n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ConfigError(
        f"backbone must be conv, sngan or a torchvision classification model (resnet18, resnet34, resnet50, ...: "
        f"torchvision.models.list_models()), got {name!r}{hint}"
    )


@dataclass(frozen=True)
class TrunkConfig:
    """Shape of a trunk: images (N, channels, image_size, image_size) in [-1, 1] -> (N, feature_dim).

    Args:
        channels: input image channels, 1 or 3.
        image_size: input side in pixels, >= 8; ``conv`` and ``sngan`` have one
            stride-2 block per halving down to at most 4 x 4 (see :mod:`.architecture`).
        width: ``conv`` and ``sngan`` only: channels of the first block; each block doubles it.
        feature_dim: length of the feature vector ``features(x)`` returns (for a
            torchvision backbone: the size of the bottleneck after its pooled features).
        norm: ``"batch"`` (classifiers, minimax GANs), ``"layer"`` (critics
            under a gradient penalty, which must not mix samples) or ``"none"``
            (``sngan``, whose layers are spectrally normalised instead); for a
            torchvision backbone it is the bottleneck's, and only ``"batch"`` is
            allowed when the backbone has BatchNorm layers of its own.
        backbone: ``"conv"`` (:class:`ConvTrunk`), ``"sngan"``
            (:class:`~gantransfer.models.sngan.ResidualTrunk`) or the name of a
            torchvision classification model (``resnet18``...), whose final
            classifier layer is removed.
        input_normalization: ``"imagenet"``: the trunk maps its [-1, 1] input to
            ImageNet's mean and std before the backbone, as torchvision's
            pretrained weights expect; ``"none"``: the backbone sees [-1, 1].
        pretrained: where the backbone's weights came from before any training
            here (``"imagenet:ResNet18_Weights.IMAGENET1K_V1"``, ``"sha256:<digest>"``
            of a weights file; empty: random). A record only: building a trunk never
            reads it, so a saved classifier loads without the weights file.
    """

    channels: int = 1
    image_size: int = 28
    width: int = _CONV_WIDTH
    feature_dim: int = 256
    norm: str = "batch"
    backbone: str = CONV
    input_normalization: str = "none"
    pretrained: str = ""

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size < 8 or self.width < 1 or self.feature_dim < 1:
            raise ConfigError(f"invalid trunk shape: {self}")
        check_backbone(self.backbone)
        if self.backbone == SNGAN and self.norm != "none":
            raise ConfigError(f"the sngan trunk is spectrally normalised and takes norm 'none', got {self.norm!r}")
        if self.input_normalization not in INPUT_NORMALIZATIONS:
            raise ConfigError(f"input_normalization must be one of {', '.join(INPUT_NORMALIZATIONS)}, "
                              f"got {self.input_normalization!r}")
        if self.backbone in (CONV, SNGAN) and (self.input_normalization != "none" or self.pretrained):
            raise ConfigError(f"the {self.backbone} backbone has no pretrained weights: input_normalization and "
                              "pretrained are for torchvision backbones")
        if self.backbone not in (CONV, SNGAN) and self.width != _CONV_WIDTH:
            raise ConfigError(f"width sets the conv backbone's channels; {self.backbone} has its own "
                              f"(leave width at {_CONV_WIDTH})")

    @property
    def num_stages(self) -> int:
        """The units ``stages()`` returns for ``conv`` and ``sngan``: the stride-2 blocks and the projection."""
        return trunk_blocks(self.image_size) + 1

    @property
    def description(self) -> str:
        """The architecture in a few words, for messages: ``conv 28px``, ``resnet18 64px``."""
        return f"{self.backbone} {self.image_size}px"


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # LayerNorm over (C, H, W), per sample
    if kind == "instance":
        return nn.GroupNorm(channels, channels)  # each channel over (H, W), per sample, with an affine
    return nn.Identity()


def _norm1d(kind: str, features: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind in ("layer", "instance"):  # a vector has no spatial extent: instance is layer there
        return nn.LayerNorm(features)
    return nn.Identity()


def _conv_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def _down_block(in_channels: int, out_channels: int, kernel: int, norm: str, first: bool) -> list[nn.Module]:
    """Conv (stride 2) -> norm -> LeakyReLU; DCGAN leaves the first block, on the image, unnormalised."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, 2, 1, bias=first or norm == "none")
    return [conv, nn.LeakyReLU(0.2)] if first else [conv, _norm2d(norm, out_channels), nn.LeakyReLU(0.2)]


class ConvTrunk(nn.Module):
    """Image -> feature vector: one strided conv block per halving of the side down to
    at most 4 x 4 (DCGAN's discriminator), channels doubling, and a linear layer.

    Every block has a 4 x 4 kernel but the last, whose 3 x 3 kernel rounds an odd
    side up (7 -> 4). Shapes for the default 1 x 28 x 28, width 32 (w):
    (N, 1, 28, 28) -> (N, w, 14, 14) -> (N, 2w, 7, 7) -> (N, 4w, 4, 4) -> (N, feature_dim);
    at 64 px one block more: (N, C, 64, 64) -> (N, w, 32, 32) -> (N, 2w, 16, 16)
    -> (N, 4w, 8, 8) -> (N, 8w, 4, 4) -> (N, feature_dim).
    """

    def __init__(self, config: TrunkConfig) -> None:
        super().__init__()
        self.config = config
        count = trunk_blocks(config.image_size)
        layers: list[nn.Module] = []
        self._stage_starts = []  # where each block begins in ``blocks``, for stages()
        side, channels = config.image_size, config.channels
        for index in range(count):
            kernel = 3 if index == count - 1 else 4
            self._stage_starts.append(len(layers))
            layers += _down_block(channels, config.width * 2**index, kernel, config.norm, first=index == 0)
            side, channels = _conv_side(side, kernel, 2, 1), config.width * 2**index
        self.blocks = nn.Sequential(*layers, nn.Flatten())
        self.project = nn.Sequential(
            nn.Linear(channels * side * side, config.feature_dim, bias=config.norm == "none"),
            _norm1d(config.norm, config.feature_dim),
            nn.LeakyReLU(0.2),
        )

    def stages(self) -> list[nn.Module]:
        """The trunk's ``config.num_stages`` units in input-to-output order (the conv
        blocks, the linear projection): what FreezeD freezes from the bottom up."""
        ends = self._stage_starts[1:] + [len(self.blocks)]
        return [self.blocks[start:end] for start, end in zip(self._stage_starts, ends)] + [self.project]

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim)."""
        return self.project(self.blocks(images))


__all__ = ["CONV", "SNGAN", "ConvTrunk", "TrunkConfig", "check_backbone", "torchvision_backbones"]
