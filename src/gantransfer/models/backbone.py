"""Torchvision classification networks as trunks, and :func:`build_trunk`, which picks a trunk for a config.

A :class:`TorchvisionTrunk` follows Transfer-Learning-Library's ``ImageClassifier``
(backbone -> global pooling -> bottleneck; the head is the classifier's): the
torchvision model with its final classifier layer removed gives pooled
features (global average pooling for ResNets), and a bottleneck
``Linear -> BatchNorm1d -> ReLU`` brings them to ``feature_dim``, the size
every method reads (``classifier.features``, DANN's and ADDA's domain
discriminators). The bottleneck belongs to the trunk, as :class:`ConvTrunk`'s
final linear layer does, so "the trunk" is one thing for every backbone:
what ADDA adapts, what ``freeze_trunk`` fixes, what learns ``trunk_lr_scale``
times slower once transferred.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, first_line
from .sngan import ResidualTrunk
from .trunk import CONV, SNGAN, ConvTrunk, TrunkConfig, _norm1d

# Constants of torchvision's ImageNet presets (``weights.transforms()``), for inputs in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Networks whose training forward also returns auxiliary classifiers' logits.
_AUXILIARY_HEADS = ("googlenet", "inception_v3")


class InputAdapter(nn.Module):
    """Images (N, 1 or 3, S, S) in [-1, 1] -> (N, 3, S, S) as the backbone expects them.

    Grey images are repeated to 3 channels (so that RGB weights fit); with
    ``normalization="imagenet"`` the result is ``(x01 - mean) / std`` for
    ``x01 = (x + 1) / 2``, what torchvision's ``Normalize`` does after ``ToTensor``.
    The constants are derived from the config, not stored, so a saved
    classifier holds only weights and applies the normalisation its config names.
    """

    def __init__(self, channels: int, normalization: str) -> None:
        super().__init__()
        self.grey = channels == 1
        self.normalize = normalization == "imagenet"
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        # (x + 1) / 2 then (. - mean) / std, folded into one affine map.
        self.register_buffer("scale", 0.5 / std, persistent=False)
        self.register_buffer("shift", (0.5 - mean) / std, persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        if self.grey:
            images = images.expand(-1, 3, -1, -1)
        if self.normalize:
            images = images * self.scale + self.shift
        return images


def _remove_head(model: nn.Module, name: str) -> tuple[str, int]:
    """Replace ``model``'s final linear classifier layer by the identity; return its
    name and input width (the length of the features the model now returns)."""
    linears = [(key, module) for key, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigError(f"backbone {name} has no final linear classifier layer to remove; choose another")
    key, layer = linears[-1]
    parent_name, _, child = key.rpartition(".")
    setattr(model.get_submodule(parent_name), child, nn.Identity())
    return key, layer.in_features


def _has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class TorchvisionTrunk(nn.Module):
    """Image -> feature vector through a torchvision classification network.

    ``input`` (grey to RGB, ImageNet normalisation) -> ``backbone`` (the
    torchvision model, final classifier layer removed: pooled features
    (N, D), D = 512 for ResNet-18/34, 2048 for ResNet-50) -> ``bottleneck``
    (Linear D -> feature_dim, BatchNorm1d, ReLU) -> (N, feature_dim).
    Random weights; :meth:`load_backbone_state` loads pretrained ones.
    """

    def __init__(self, config: TrunkConfig) -> None:
        super().__init__()
        import torchvision

        if config.backbone in _AUXILIARY_HEADS:
            raise ConfigError(f"backbone {config.backbone} returns auxiliary classifier outputs in training; "
                              "it is not supported as a trunk (resnet50 is a close alternative)")
        self.config = config
        self.input = InputAdapter(config.channels, config.input_normalization)
        self.backbone = torchvision.models.get_model(config.backbone, weights=None)
        self.removed_head, width = _remove_head(self.backbone, config.backbone)
        if config.norm != "batch" and _has_batch_norm(self.backbone):
            raise ConfigError(
                f"norm {config.norm!r} needs a backbone without BatchNorm: {config.backbone} normalises with "
                "BatchNorm layers, which mix the images of a batch (a critic under a gradient penalty must not); "
                "use backbone conv, or norm batch"
            )
        self.bottleneck = nn.Sequential(
            nn.Linear(width, config.feature_dim, bias=config.norm == "none"),
            _norm1d(config.norm, config.feature_dim),
            nn.ReLU(),
        )
        self._check_input_size(width)

    def _check_input_size(self, width: int) -> None:
        """Fail now, in one line, for image sizes the network cannot take (ViTs want 224 x 224, say)."""
        config = self.config
        probe = torch.zeros(1, config.channels, config.image_size, config.image_size)
        training = self.training
        self.eval()  # no BatchNorm statistics updated, no randomness drawn
        try:
            with torch.no_grad():
                shape = tuple(self.backbone(self.input(probe)).shape)
        except Exception as error:  # torchvision reports size errors in several exception types
            raise ConfigError(f"backbone {config.backbone} cannot take {config.channels} x {config.image_size} x "
                              f"{config.image_size} images: {first_line(error)}") from None
        finally:
            self.train(training)
        if shape != (1, width):
            raise ConfigError(f"backbone {config.backbone} gives features of shape {shape} without its "
                              f"classifier layer, not (N, {width}); choose another backbone")

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def stages(self) -> list[nn.Module]:
        """The backbone's top-level layers that hold weights, in input-to-output order,
        then the bottleneck (ResNets: conv1, bn1, layer1..layer4, bottleneck)."""
        layers = [child for child in self.backbone.children() if any(True for _ in child.parameters())]
        return [*layers, self.bottleneck]

    def load_backbone_state(self, state: dict[str, Tensor]) -> None:
        """Load a state dict of the torchvision model (its classifier layer's entries are ignored).

        Raises :class:`ConfigError` when the keys or shapes do not fit.
        """
        prefix = self.removed_head + "."
        state = {key: value for key, value in state.items() if not key.startswith(prefix)}
        try:
            missing, unexpected = self.backbone.load_state_dict(state, strict=False)
        except RuntimeError as error:
            raise ConfigError(f"not {self.config.backbone} weights ({first_line(error)})") from None
        if missing or unexpected:
            parts = [f"{label} {', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}"
                     for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
            raise ConfigError(f"not a state dict of torchvision's {self.config.backbone} ({'; '.join(parts)})")

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim); N >= 2 in training mode (BatchNorm)."""
        if self.training and images.shape[0] < 2 and self.config.norm == "batch":
            raise ConfigError(f"{self.config.backbone}'s BatchNorm needs at least 2 images per training batch, "
                              f"got {images.shape[0]}: raise the batch size")
        return self.bottleneck(self.backbone(self.input(images)))


def build_trunk(config: TrunkConfig) -> nn.Module:
    """The trunk ``config`` names: (N, C, S, S) in [-1, 1] -> (N, feature_dim); every
    kind has ``feature_dim`` and ``stages()``."""
    if config.backbone == CONV:
        return ConvTrunk(config)
    if config.backbone == SNGAN:
        return ResidualTrunk(config)
    return TorchvisionTrunk(config)


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "InputAdapter", "TorchvisionTrunk", "build_trunk"]
