"""Images whose content is in their alpha channel (a digit drawn as opacity over transparent
black, as drawing tools export) are read from it; other images with alpha are composited onto
black, so an opaque one reads exactly as without it; a split of blank images is reported by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import ImageFormat, load_domain
from gantransfer.data.decode import decode_image, flatten_alpha
from gantransfer.data.storage import decode_to_format

GREY, COLOUR = ImageFormat(28, 1), ImageFormat(28, 3)


def _ring(size: int = 28) -> np.ndarray:
    """uint8 (size, size): an antialiased ring, a digit-like shape (bright on black)."""
    rows, cols = np.mgrid[0:size, 0:size]
    distance = np.hypot(rows - size / 2, cols - size / 2)
    return (np.clip(1.0 - np.abs(distance - size / 4) / 2.5, 0.0, 1.0) * 255).round().astype(np.uint8)


def _photo(seed: int = 0, size: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _alpha_only(ink: tuple[int, ...], mode: str) -> Image.Image:
    """The ring as opacity over one constant colour ``ink`` (its transparent pixels too)."""
    colour = np.broadcast_to(np.array(ink, np.uint8), (28, 28, len(ink)))
    return Image.fromarray(np.dstack([colour, _ring()]), mode)


@pytest.mark.parametrize("fmt", [GREY, COLOUR], ids=["grey", "colour"])
@pytest.mark.parametrize("mode, ink", [("RGBA", (0, 0, 0)), ("RGBA", (200, 30, 30)), ("LA", (0,))],
                         ids=["rgba-black", "rgba-red", "la-black"])
def test_an_alpha_only_digit_reads_as_the_same_digit_saved_grey(tmp_path, fmt, mode, ink):
    _alpha_only(ink, mode).save(tmp_path / "alpha.png")
    Image.fromarray(_ring(), "L").save(tmp_path / "grey.png")
    alpha = decode_to_format(tmp_path / "alpha.png", fmt)
    assert int(alpha.max()) == 255 and int(alpha.min()) == 0, "the shape is visible, not one blank colour"
    assert torch.equal(alpha, decode_to_format(tmp_path / "grey.png", fmt))


def test_an_opaque_rgba_photo_reads_exactly_as_its_rgb(tmp_path):
    photo = _photo()
    Image.fromarray(photo, "RGB").save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([photo, np.full((28, 28), 255, np.uint8)]), "RGBA").save(tmp_path / "rgba.png")
    assert torch.equal(decode_image(tmp_path / "rgba.png"), decode_image(tmp_path / "rgb.png"))
    for fmt in (GREY, COLOUR):
        assert torch.equal(decode_to_format(tmp_path / "rgba.png", fmt), decode_to_format(tmp_path / "rgb.png", fmt))


def test_an_opaque_la_image_reads_exactly_as_its_l(tmp_path):
    grey = _photo()[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "l.png")
    Image.fromarray(np.dstack([grey, np.full((28, 28), 255, np.uint8)]), "LA").save(tmp_path / "la.png")
    decoded = decode_image(tmp_path / "la.png")
    assert decoded.shape == (1, 28, 28) and torch.equal(decoded, decode_image(tmp_path / "l.png"))


def test_a_translucent_photo_is_composited_onto_black(tmp_path):
    photo, alpha = _photo(), _ring()
    Image.fromarray(np.dstack([photo, alpha]), "RGBA").save(tmp_path / "cutout.png")
    expected = torch.from_numpy(photo / 255.0 * (alpha / 255.0)[..., None]).permute(2, 0, 1).float()
    assert torch.allclose(decode_image(tmp_path / "cutout.png"), expected, atol=1e-6)


def test_a_palette_image_with_a_transparent_index_is_read_from_its_opacity(tmp_path):
    # A GIF-like digit: black ink (index 1) on a transparent background (index 0, also black).
    image = Image.fromarray((_ring() > 127).astype(np.uint8), "P")
    image.putpalette([0, 0, 0, 0, 0, 0])
    image.save(tmp_path / "digit.png", transparency=0)
    decoded = decode_image(tmp_path / "digit.png")
    assert torch.equal(decoded[0] > 0.5, torch.from_numpy(_ring() > 127))


def test_flatten_alpha_decides_per_image():
    ring = torch.from_numpy(_ring() / 255.0).float()[None]
    photo = torch.from_numpy(_photo() / 255.0).float().permute(2, 0, 1)
    colour = torch.stack([torch.zeros(3, 28, 28), photo, photo])
    alpha = torch.stack([ring, ring, torch.ones(1, 28, 28)])
    out = flatten_alpha(colour, alpha)
    assert out.shape == (3, 3, 28, 28)
    assert torch.equal(out[0], ring.expand(3, -1, -1)), "alpha only: opacity is ink on every channel"
    assert torch.equal(out[1], photo * ring), "colour with content: composited onto black"
    assert torch.equal(out[2], photo), "opaque: unchanged"


def test_an_array_domain_with_an_alpha_channel_reads_its_opacity(tmp_path):
    rings = np.stack([_ring()] * 4)
    rgba = np.zeros((4, 28, 28, 4), np.uint8)
    rgba[..., 3] = rings
    np.savez(tmp_path / "alpha.npz", x=rgba, y=np.arange(4) % 2)
    np.savez(tmp_path / "grey.npz", x=rings, y=np.arange(4) % 2)
    alpha = load_domain(str(tmp_path / "alpha.npz"), "train", GREY)
    grey = load_domain(str(tmp_path / "grey.npz"), "train", GREY)
    assert torch.equal(alpha.images, grey.images)


def _folder(root, images: list[np.ndarray], mode: str) -> str:
    for i, pixels in enumerate(images):
        folder = root / str(i % 2)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, mode).save(folder / f"{i}.png")
    return str(root)


def test_a_folder_of_blank_images_is_reported_by_name(tmp_path, capsys):
    root = _folder(tmp_path / "blank", [np.full((28, 28), 30 * (i % 2), np.uint8) for i in range(6)], "L")
    load_domain(root, "train", GREY)
    err = capsys.readouterr().err
    assert f"{root}/train: every image is blank (one uniform colour)" in err and err.count("\n") == 1, err


def test_a_folder_of_nearly_all_one_image_is_reported(tmp_path, capsys):
    images = [_ring()] * 19 + [_ring()[::-1].copy()]
    root = _folder(tmp_path / "same", images, "L")
    train = load_domain(root, "train", GREY)  # a test split is drawn from the folder: 16 or so images
    err = capsys.readouterr().err
    assert f"{root}/train: " in err and f" of {len(train)} images are one same image" in err, err


def test_alpha_only_digits_and_varied_images_are_not_reported(tmp_path, capsys):
    digits = [np.roll(np.dstack([np.zeros((28, 28, 3), np.uint8), _ring()]), i, axis=1) for i in range(12)]
    alpha = load_domain(_folder(tmp_path / "alpha", digits, "RGBA"), "train", GREY)
    assert int(alpha.images.max()) == 255
    load_domain(_folder(tmp_path / "photos", [_photo(seed) for seed in range(12)], "RGB"), "train", COLOUR)
    assert capsys.readouterr().err == ""
