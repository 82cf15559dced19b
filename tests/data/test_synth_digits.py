"""synth-digits: glyph rendering, the batched composition, its labels, and the cached build."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gantransfer.data import BuildOptions, ImageFormat, load_domain
from gantransfer.data.datasets import synth_digits
from gantransfer.data.domains import clear_domain_caches
from gantransfer.data.datasets.fonts import MATPLOTLIB_FONTS, matplotlib_font_files, render_digits
from gantransfer.data.locations import DataLocations
from gantransfer.data.datasets.synth_digits import TILE_SIDE, SynthRecipe, compose_chunk, compose_synth_digits, draw_parameters
from gantransfer.errors import ConfigError, DataError

#: no variation but colours: every digit upright, centred, the same size, sharp
PLAIN = SynthRecipe(height=(0.7, 0.7), degrees=0.0, shift=0.0, neighbours=0.0, blur=(0.0, 0.0), gradient=0.0,
                    noise=0.0)


@pytest.fixture(scope="module")
def fonts():
    return [render_digits(path, TILE_SIDE) for path in matplotlib_font_files()[:3]]


@pytest.fixture(autouse=True)
def _fresh_memory_cache():
    clear_domain_caches()
    yield
    clear_domain_caches()


def test_every_default_font_draws_ten_distinct_digits():
    paths = matplotlib_font_files()
    assert [p.name for p in paths] == list(MATPLOTLIB_FONTS)
    for path in paths:
        glyphs = render_digits(path, 32)
        assert glyphs.tiles.shape == (10, 32, 32) and glyphs.tiles.dtype == np.float32
        assert 0 <= glyphs.tiles.min() and glyphs.tiles.max() <= 1
        assert 0 < glyphs.advance < 32


def test_shapes_dtypes_and_determinism(fonts):
    x, y = compose_synth_digits(300, fonts, seed=0)
    assert x.shape == (300, 3, 32, 32) and x.dtype == np.uint8
    assert y.shape == (300,) and y.dtype == np.int64 and set(y.tolist()) == set(range(10))
    again, labels = compose_synth_digits(300, fonts, seed=0)
    assert x.tobytes() == again.tobytes() and np.array_equal(y, labels)
    other, _ = compose_synth_digits(300, fonts, seed=1)
    assert x.tobytes() != other.tobytes()


def _templates(fonts, recipe: SynthRecipe) -> torch.Tensor:
    """Every (font, digit) drawn white on black with ``recipe``'s fixed geometry: (fonts * 10, 32, 32)."""
    n = 10 * len(fonts)
    params = draw_parameters(n, len(fonts), np.random.default_rng(0), recipe)
    params.update(font=np.repeat(np.arange(len(fonts)), 10), digit=np.tile(np.arange(10), len(fonts)),
                  ink=np.ones((n, 3)), background=np.zeros((n, 3)), has_left=np.zeros(n, bool),
                  has_right=np.zeros(n, bool))
    tiles = torch.from_numpy(np.concatenate([f.tiles for f in fonts] + [np.zeros((1, TILE_SIDE, TILE_SIDE), np.float32)]))
    advances = torch.tensor([f.advance for f in fonts], dtype=torch.float32)
    chunk = synth_digits._as_tensors(params)
    images = compose_chunk(tiles[:, None], advances, chunk, recipe, torch.zeros(n, 3, 32, 32))
    return images[:, 0].float() / 255


def _nearest_digit(images: np.ndarray, templates: torch.Tensor, columns: slice) -> np.ndarray:
    """The digit of the best-correlated template (either polarity: ink may be darker or lighter)."""
    grey = torch.from_numpy(images).float().mul(torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)

    def standardised(t):
        t = t[:, :, columns].flatten(1)
        return (t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1e-6)

    correlation = (standardised(grey) @ standardised(templates).T).abs()
    return (correlation.argmax(1) % 10).numpy()


def test_each_label_is_the_digit_printed_at_the_centre(fonts):
    templates = _templates(fonts, PLAIN)
    x, y = compose_synth_digits(200, fonts, seed=3, recipe=PLAIN)
    assert (_nearest_digit(x, templates, slice(None)) == y).mean() == 1.0


