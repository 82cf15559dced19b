"""The GAN network families, and how the depth of every network follows the image side.

DCGAN at 64 x 64 (Radford et al. 2016) is the reference: the generator starts
from a 4 x 4 map and doubles it with one up-sampling block per doubling
(4 -> 8 -> 16 -> 32 -> 64), halving the channels each block; the
discriminator mirrors it with one stride-2 block per halving down to 4 x 4,
doubling the channels. A 128 px network therefore has one block more than a
64 px one, rather than one huge linear layer over a large final map. SNGAN's
residual networks (``"sngan"``, :mod:`.sngan`) follow the same rules.

Sides that are not powers of two:

- generator: ``size = base * 2**n`` with a base side of 4 to 7 pixels
  (28 = 7 x 4, 32 = 4 x 8, 48 = 6 x 8, 96 = 6 x 16, 224 = 7 x 32); a side
  with an odd factor above 7 (36 = 9 x 4) has no such base and is refused;
- discriminator / classifier trunk: halve, rounding up, until the side is at
  most 4 (28 -> 14 -> 7 -> 4: the three blocks the 28 px trunk always had);
  any side from 8 up works;
- translator: see :func:`translator_downsamplings`.
"""

from __future__ import annotations

from ..errors import ConfigError

ARCHITECTURES = ("dcgan", "sngan")


def check_architecture(name: str) -> None:
    if name not in ARCHITECTURES:
        raise ConfigError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {name!r}")


def generator_plan(image_size: int) -> tuple[int, int]:
    """``(base_side, doublings)`` with ``base_side * 2**doublings == image_size`` and
    ``base_side`` in 4..7: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5).

    Raises :class:`ConfigError` for sides with no such base (36, 44, 60...).
    """
    side, doublings = image_size, 0
    while side > 7 and side % 2 == 0:
        side //= 2
        doublings += 1
    if not 4 <= side <= 7:
        raise ConfigError(
            f"generator image_size must be a base side of 4 to 7 pixels doubled n times "
            f"(e.g. 28, 32, 48, 64, 96, 128, 224), got {image_size}"
        )
    return side, doublings


def trunk_blocks(image_size: int) -> int:
    """Stride-2 blocks of a discriminator / classifier trunk: halvings, rounding up,
    until the side is at most 4 (28 and 32 -> 3, 64 -> 4, 128 -> 5, 224 -> 6)."""
    side, blocks = image_size, 0
    while side > 4:
        side = -(-side // 2)
        blocks += 1
    return blocks


def translator_downsamplings(image_size: int) -> int:
    """Stride-2 down-samplings of a translator: halve while the side is even and above
    8 px, and at least twice (28 -> 7, 32 -> 8, 64 -> 8, 128 -> 8 after 2, 2, 3, 4).

    The residual blocks work at that side, so their 3 x 3 convolutions (13 x 13
    pixels of it for three blocks) see a whole digit at any resolution, and a
    translation can change a digit's size and strokes, not only its texture.
    CycleGAN's two down-samplings at 256 px (Zhu et al. 2017) keep a 64 px
    working side, where nine residual blocks see only a part of the image: the
    right choice for textures of scenes, not for the shape of a centred object.
    A side with an odd factor stops early (36 -> 9, 100 -> 25) and works at
    that larger side.
    """
    side, downsamplings = image_size, 0
    while side % 2 == 0 and side > 8:
        side //= 2
        downsamplings += 1
    return max(downsamplings, 2)


__all__ = ["ARCHITECTURES", "check_architecture", "generator_plan", "translator_downsamplings", "trunk_blocks"]
