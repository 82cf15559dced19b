"""Synth-digits: printed digits in the manner of SynDigits (Ganin & Lempitsky 2015).

Each 3 x 32 x 32 colour image shows one digit, its label, printed in a
TrueType font (:mod:`.fonts`), with random ink and background colours (at
least :attr:`SynthRecipe.contrast` apart in luminance), size, position,
rotation and blur, a faint background gradient and noise, and, as in
SynDigits' crops of printed numbers, parts of neighbouring digits left and
right of it.

The digits are rendered once per font with Pillow into glyph tiles; the
images are then composed in batches with ``affine_grid`` / ``grid_sample``
(each glyph placed by its own affine map), drawn at twice the size and
averaged down (antialiasing), and blurred with a per-image Gaussian by a
grouped convolution, so a build is fast: the default 50,000 + 10,000 images
took 63 s (53 s + 10 s) on 2 CPU cores shared with other jobs (load average
about 6; about 1 ms per image). Splits are built once into
``<cache dir>/built/synth-digits-<key>/`` as uint8 arrays, train and test
with their own seeds (the same fonts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import ConfigError
from ..images import RawImages
from ..locations import DataLocations
from .built import built_images, files_digest, load_or_build, recipe_key
from .fonts import DIGIT_HEIGHT, GlyphTiles, font_files, matplotlib_font_files, render_digits
from .registry import register_reader

CLASS_NAMES = tuple(str(digit) for digit in range(10))
BUILD_SEEDS = {"train": 0, "test": 1}
#: bump when the recipe changes, so that caches of the old recipe are not reused (2: composed in float64)
RECIPE_VERSION = 2
#: side of the glyph tiles the images are sampled from
TILE_SIDE = 96
#: images composed at once (bounds memory: a few hundred MB at most)
CHUNK = 2048
_LUMA = np.array([0.299, 0.587, 0.114])
_BLUR_RADIUS = 3  # kernel of 7 taps: enough for sigma up to about 1.5 pixels
#: Images are composed in float64 and rounded to uint8 at the end. In float32 the same seed built other
#: bytes on another machine (docs/guide-domains.md): last-bit differences move a pixel across a rounding boundary
#: thousands of times in a build (float32 and float64 builds of one seed differ in 2,583 of the train
#: split's 153.6 million values); in float64 the same bytes came out with torch's plain and AVX-512 kernels.
COMPOSE_DTYPE = torch.float64


@dataclass(frozen=True)
class SynthRecipe:
    """The random variation of synth-digits; each range is drawn uniformly per image.

    Args:
        side: image side in pixels.
        height: the digit's height as a fraction of the side, (low, high).
        degrees: rotation drawn from [-degrees, degrees].
        shift: the digit's centre moved by up to this fraction of the side, each axis.
        spacing: extra gap between neighbouring digits, as a fraction of the digit height, (low, high).
        neighbours: probability of a (partly visible) neighbouring digit on each side.
        blur: Gaussian blur sigma in pixels, (low, high); at most 1.5.
        contrast: least luminance difference between ink and background, in [0, 0.9].
        gradient: amplitude of a linear background gradient (fraction of full scale).
        noise: standard deviation of Gaussian pixel noise (fraction of full scale).
    """

    side: int = 32
    height: tuple[float, float] = (0.55, 0.85)
    degrees: float = 12.0
    shift: float = 0.06
    spacing: tuple[float, float] = (-0.1, 0.15)
    neighbours: float = 0.7
    blur: tuple[float, float] = (0.0, 1.0)
    contrast: float = 0.3
    gradient: float = 0.15
    noise: float = 0.02

    def __post_init__(self) -> None:
        ranges = {"height": (0.05, 1.5), "spacing": (-0.5, 2.0), "blur": (0.0, 1.5)}
        for name, (low, high) in ranges.items():
            a, b = getattr(self, name)
            if not low <= a <= b <= high:
                raise ConfigError(f"synth-digits {name} must be (low, high) within [{low}, {high}], got {(a, b)}")
        if self.side < 8 or not 0 <= self.degrees <= 180 or not 0 <= self.shift < 0.5:
            raise ConfigError("synth-digits side must be >= 8, degrees in [0, 180], shift in [0, 0.5)")
        if not 0 <= self.neighbours <= 1 or not 0 <= self.contrast <= 0.9:
            raise ConfigError("synth-digits neighbours must be in [0, 1], contrast in [0, 0.9]")
        if self.gradient < 0 or self.noise < 0:
            raise ConfigError("synth-digits gradient and noise must be >= 0")


def _colours(rng: np.random.Generator, n: int, contrast: float) -> tuple[np.ndarray, np.ndarray]:
    """Ink and background RGB in [0, 1], (n, 3) each, at least ``contrast`` apart in luminance."""
    ink, background = rng.random((n, 3)), rng.random((n, 3))
    while True:
        bad = np.flatnonzero(np.abs((ink - background) @ _LUMA) < contrast)
        if not len(bad):
            return ink, background
        ink[bad], background[bad] = rng.random((len(bad), 3)), rng.random((len(bad), 3))


def draw_parameters(n: int, fonts: int, rng: np.random.Generator, recipe: SynthRecipe) -> dict[str, np.ndarray]:
    """Every per-image random choice of a build, as arrays of length ``n``.

    ``digit`` is the label; ``left`` / ``right`` are the neighbouring digits,
    drawn only where ``has_left`` / ``has_right``.
    """
    ink, background = _colours(rng, n, recipe.contrast)
    return {
        "font": rng.integers(fonts, size=n),
        "digit": rng.integers(10, size=n),
        "left": rng.integers(10, size=n),
        "right": rng.integers(10, size=n),
        "has_left": rng.random(n) < recipe.neighbours,
        "has_right": rng.random(n) < recipe.neighbours,
        "height": rng.uniform(*recipe.height, size=n),
        "angle": np.radians(rng.uniform(-recipe.degrees, recipe.degrees, size=n)),
        "shift": rng.uniform(-recipe.shift, recipe.shift, size=(n, 2)),
        "spacing": rng.uniform(*recipe.spacing, size=n),
        "blur": rng.uniform(*recipe.blur, size=n),
        "ink": ink,
        "background": background,
        "gradient": rng.uniform(-recipe.gradient, recipe.gradient, size=(n, 2)),
    }


def _centre_map(p: dict[str, Tensor], side: int) -> Tensor:
    """Affine maps (n, 2, 3) from canvas coordinates to the centre digit's tile coordinates,
    for ``affine_grid`` / ``grid_sample`` with ``align_corners=False``: rotation by ``angle``,
    zoom to ``height``, and ``shift``."""
    zoom = p["height"] * side / (DIGIT_HEIGHT * TILE_SIDE)  # canvas pixels per tile pixel
    cos, sin = torch.cos(p["angle"]), torch.sin(p["angle"])
    su, sv = p["shift"][:, 0] * side, p["shift"][:, 1] * side
    scale = side / TILE_SIDE / zoom  # canvas half-side over tile half-side, in tile pixels
    half = TILE_SIDE / 2
    row0 = torch.stack([cos * scale, sin * scale, -(cos * su + sin * sv) / zoom / half], dim=1)
    row1 = torch.stack([-sin * scale, cos * scale, (sin * su - cos * sv) / zoom / half], dim=1)
    return torch.stack([row0, row1], dim=1)


def _blur(images: Tensor, sigma: Tensor) -> Tensor:
    """Separable Gaussian blur of (n, 1, H, W) with a sigma per image (0 leaves it unchanged)."""
    n = images.shape[0]
    taps = torch.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=images.dtype)
    kernel = torch.exp(-taps[None] ** 2 / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    x = F.pad(images.view(1, n, *images.shape[-2:]), [_BLUR_RADIUS] * 4, mode="replicate")
    x = F.conv2d(x, kernel.view(n, 1, -1, 1), groups=n)
    x = F.conv2d(x, kernel.view(n, 1, 1, -1), groups=n)
    return x.view_as(images)


def compose_chunk(tiles: Tensor, advances: Tensor, p: dict[str, Tensor], recipe: SynthRecipe,
                  noise: Tensor) -> Tensor:
    """The images of one chunk of parameters.

    Args:
        tiles: float (fonts * 10 + 1, 1, T, T) glyph tiles, font-major, then an empty tile.
        advances: float (fonts,) digit advance per font, in tile pixels.
        p: :func:`draw_parameters` output for the chunk, as tensors.
        noise: float (n, 3, side, side) standard normal noise.

    Returns:
        uint8 (n, 3, side, side), composed in :data:`COMPOSE_DTYPE` whatever the inputs' float type.
    """
    tiles, advances, noise = (t.to(COMPOSE_DTYPE) for t in (tiles, advances, noise))
    p = {key: value.to(COMPOSE_DTYPE) if value.is_floating_point() else value for key, value in p.items()}
    n, side = p["digit"].shape[0], recipe.side
    canvas = 2 * side  # drawn at twice the size, then averaged down
    grid = F.affine_grid(_centre_map(p, canvas), [n, 1, canvas, canvas], align_corners=False)
    # Neighbours sit one advance (plus spacing) along the rotated baseline: the same map, shifted in the tile.
    step = (advances[p["font"]] + p["spacing"] * DIGIT_HEIGHT * TILE_SIDE) / (TILE_SIDE / 2)
    blank = tiles.shape[0] - 1  # the last tile is empty: an absent neighbour samples it
    ink = F.grid_sample(tiles[p["font"] * 10 + p["digit"]], grid, mode="bilinear", align_corners=False)
    for offset, digit, present in ((-1, p["left"], p["has_left"]), (1, p["right"], p["has_right"])):
        index = torch.where(present > 0, p["font"] * 10 + digit, blank)
        moved = grid + torch.stack([offset * step, torch.zeros_like(step)], 1)[:, None, None]
        torch.maximum(ink, F.grid_sample(tiles[index], moved, mode="bilinear", align_corners=False), out=ink)
    ink = _blur(F.avg_pool2d(ink, 2), p["blur"])
    coords = (torch.arange(side, dtype=COMPOSE_DTYPE) + 0.5) / side - 0.5
    ramp = p["gradient"][:, 0, None, None] * coords[None, :, None] + p["gradient"][:, 1, None, None] * coords[None, None, :]
    background = p["background"][:, :, None, None] + ramp[:, None]
    images = background * (1 - ink) + p["ink"][:, :, None, None] * ink + recipe.noise * noise
    return images.clamp_(0, 1).mul_(255).round_().to(torch.uint8)


def _as_tensors(params: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """Indices as int64 tensors, everything else (flags included) as float32."""
    return {key: torch.from_numpy(np.ascontiguousarray(value)).long() if value.dtype.kind in "iu"
            else torch.from_numpy(np.ascontiguousarray(value)).float() for key, value in params.items()}


def compose_synth_digits(count: int, fonts: list[GlyphTiles], seed: int,
                         recipe: SynthRecipe = SynthRecipe()) -> tuple[np.ndarray, np.ndarray]:
    """``count`` synth-digits images printed in ``fonts``, and their labels.

    Args:
        count: number of images, >= 1.
        fonts: glyph tiles of each font (:func:`~.fonts.render_digits` at :data:`TILE_SIDE`).
        seed: every random choice follows from it: same seed, same bytes.
        recipe: the ranges of the random variation.

    Returns:
        ``(x, y)``: uint8 (count, 3, side, side) and int64 (count,) labels in
        0..9, the digit printed at the centre.
    """
    rng = np.random.default_rng(seed)
    params = draw_parameters(count, len(fonts), rng, recipe)
    blank = np.zeros((1, TILE_SIDE, TILE_SIDE), np.float32)
    tiles = torch.from_numpy(np.concatenate([font.tiles for font in fonts] + [blank]))[:, None]
    advances = torch.tensor([font.advance for font in fonts], dtype=torch.float32)
    images = np.empty((count, 3, recipe.side, recipe.side), np.uint8)
    for start in range(0, count, CHUNK):
        chunk = _as_tensors({key: value[start:start + CHUNK] for key, value in params.items()})
        n = chunk["digit"].shape[0]
        noise = torch.from_numpy(rng.standard_normal((n, 3, recipe.side, recipe.side), dtype=np.float32))
        images[start:start + n] = compose_chunk(tiles, advances, chunk, recipe, noise).numpy()
    return images, params["digit"].astype(np.int64)


def _font_paths(locations: DataLocations) -> tuple[Path, list[Path]]:
    folder = locations.build.fonts
    if folder is None:
        files = matplotlib_font_files()
        return files[0].parent, files
    root = Path(folder).expanduser()
    return root, font_files(root)


def built_path(split: str, count: int, locations: DataLocations, fonts_digest: str,
               recipe: SynthRecipe = SynthRecipe()) -> Path:
    """Where the split of ``count`` images printed in the fonts of ``fonts_digest`` is cached:
    one folder per fonts and recipe, one file per split and size."""
    key = recipe_key({"version": RECIPE_VERSION, "seeds": BUILD_SEEDS, "fonts": fonts_digest, "tile": TILE_SIDE,
                      "recipe": asdict(recipe)})
    return locations.built_dir / f"synth-digits-{key}" / f"{split}-{count}.npz"


def read_synth_digits(split: str, locations: DataLocations, download: bool) -> RawImages:
    """Synth-digits' ``split`` (``synth_digits_train`` / ``_test`` images), built on first use and cached."""
    build = locations.build
    count = build.synth_digits_train if split == "train" else build.synth_digits_test
    root, paths = _font_paths(locations)
    path = built_path(split, count, locations, files_digest(root, paths))

    def make() -> tuple[np.ndarray, np.ndarray]:
        return compose_synth_digits(count, [render_digits(font, TILE_SIDE) for font in paths], BUILD_SEEDS[split])

    x, y = load_or_build(path, make)
    return built_images(x, y, CLASS_NAMES, str(path))


register_reader("synth-digits", read_synth_digits)
