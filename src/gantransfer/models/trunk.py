"""The trunk config shared by discriminators and classifiers, and the small convolutional trunk.

One architecture for both is what makes model transfer possible: a
classifier built from the same :class:`TrunkConfig` can load a GAN
discriminator's trunk weights unchanged. :mod:`.backbone` builds the trunk a
config names: :class:`ConvTrunk` (``backbone="conv"``) or a torchvision network.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

from torch import Tensor, nn

from ..config import added_field
from ..errors import ConfigError

NORMS = ("batch", "layer", "none")
#: the library's own small trunk; every other backbone is a torchvision classification model
CONV = "conv"
INPUT_NORMALIZATIONS = ("none", "imagenet")
_CONV_WIDTH = 32


@functools.cache
def torchvision_backbones() -> tuple[str, ...]:
    """Names of torchvision's image classification models (``torchvision.models.list_models``)."""
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def check_backbone(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is ``conv`` or a torchvision classification model."""
    if name == CONV or name in torchvision_backbones():
        return
    close = difflib.get_close_matches(name, (CONV, *torchvision_backbones()), n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ConfigError(
        f"backbone must be conv or a torchvision classification model (resnet18, resnet34, resnet50, ...: "
        f"torchvision.models.list_models()), got {name!r}{hint}"
    )


@dataclass(frozen=True)
class TrunkConfig:
    """Shape of a trunk: images (N, channels, image_size, image_size) in [-1, 1] -> (N, feature_dim).

    Args:
        channels: input image channels, 1 or 3.
        image_size: input side in pixels; 28 and 32 are the tested sizes of ``conv``.
        width: ``conv`` only: channels of the first convolution; each block doubles it.
        feature_dim: length of the feature vector ``features(x)`` returns (for a
            torchvision backbone: the size of the bottleneck after its pooled features).
        norm: ``"batch"`` (classifiers, minimax GANs), ``"layer"`` (critics
            under a gradient penalty, which must not mix samples) or ``"none"``;
            for a torchvision backbone it is the bottleneck's, and only
            ``"batch"`` is allowed when the backbone has BatchNorm layers of its own.
        backbone: ``"conv"`` (:class:`ConvTrunk`) or the name of a torchvision
            classification model (``resnet18``...), whose final classifier layer is removed.
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
    backbone: str = added_field(CONV)
    input_normalization: str = added_field("none")
    pretrained: str = added_field("")

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size < 8 or self.width < 1 or self.feature_dim < 1:
            raise ConfigError(f"invalid trunk shape: {self}")
        check_backbone(self.backbone)
        if self.input_normalization not in INPUT_NORMALIZATIONS:
            raise ConfigError(f"input_normalization must be one of {', '.join(INPUT_NORMALIZATIONS)}, "
                              f"got {self.input_normalization!r}")
        if self.backbone == CONV and (self.input_normalization != "none" or self.pretrained):
            raise ConfigError("the conv backbone has no pretrained weights: input_normalization and pretrained "
                              "are for torchvision backbones")
        if self.backbone != CONV and self.width != _CONV_WIDTH:
            raise ConfigError(f"width sets the conv backbone's channels; {self.backbone} has its own "
                              f"(leave width at {_CONV_WIDTH})")

    @property
    def description(self) -> str:
        """The architecture in a few words, for messages: ``conv 28px``, ``resnet18 64px``."""
        return f"{self.backbone} {self.image_size}px"


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


def check_input(images: Tensor, config: TrunkConfig) -> None:
    """Raise ``ValueError`` with a readable message if ``images`` do not fit ``config``."""
    expected = (config.channels, config.image_size, config.image_size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(f"expected images of shape (N, {', '.join(map(str, expected))}), got {tuple(images.shape)}")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["CONV", "ConvTrunk", "TrunkConfig", "check_backbone", "check_input", "count_parameters", "torchvision_backbones"]