def test_neighbours_are_drawn_beside_the_labelled_digit(fonts):
    recipe = replace(PLAIN, neighbours=1.0)
    templates = _templates(fonts, recipe)
    rng = np.random.default_rng(5)
    params = draw_parameters(200, len(fonts), rng, recipe)
    x, y = compose_synth_digits(200, fonts, seed=5, recipe=recipe)
    centre = slice(10, 22)  # the labelled digit fills the middle; neighbours show at the sides
    assert (_nearest_digit(x, templates, centre) == y).mean() > 0.9
    assert (_nearest_digit(x, templates, centre) == params["left"]).mean() < 0.3
    plain, _ = compose_synth_digits(200, fonts, seed=5, recipe=PLAIN)
    for side in (slice(0, 5), slice(27, 32)):  # flat background without neighbours, ink with them
        assert plain[..., side].astype(float).std(axis=(2, 3)).max() == 0
        assert (x[..., side].astype(float).std(axis=(2, 3)).max(axis=1) > 10).mean() > 0.8


def test_ink_and_background_differ_enough(fonts):
    x, _ = compose_synth_digits(100, fonts, seed=2, recipe=PLAIN)
    grey = (x.astype(np.float32) * np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)).sum(1) / 255
    spread = grey.reshape(100, -1).max(1) - grey.reshape(100, -1).min(1)
    assert spread.min() >= PLAIN.contrast - 0.02


def _font_folder(tmp_path: Path, count: int = 2) -> Path:
    folder = tmp_path / "fonts"
    folder.mkdir()
    for path in matplotlib_font_files()[:count]:
        shutil.copy(path, folder / path.name)
    return folder


def test_reader_builds_each_split_once_into_the_cache(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    build = BuildOptions(fonts=str(_font_folder(tmp_path)), synth_digits_train=150, synth_digits_test=60)
    locations = DataLocations.resolve(data, tmp_path / "cache", build)
    train = synth_digits.read_synth_digits("train", locations, False)
    test = synth_digits.read_synth_digits("test", locations, False)
    assert train.images.shape == (150, 3, 32, 32) and test.images.shape == (60, 3, 32, 32)
    assert not list(data.iterdir()), "nothing is written to the data directory"
    files = sorted((tmp_path / "cache" / "built").glob("synth-digits-*/*.npz"))
    assert [p.name for p in files] == ["test-60.npz", "train-150.npz"]
    assert not torch.equal(train.images[:60], test.images), "train and test are drawn with their own seeds"
    stamps = [p.stat().st_mtime_ns for p in files]

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a cached domain")

    monkeypatch.setattr(synth_digits, "compose_synth_digits", no_rebuild)
    again = synth_digits.read_synth_digits("train", locations, False)
    assert torch.equal(train.images, again.images) and [p.stat().st_mtime_ns for p in files] == stamps


def test_other_fonts_or_sizes_build_another_domain(tmp_path):
    two = _font_folder(tmp_path, 2)
    options = BuildOptions(fonts=str(two), synth_digits_test=40)
    first = load_domain("synth-digits", "test", ImageFormat(32, 3), cache_dir=tmp_path / "cache", build=options)
    assert first.images.shape == (40, 3, 32, 32)
    shutil.copy(matplotlib_font_files()[5], two)
    clear_domain_caches()  # the same options in one process reuse the loaded domain
    third_font = load_domain("synth-digits", "test", ImageFormat(32, 3), cache_dir=tmp_path / "cache", build=options)
    assert not torch.equal(first.images, third_font.images)
    bigger = load_domain("synth-digits", "test", ImageFormat(32, 3), cache_dir=tmp_path / "cache",
                         build=replace(options, synth_digits_test=50))
    assert len(bigger) == 50
    assert len(list((tmp_path / "cache" / "built").glob("synth-digits-*/*.npz"))) == 3


def test_bad_fonts_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "broken.ttf").write_bytes(b"not a font")
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    shutil.copy(Path(matplotlib_font_files()[0]).parent / "LastResortHE-Regular.ttf", boxes)
    for folder, fragment in ((tmp_path / "missing", "not a folder"), (tmp_path / "empty", "no font files"),
                             (junk, "broken.ttf: not a readable font"), (boxes, "ten distinct digits")):
        with pytest.raises(DataError) as error:
            load_domain("synth-digits", "test", cache_dir=tmp_path / "cache",
                        build=BuildOptions(fonts=str(folder), synth_digits_test=10))
        assert fragment in str(error.value) and "fonts" in str(error.value) and "\n" not in str(error.value)


def test_bad_options():
    with pytest.raises(ConfigError, match="synth_digits_train"):
        BuildOptions(synth_digits_train=0)
    with pytest.raises(ConfigError, match="blur"):
        SynthRecipe(blur=(1.0, 0.5))
