"""Image-to-image translator: an image of one domain in, the same image in another domain's style out.

The CycleGAN generator (Zhu et al. 2017; Johnson et al. 2016) shrunk for
digits: stride-2 down-samplings to a working side of at most 8 pixels
(two at 28 and 32 px, three at 64, four at 128; see
:func:`~gantransfer.models.architecture.translator_downsamplings`), residual
blocks at that side, as many stride-2 up-samplings and a tanh. At that side
the residual blocks' receptive field is as large as a digit, so a
translation can change a digit's size and stroke width, not only its local
texture. CycleGAN's full-resolution 7 x 7 input and output convolutions are
left out: on 28 x 28 grey digits they doubled the time of a training step on
a CPU.

With ``skip`` the network predicts a change of the input rather than a new
image: ``tanh(atanh(x) + residual(x))`` with the last layer initialised to
zero, so an untrained translator is the identity. That suits domains that
differ in texture or colour; MNIST -> USPS needs digits made larger, which
a translator anchored to its input learnt worse (measured: a classifier
trained on its translations did worse than on untranslated digits), so it
is off by default.

With ``noise`` the translator also takes PixelDA's noise vector (Bousmalis
et al. 2017): ``z`` uniform in [-1, 1], mapped by a fully connected layer
to one extra input channel of the image's size. Without it a translation
is a function of the image alone, and a source with empty grounds (MNIST's
black) can only get one target-style ground per digit shape, where the
target's grounds (MNIST-M's photo patches) differ from image to image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .architecture import translator_downsamplings

NORMS = ("instance", "batch", "none")
# Inputs are clamped to +-(1 - _EDGE) before atanh, which is infinite at +-1.
_EDGE = 0.02


@dataclass(frozen=True)
class TranslatorConfig:
    """Shape of a :class:`Translator`.

    Args:
        channels: image channels, 1 or 3 (input and output alike).
        image_size: image side; a multiple of 4 (28, 32, 64 and 128 are tested).
        width: channels after the first down-sampling; each further one
            doubles them, and the residual blocks have as many as the last.
        residual_blocks: residual blocks at the working side, >= 0.
        norm: ``instance`` (CycleGAN's choice: per image, so a translation
            does not depend on the rest of its batch and train and eval mode
            agree), ``batch`` or ``none``.
        skip: learn a change of the input, starting from the identity.
        noise: length of the noise vector ``z`` the translator takes beside
            its image (0: none, a deterministic translation).
    """

    channels: int = 1
    image_size: int = 28
    width: int = 16
    residual_blocks: int = 3
    norm: str = "instance"
    skip: bool = False
    noise: int = 0

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size % 4 or self.image_size < 8:
            raise ConfigError(f"translator image_size must be a multiple of 4 and >= 8, got {self.image_size}")
        if self.width < 1 or self.residual_blocks < 0 or self.noise < 0:
            raise ConfigError(f"translator width must be >= 1, residual_blocks and noise >= 0, got {self}")
        if self.norm not in NORMS:
            raise ConfigError(f"translator norm must be one of {', '.join(NORMS)}, got {self.norm!r}")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def _block(kind: str, conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, _norm(kind, channels), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))`` with 3 x 3 convolutions; shape unchanged."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=norm == "none"),
            _norm(norm, channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=norm == "none"),
            _norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Translator(nn.Module):
    """Image (N, C, S, S) in [-1, 1] -> image (N, C, S, S) in [-1, 1].

    Shapes for 1 x 28 x 28, width 16 (w): (N, 1, 28, 28) -> (N, w, 14, 14)
    -> (N, 2w, 7, 7) -> residual blocks -> (N, w, 14, 14) -> (N, 1, 28, 28);
    at 64 px: (N, C, 64, 64) -> (N, w, 32, 32) -> (N, 2w, 16, 16) -> (N, 4w, 8, 8)
    -> residual blocks -> (N, 2w, 16, 16) -> (N, w, 32, 32) -> (N, C, 64, 64).
    With ``noise`` its map is one more input channel.
    """

    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        self.config = config
        norm, bias = config.norm, config.norm == "none"
        widths = [config.width * 2**i for i in range(translator_downsamplings(config.image_size))]
        self.noise_map = nn.Linear(config.noise, config.image_size**2) if config.noise else None
        inputs = config.channels + (1 if config.noise else 0)
        self.encoder = nn.Sequential(
            *(_block(norm, nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias), c_out)
              for c_in, c_out in zip([inputs] + widths[:-1], widths))
        )
        self.residual = nn.Sequential(*(ResidualBlock(widths[-1], norm) for _ in range(config.residual_blocks)))
        self.decoder = nn.Sequential(
            *(_block(norm, nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias), c_out)
              for c_in, c_out in zip(widths[:0:-1], widths[-2::-1])),
            nn.ConvTranspose2d(widths[0], config.channels, 4, 2, 1),
        )
        if config.skip:
            nn.init.zeros_(self.decoder[-1].weight)
            nn.init.zeros_(self.decoder[-1].bias)

    def draw_noise(self, count: int, generator: torch.Generator | None = None) -> Tensor | None:
        """``count`` noise vectors (count, noise), uniform in [-1, 1], on the translator's
        device (drawn on the CPU, so that a seeded ``generator`` gives the same ones
        everywhere); None for a translator without noise."""
        if not self.config.noise:
            return None
        device = self.noise_map.weight.device
        return (torch.rand(count, self.config.noise, generator=generator) * 2 - 1).to(device)

    def forward(self, images: Tensor, noise: Tensor | None = None) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, C, S, S) in [-1, 1], in train and eval mode alike (instance norm).

        ``noise`` (N, noise) in [-1, 1] for a translator with noise: drawn from the
        global generator when not given; ignored by one without.
        """
        inputs = images
        if self.noise_map is not None:
            if noise is None:
                noise = self.draw_noise(len(images))
            side = self.config.image_size
            inputs = torch.cat([images, self.noise_map(noise).view(-1, 1, side, side)], dim=1)
        out = self.decoder(self.residual(self.encoder(inputs)))
        if self.config.skip:
            out = out + torch.atanh(images.clamp(-1 + _EDGE, 1 - _EDGE))
        return torch.tanh(out)
