"""Every Pillow mode decoded to the training range (issue 18): 16-bit, float, palette, CMYK...,
decompression bombs and object arrays refused with one line naming the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import ImageFormat, load_domain
from gantransfer.data.decode import decode_image
from gantransfer.errors import DataError
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig
from gantransfer.models.saving import load_classifier, save_classifier
from gantransfer.prediction import predict_files

RAMP = np.linspace(0.0, 1.0, 16 * 16, dtype=np.float64).reshape(16, 16)  # a grey ramp, 0 to 1


def _one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_16_bit_png_is_scaled_by_65535_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray((RAMP * 65535).round().astype(np.uint16)).save(path)
    with Image.open(path) as image:
        assert image.mode == "I;16"
    image = decode_image(path)
    assert image.shape == (1, 16, 16)
    assert torch.allclose(image[0], torch.from_numpy(RAMP).float(), atol=1e-4)
    assert float((image > 0.99).float().mean()) < 0.05, "Pillow's convert('L') turned 99 % of it white"


def test_float_tiff_in_unit_range_is_kept_and_other_ranges_refused(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(RAMP.astype(np.float32)).save(path)
    with Image.open(path) as image:
        assert image.mode == "F"
    assert torch.allclose(decode_image(path)[0], torch.from_numpy(RAMP).float(), atol=1e-6)
    signed = tmp_path / "signed.tif"
    Image.fromarray((RAMP * 2 - 1).astype(np.float32)).save(signed)
    assert torch.allclose(decode_image(signed)[0], torch.from_numpy(RAMP).float(), atol=1e-6)
    wide = tmp_path / "wide.tif"
    Image.fromarray((RAMP * 4000).astype(np.float32)).save(wide)
    with pytest.raises(DataError) as error:
        decode_image(wide)
    _one_line(error, str(wide), "[0, 4000]", "expected [0, 1]")


def _colour_ramp() -> np.ndarray:
    """16 x 16 x 3 uint8: red rises, blue falls, green half."""
    return np.stack([RAMP, np.full_like(RAMP, 0.5), 1 - RAMP], axis=-1).__mul__(255).round().astype(np.uint8)


def _grey_palette_image() -> Image.Image:
    image = Image.fromarray((RAMP * 255).astype(np.uint8)).convert("P")
    image.putpalette([v for level in range(256) for v in (level, level, level)])
    return image


@pytest.mark.parametrize(
    "make, channels, expected",
    [
        (lambda: Image.fromarray(RAMP > 0.5), 1, lambda: (RAMP > 0.5).astype(float)),
        (lambda: Image.fromarray((RAMP * 255).astype(np.uint8)), 1, lambda: np.round(RAMP * 255) / 255),
        (lambda: Image.fromarray((RAMP * 255).astype(np.uint8)).convert("LA"), 1, lambda: np.round(RAMP * 255) / 255),
        (lambda: Image.fromarray((RAMP * 65535).astype(np.int32)), 1, lambda: np.floor(RAMP * 65535) / 65535),
        (lambda: Image.fromarray(RAMP.astype(np.float32)), 1, lambda: RAMP),
        (_grey_palette_image, 1, lambda: np.round(RAMP * 255) / 255),
        (lambda: Image.fromarray((RAMP * 255).astype(np.uint8)).convert("RGB"), 3, lambda: np.round(RAMP * 255) / 255),
        (lambda: Image.fromarray((RAMP * 255).astype(np.uint8)).convert("RGBA"), 3, lambda: np.round(RAMP * 255) / 255),
        (lambda: Image.fromarray(_colour_ramp()).convert("P", palette=Image.Palette.ADAPTIVE), 3, None),
        (lambda: Image.fromarray((RAMP * 255).astype(np.uint8)).convert("RGB").convert("CMYK"), 3,
         lambda: np.round(RAMP * 255) / 255),
    ],
    ids=["1", "L", "LA", "I", "F", "P-grey", "RGB", "RGBA", "P-colour", "CMYK"],
)
def test_every_mode_decodes_to_unit_range(make, channels, expected):
    image = make()
    from gantransfer.data.decode import to_unit_tensor

    decoded = to_unit_tensor(image, "test image")
    assert decoded.shape == (channels, 16, 16) and decoded.dtype == torch.float32
    assert 0.0 <= float(decoded.min()) and float(decoded.max()) <= 1.0
    if expected is not None:
        target = torch.from_numpy(expected()).float()
        assert (decoded - target).abs().max() <= 1.5 / 255, image.mode
    else:  # a palette of 256 colours: close to the original, not equal
        original = torch.from_numpy(_colour_ramp()).permute(2, 0, 1).float() / 255
        assert (decoded - original).abs().mean() < 0.02


def test_32_bit_integers_outside_16_bits_are_refused(tmp_path):
    path = tmp_path / "big.tif"
    Image.fromarray(np.full((4, 4), 1_000_000, np.int32)).save(path)
    with pytest.raises(DataError) as error:
        decode_image(path)
    _one_line(error, str(path), "0..65535")


def test_decompression_bomb_is_one_files_error(tmp_path, monkeypatch):
    root = tmp_path / "dom"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (40 * i, 90, 90)).save(root / label / f"{i}.png")
    bomb = root / "b" / "huge.png"
    Image.new("L", (200, 200)).save(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 200 x 200 is over twice the limit
    with pytest.raises(DataError) as error:
        decode_image(bomb)
    _one_line(error, str(bomb), "too large")
    with pytest.raises(DataError) as error:
        load_domain(str(root), "train", ImageFormat(8, 3))
    _one_line(error, "huge.png", "too large")


def test_truncated_png_names_the_file(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray((RAMP * 255).astype(np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError) as error:
        decode_image(path)
    _one_line(error, str(path), "not a readable image")


def _saved_classifier(tmp_path, fmt=ImageFormat(16, 1)):
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(TrunkConfig(fmt.channels, fmt.size, 4, 8), 2))
    save_classifier(tmp_path / "c.safetensors", model, ("a", "b"), fmt)
    return load_classifier(tmp_path / "c.safetensors")


def test_predict_decodes_16_bit_png_like_its_8_bit_twin(tmp_path):
    saved = _saved_classifier(tmp_path)
    Image.fromarray((RAMP * 65535).round().astype(np.uint16)).save(tmp_path / "deep.png")
    Image.fromarray((RAMP * 255).round().astype(np.uint8)).save(tmp_path / "flat.png")
    report = predict_files(saved, [tmp_path / "deep.png", tmp_path / "flat.png"])
    assert not report.failures
    deep, flat = (p.probabilities for p in report.predictions)
    assert np.allclose(deep, flat, atol=1e-3)


def test_object_arrays_are_refused_naming_file_and_key(tmp_path):
    x = np.zeros((6, 16, 16), np.uint8)
    labels = np.empty(6, dtype=object)
    labels[:] = [0, 1, 0, 1, 0, 1]
    path = tmp_path / "pickled.npz"
    np.savez(path, x=x, y=labels)
    with pytest.raises(DataError) as error:
        load_domain(str(path), "train")
    _one_line(error, str(path), "'y'", "Python objects")
    images = np.empty(6, dtype=object)
    images[:] = [np.zeros((16, 16), np.uint8)] * 6
    bad_x = tmp_path / "pickled_x.npz"
    np.savez(bad_x, x=images, y=np.arange(6) % 2)
    with pytest.raises(DataError) as error:
        load_domain(str(bad_x), "train")
    _one_line(error, str(bad_x), "'x'")


def test_predict_reads_only_x_so_an_object_y_does_not_stop_it(tmp_path):
    saved = _saved_classifier(tmp_path)
    labels = np.empty(3, dtype=object)
    labels[:] = ["a", "b", None]
    np.savez(tmp_path / "new.npz", x=np.zeros((3, 16, 16), np.uint8), y=labels)
    images = np.empty(2, dtype=object)
    images[:] = [np.zeros((16, 16)), np.zeros((16, 16))]
    np.savez(tmp_path / "bad.npz", x=images)
    report = predict_files(saved, [tmp_path / "new.npz", tmp_path / "bad.npz"])
    assert [p.source for p in report.predictions] == [f"{tmp_path / 'new.npz'}[{i}]" for i in range(3)]
    assert len(report.failures) == 1 and "bad.npz" in report.failures[0] and "'x'" in report.failures[0]


def test_object_arrays_stop_pretrain_and_transfer_with_one_line(tmp_path, colour_folder):
    from gantransfer.methods import TransferConfig, transfer
    from gantransfer.training.pretrain import PretrainConfig, pretrain

    labels = np.empty(6, dtype=object)
    labels[:] = ["cat", "dog", "emu"] * 2
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.zeros((6, 16, 16), np.uint8), y=labels)
    with pytest.raises(DataError) as error:
        pretrain(PretrainConfig(source=str(path), steps=1), tmp_path / "gan", progress_bar=False)
    _one_line(error, str(path), "'y'")
    with pytest.raises(DataError) as error:
        transfer(TransferConfig(source=str(colour_folder), target=str(path)), tmp_path / "run", progress_bar=False)
    _one_line(error, str(path), "'y'")
