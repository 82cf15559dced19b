"""Synthetic data the tests draw for themselves (no download): random-blob digits,
seven-segment digit domains with named shifts, and photo-like colour image folders.

A module of its own, not conftest.py: test modules import these helpers, and a
``from conftest import`` finds whichever conftest.py pytest loaded last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def digits_arrays(n: int = 60, size: int = 28, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic labelled images ``(x uint8 (n, size, size), y int (n,))``: each class a bright
    square at a class-specific place on noise."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, size, size)) * 40).astype(np.uint8)
    y = np.arange(n) % classes
    for i, label in enumerate(y):
        row, col = divmod(int(label), 4)
        x[i, 2 + 6 * row : 7 + 6 * row, 2 + 6 * col : 7 + 6 * col] = 255
    return x, y


def write_digits_npz(path: Path, n: int = 60, size: int = 28, classes: int = 10, seed: int = 0) -> Path:
    """:func:`digits_arrays` as a labelled .npz file."""
    x, y = digits_arrays(n, size, classes, seed)
    np.savez(path, x=x, y=y)
    return path


# --- synthetic digits ---------------------------------------------------------------------------
#
# Seven-segment glyphs drawn as strokes with a random size, slant, position and stroke width per
# image: ten classes that look enough like digits for every network here to learn them in a few
# hundred steps, with no download. A DigitStyle is one domain's look; two styles make a domain shift.

_CORNERS = {"tl": (0.0, 0.0), "tr": (1.0, 0.0), "ml": (0.0, 0.5), "mr": (1.0, 0.5), "bl": (0.0, 1.0),
            "br": (1.0, 1.0)}
_SEGMENTS = {"a": ("tl", "tr"), "b": ("tr", "mr"), "c": ("mr", "br"), "d": ("bl", "br"), "e": ("ml", "bl"),
             "f": ("tl", "ml"), "g": ("ml", "mr")}
_GLYPHS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")


def _glyph_table() -> tuple[np.ndarray, np.ndarray]:
    """End points (10, 7, 2, 2) of each class's segments in a unit box (x right, y down), and
    which of the 7 slots each class uses (10, 7)."""
    ends = np.zeros((10, 7, 2, 2))
    used = np.zeros((10, 7), bool)
    for label, glyph in enumerate(_GLYPHS):
        for slot, segment in enumerate(glyph):
            start, end = _SEGMENTS[segment]
            ends[label, slot] = (_CORNERS[start], _CORNERS[end])
            used[label, slot] = True
    return ends, used


@dataclass(frozen=True)
class DigitStyle:
    """How one synthetic digit domain looks. Ranges are drawn uniformly per image.

    Attributes:
        thickness: stroke half-width in pixels.
        height: glyph height in pixels (width is 0.5-0.65 of it).
        slant: horizontal shear (positive leans right).
        rotation: rotation in degrees (positive turns clockwise on screen).
        background, foreground: grey levels in [0, 1] of paper and ink.
        noise: standard deviation of Gaussian pixel noise (grey levels in [0, 1]).
        colour_texture: MNIST-M's recipe on a synthetic photo: each image is
            ``|texture - ink|`` per channel, the texture a smooth random colour field
            (3 channels; background and foreground are then unused).
    """

    thickness: tuple[float, float] = (1.0, 1.6)
    height: tuple[float, float] = (15.0, 18.0)
    slant: tuple[float, float] = (-0.15, 0.15)
    rotation: tuple[float, float] = (0.0, 0.0)
    background: float = 0.0
    foreground: float = 1.0
    noise: float = 0.0
    colour_texture: bool = False


#: the source look: thin upright strokes, white on black, like MNIST
SOURCE_STYLE = DigitStyle()
#: a mild shift (as USPS from MNIST): thicker, larger, slanted strokes; a source classifier still reads them
MILD_SHIFT = DigitStyle(thickness=(1.6, 2.4), height=(18.0, 22.0), slant=(0.1, 0.35))
#: a strong appearance shift: grey, noisy paper; a source classifier reads about one digit in five
GREY_NOISY = DigitStyle(background=0.45, noise=0.15)


def draw_digits(n: int, style: DigitStyle = SOURCE_STYLE, seed: int = 0, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic digits: uint8 images (n, size, size), or (n, size, size, 3) for a
    ``colour_texture`` style, and int64 labels (n,), classes balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    ends, used = _glyph_table()
    points = ends[labels].copy()  # (n, 7, 2, 2)
    height = rng.uniform(*style.height, n)[:, None, None]
    width = height * rng.uniform(0.5, 0.65, n)[:, None, None]
    points[..., 0] = (points[..., 0] - 0.5) * width
    points[..., 1] = (points[..., 1] - 0.5) * height
    points[..., 0] -= rng.uniform(*style.slant, n)[:, None, None] * points[..., 1]
    angle = np.radians(rng.uniform(*style.rotation, n))[:, None, None]
    x, y = points[..., 0].copy(), points[..., 1].copy()
    points[..., 0], points[..., 1] = x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle)
    points += rng.normal(0, 0.5, points.shape)  # wobbly strokes: no two images alike
    points += (size / 2 + rng.uniform(-1.5, 1.5, (n, 2)))[:, None, None, :]
    grid = np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="xy"), -1).reshape(-1, 2)
    start, step = points[:, None, :, 0], points[:, None, :, 1] - points[:, None, :, 0]  # (n, 1, 7, 2)
    along = ((grid[None, :, None] - start) * step).sum(-1) / np.maximum((step * step).sum(-1), 1e-9)
    nearest = start + np.clip(along, 0, 1)[..., None] * step
    squared = ((grid[None, :, None] - nearest) ** 2).sum(-1)  # (n, pixels, 7)
    distance = np.sqrt(np.where(used[labels][:, None], squared, np.inf).min(-1)).reshape(n, size, size)
    ink = np.clip(rng.uniform(*style.thickness, n)[:, None, None] + 0.5 - distance, 0, 1)
    if style.colour_texture:
        images = np.abs(_colour_texture(n, size, rng) - ink[..., None])  # (n, size, size, 3)
    else:
        images = style.background + (style.foreground - style.background) * ink
    images = np.clip(images + rng.normal(0, style.noise, images.shape) if style.noise else images, 0, 1)
    return (images * 255).round().astype(np.uint8), labels.astype(np.int64)


def _colour_texture(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n, size, size, 3) in [0, 1]: a 4 x 4 grid of random colours per image, bilinearly
    enlarged, with fine noise: smooth colour regions and edges, as a patch of a photo has."""
    coarse = rng.random((n, 4, 4, 3))
    position = (np.arange(size) + 0.5) / size * 3  # pixel centres in the coarse grid's coordinates
    low = np.minimum(position.astype(int), 2)
    weight = (position - low)[None, :, None, None]
    rows = coarse[:, low] * (1 - weight) + coarse[:, low + 1] * weight  # (n, size, 4, 3)
    weight = weight.transpose(0, 2, 1, 3)
    field = rows[:, :, low] * (1 - weight) + rows[:, :, low + 1] * weight  # (n, size, size, 3)
    return np.clip(field + rng.normal(0, 0.05, field.shape), 0, 1)


