"""Non-square images are cropped or padded, never stretched; MNIST's box normalisation; the run's
format inferred from the domains (colour stays colour, grey beside colour is repeated)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import ImageFormat, describe_domain, infer_format, load_domain
from gantransfer.data.geometry import fit_to_format, mnist_box
from gantransfer.data.listing import ImageSummary

RED, GREEN, BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _bands(height: int = 20, width: int = 40) -> torch.Tensor:
    """(1, 3, H, W): green left eighth, red middle three quarters, blue right eighth."""
    image = torch.zeros(1, 3, height, width)
    eighth = width // 8
    image[0, :, :, :eighth] = torch.tensor(GREEN).view(3, 1, 1)
    image[0, :, :, eighth : width - eighth] = torch.tensor(RED).view(3, 1, 1)
    image[0, :, :, width - eighth :] = torch.tensor(BLUE).view(3, 1, 1)
    return image


def test_crop_keeps_the_centre_at_its_aspect_ratio():
    out = fit_to_format(_bands(), ImageFormat(16, 3, "crop"))
    assert out.shape == (1, 3, 16, 16)
    assert torch.allclose(out[0], torch.tensor(RED).view(3, 1, 1).expand(3, 16, 16), atol=1e-6), \
        "the centre square of a 2:1 image lies in its red middle; a stretch would show green and blue"


def test_pad_keeps_the_whole_image_with_black_bars():
    out = fit_to_format(_bands(), ImageFormat(16, 3, "pad"))[0]
    assert out.shape == (3, 16, 16)
    assert float(out[:, :4].abs().max()) == 0 and float(out[:, 12:].abs().max()) == 0, "bars above and below"
    middle = out[:, 4:12]
    assert float(middle[1, :, 0].min()) > 0.5, "green left edge kept"
    assert float(middle[0, :, 8].min()) == pytest.approx(1.0) and float(middle[2, :, 15].min()) > 0.5


def test_a_folder_of_non_square_photos_is_cropped_or_padded_never_stretched(tmp_path):
    folder = tmp_path / "dom" / "bands"
    folder.mkdir(parents=True)
    pixels = (_bands()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    for i in range(5):
        Image.fromarray(pixels).save(folder / f"{i}.png")
    cropped = load_domain(str(tmp_path / "dom"), "train", ImageFormat(16, 3, "crop"))
    padded = load_domain(str(tmp_path / "dom"), "train", ImageFormat(16, 3, "pad"))
    assert cropped.images.dtype == torch.uint8
    assert torch.equal(cropped.images[0, 0], torch.full((16, 16), 255, dtype=torch.uint8))  # all red
    assert torch.equal(cropped.images[0, 1:], torch.zeros(2, 16, 16, dtype=torch.uint8))
    assert int(padded.images[0, :, :4].max()) == 0 and int(padded.images[0, 1, 8, 0]) > 128


def test_mnist_box_fits_strokes_into_20_of_28_and_centres_their_mass():
    full = torch.ones(1, 16, 16)  # a 16 x 16 digit whose strokes fill the frame, as USPS's do
    boxed = mnist_box(full, 28)[0]
    rows, cols = torch.nonzero(boxed > 0.5, as_tuple=True)
    assert (int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())) == (4, 23, 4, 23)
    corner = torch.zeros(1, 8, 8)
    corner[0, 0:3, 0:2] = 1.0  # a small stroke in the top-left corner
    boxed = mnist_box(corner, 28)[0]
    mass = boxed / boxed.sum()
    centre = (float((mass.sum(1) * torch.arange(28.0)).sum()), float((mass.sum(0) * torch.arange(28.0)).sum()))
    assert centre == pytest.approx((13.5, 13.5), abs=0.6)
    assert max(int(boxed.sum(0).gt(0).sum()), int(boxed.sum(1).gt(0).sum())) <= 21  # long side 20 (+ antialias)
    assert torch.equal(mnist_box(torch.zeros(1, 8, 8), 28), torch.zeros(1, 28, 28))


def _summary(channels, side, non_square=0):
    return ImageSummary(count=10, channels=channels, short_side=side, long_side=side, non_square=non_square)


def test_inferred_format_keeps_colour_and_repeats_grey_beside_it():
    colour = infer_format({"photos": _summary(3, 64)})
    assert colour.format == ImageFormat(64, 3) and "colour" in colour.reason
    mixed = infer_format({"mnist": _summary(1, 28), "photos": _summary(3, 48)})
    assert mixed.format == ImageFormat(48, 3)
    assert "grey mnist repeated to 3 channels" in mixed.reason
    grey = infer_format({"mnist": _summary(1, 28), "usps": _summary(1, 16)})
    assert grey.format == ImageFormat(28, 1), "the digit protocol's 1 x 28 x 28, both directions"
    assert infer_format({"usps": _summary(1, 16), "mnist": _summary(1, 28)}).format == ImageFormat(28, 1)
    assert "usps enlarged" in grey.reason


def test_inferred_size_is_capped_rounded_and_given_values_win():
    big = infer_format({"amazon": _summary(3, 300, non_square=5)})
    assert big.format.size == 64 and "capped at 64" in big.reason and "centre-cropped" in big.reason
    odd = infer_format({"scans": _summary(1, 30)})
    assert odd.format.size == 28 and "multiple of 4" in odd.reason
    asked = infer_format({"amazon": _summary(3, 300)}, size=128, channels=1, fit="pad")
    assert asked.format == ImageFormat(128, 1, "pad") and "as asked" in asked.reason
    assert infer_format({"amazon": _summary(3, 300)}, preferred_size=224).format.size == 224
    line = big.line()
    assert "\n" not in line and line.startswith("image format 3 x 64 x 64")


def test_describe_reads_native_format_from_the_files(colour_folder, digits_npz):
    info = describe_domain(str(colour_folder))
    assert info.summary.channels == 3 and (info.summary.short_side, info.summary.long_side) == (30, 40)
    assert info.summary.non_square == 24 and info.class_names == ("cat", "dog", "emu")
    assert info.drawn_test and info.splits == ("train", "test")
    grey = describe_domain(str(digits_npz))
    assert grey.summary.channels == 1 and grey.summary.short_side == 28


def test_grey_domain_loaded_in_colour_repeats_its_channel(digits_npz):
    data = load_domain(str(digits_npz), "train", ImageFormat(28, 3))
    assert data.images.shape[1] == 3
    assert torch.equal(data.images[:, 0], data.images[:, 1]) and torch.equal(data.images[:, 1], data.images[:, 2])
