"""Fonts that synth-digits prints in, and their digits rendered once with Pillow as glyph tiles.

By default the fonts that ship with matplotlib (``mpl-data/fonts/ttf``) whose
digits are legible (:data:`MATPLOTLIB_FONTS`: DejaVu Sans, Sans Mono and
Serif, STIX General and five Computer Modern faces; not the symbol, display
or fallback fonts, which draw no digits or boxes); otherwise every ``.ttf``
/ ``.otf`` file in a folder the user gives (``--fonts DIR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...errors import DataError, first_line

MATPLOTLIB_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf",
)
FONT_SUFFIXES = (".ttf", ".otf")
DIGITS = "0123456789"
#: Pillow's font size when rendering glyphs; tiles are downsampled from it
_RENDER_SIZE = 96
#: the digits' common height as a fraction of the tile side (the rest is margin for wide or slanted glyphs)
DIGIT_HEIGHT = 0.6


def matplotlib_font_files() -> list[Path]:
    """The legible fonts bundled with matplotlib, in :data:`MATPLOTLIB_FONTS` order."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = [folder / name for name in MATPLOTLIB_FONTS]
    missing = [path.name for path in files if not path.is_file()]
    if missing:
        raise DataError(f"matplotlib's fonts {', '.join(missing)} are missing from {folder}; pass --fonts DIR")
    return files


def font_files(folder: Path) -> list[Path]:
    """The font files under ``folder`` (recursively), sorted; raises :class:`DataError` if none."""
    if not folder.is_dir():
        raise DataError(f"fonts: {folder}: not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FONT_SUFFIXES)
    if not files:
        raise DataError(f"fonts: {folder}: holds no font files ({', '.join(FONT_SUFFIXES)})")
    return files


@dataclass
class GlyphTiles:
    """The ten digits of one font, each centred in a square tile.

    Attributes:
        tiles: float32 (10, T, T) ink coverage in [0, 1]; the digits' common
            height is ``DIGIT_HEIGHT * T``, centred vertically, and each digit is
            centred on its advance width horizontally.
        advance: the font's mean digit advance width, in tile pixels (how far
            apart neighbouring digits are printed).
    """

    tiles: np.ndarray
    advance: float


def render_digits(path: Path, side: int) -> GlyphTiles:
    """Render ``0`` .. ``9`` of the font at ``path`` with Pillow into ``side`` x ``side`` tiles.

    Raises :class:`DataError` naming the font if Pillow cannot read it, or if
    its digits are missing (empty) or all alike (a font that draws a box for
    every character it lacks).
    """
    try:
        font = ImageFont.truetype(str(path), _RENDER_SIZE)
        boxes = [font.getbbox(digit, anchor="ls") for digit in DIGITS]
        advances = [font.getlength(digit) for digit in DIGITS]
    except (OSError, ValueError) as error:
        raise DataError(f"fonts: {path}: not a readable font ({first_line(error)})") from None
    top, bottom = min(box[1] for box in boxes), max(box[3] for box in boxes)
    height = bottom - top
    if height <= 0:
        raise DataError(f"fonts: {path}: draws no digits")
    crop = int(round(height / DIGIT_HEIGHT))  # the tile's side at render size
    tiles = []
    for digit, advance in zip(DIGITS, advances):
        canvas = Image.new("L", (crop, crop), 0)
        # Baseline placed so that the band [top, bottom] shared by all digits is centred.
        ImageDraw.Draw(canvas).text(((crop - advance) / 2, crop / 2 - (top + bottom) / 2), digit, fill=255,
                                    font=font, anchor="ls")
        tiles.append(np.asarray(canvas.resize((side, side), Image.Resampling.BOX), dtype=np.float32) / 255.0)
    stack = np.stack(tiles)
    flat = stack.reshape(10, -1)
    if (flat.max(axis=1) < 0.5).any() or len({row.tobytes() for row in (flat > 0.5)}) < 10:
        raise DataError(f"fonts: {path}: does not draw ten distinct digits (missing glyphs?); remove it")
    return GlyphTiles(stack, float(np.mean(advances)) * side / crop)