def write_digit_domain(folder: Path, style: DigitStyle, train: int, test: int, seed: int) -> Path:
    """A custom domain folder with ``train.npz`` and ``test.npz`` (disjoint draws) in ``style``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count, split_seed in (("train", train, seed), ("test", test, seed + 1)):
        x, y = draw_digits(count, style, split_seed)
        np.savez(folder / f"{split}.npz", x=x, y=y)
    return folder


#: named looks for :func:`digit_domain`'s domains
DIGIT_STYLES = {
    "source": SOURCE_STYLE,
    "mild": MILD_SHIFT,
    "grey-noisy": GREY_NOISY,
    # Turned further than the classifiers' augmentation (+-15 degrees) reaches: a source
    # classifier reads about two digits in three, the rest are near its decision boundaries.
    "rotated": DigitStyle(rotation=(25.0, 45.0)),
    # MNIST-M's shift on these digits: |colour texture - digit|, every image in colour.
    "colour-texture": DigitStyle(colour_texture=True),
}


#: class colours of the synthetic colour images (RGB)
COLOURS = ((220, 40, 40), (40, 180, 60), (50, 70, 220), (230, 200, 40), (160, 60, 200), (40, 200, 210))


def colour_image(label: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An H x W x 3 uint8 photo-like image: noise, and a disc of the class's colour at a random place."""
    width, height = size
    image = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
    rows, cols = np.mgrid[0:height, 0:width]
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    disc = (rows - cy) ** 2 + (cols - cx) ** 2 < (0.25 * min(width, height)) ** 2
    image[disc] = COLOURS[label % len(COLOURS)]
    return image


def write_colour_folder(root: Path, classes=("cat", "dog", "emu"), per_class: int = 10, size=(40, 30),
                        seed: int = 0, suffix: str = ".png") -> Path:
    """``root/<class>/<i>.png``: synthetic colour images, every one different (``size``: width, height)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(colour_image(label, size, rng)).save(folder / f"{i:03d}{suffix}")
    return root
