"""Every layout has a train and a test split, and nothing trained on (the k labelled images, the
unlabelled images, the validation images) is ever in the test split."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from synthetic import colour_image, write_colour_folder
from gantransfer.data import DataOptions, ImageFormat, SplitOptions, describe_domain, load_domain
from gantransfer.data.domains import write_drawn_splits
from gantransfer.errors import ConfigError, DataError
from gantransfer.methods import TransferConfig
from gantransfer.methods.context import TransferData

CLASSES = ("cat", "dog", "emu")


def _npz(path, count=30, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASSES)
    x = np.stack([colour_image(int(label), (16, 16), rng) for label in labels])
    np.savez(path, x=x, y=labels, classes=np.array(CLASSES))
    return path


def _class_folders(root, seed):
    return write_colour_folder(root, CLASSES, per_class=10, size=(16, 16), seed=seed)


LAYOUTS = {
    "class folders": lambda root: _class_folders(root, 1),
    "single npz": lambda root: _npz(root.with_suffix(".npz"), seed=2),
    "train/ test/": lambda root: (_class_folders(root / "train", 3), _class_folders(root / "test", 4), root)[-1],
    "train.npz test.npz": lambda root: (root.mkdir(), _npz(root / "train.npz", seed=5),
                                        _npz(root / "test.npz", 12, seed=6), root)[-1],
    "NAME_train.npz": lambda root: (root.mkdir(), _npz(root / "digits_train.npz", seed=7),
                                    _npz(root / "digits_test.npz", 12, seed=8), root)[-1],
}


def _pixels(path) -> torch.Tensor:
    with Image.open(path) as image:
        return torch.from_numpy(np.array(image)).permute(2, 0, 1)


def _keys(images: torch.Tensor) -> set[bytes]:
    return {bytes(image.numpy().tobytes()) for image in images}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("validation", [0, 1])
def test_nothing_trained_on_is_in_the_test_split(tmp_path, layout, validation):
    source = write_colour_folder(tmp_path / "source", CLASSES, per_class=4, size=(16, 16), seed=0)
    target = LAYOUTS[layout](tmp_path / "target")
    config = TransferConfig(source=str(source), target=str(target), k=2, validation_per_class=validation)
    data = TransferData.load(config, DataOptions())
    test = _keys(data.target_test.images)
    assert len(test) == len(data.target_test) > 0, "synthetic images are all different"
    for part in (data.target_train, data.target_labelled, data.target_validation):
        if part is not None:
            assert not _keys(part.images) & test, f"{part.name} shares images with the test split"
    if layout in ("class folders", "single npz"):
        assert len(data.target_test) == 6 and len(data.target_train) + (3 * validation) == 24, "20 % of each class"
        assert torch.bincount(data.target_test.labels).tolist() == [2, 2, 2]


def test_a_drawn_split_is_seeded_and_written_down(tmp_path):
    root = _class_folders(tmp_path / "photos", 0)
    options = SplitOptions(0.2, seed=0)
    path = write_drawn_splits(tmp_path / "run", {"target": str(root)}, DataOptions(), options)
    record = json.loads(path.read_text())["target"]
    assert record["test_fraction"] == 0.2 and record["seed"] == 0 and record["layout"] == "DIR/<class>/<images>"
    assert len(record["test"]) == 6 and all(name.split("/")[0] in CLASSES for name in record["test"])
    test = load_domain(str(root), "test", ImageFormat(16, 3), splits=options)
    written = torch.stack([_pixels(root / name) for name in record["test"]])
    assert torch.equal(test.images, written), "splits.json lists exactly the test images"
    again = load_domain(str(root), "test", ImageFormat(16, 3), splits=SplitOptions(0.2, seed=0))
    other = load_domain(str(root), "test", ImageFormat(16, 3), splits=SplitOptions(0.2, seed=1))
    assert torch.equal(test.images, again.images) and not torch.equal(test.images, other.images)
    assert write_drawn_splits(tmp_path / "run2", {"target": str(tmp_path / "photos")}, DataOptions(),
                              options) is not None
    given = LAYOUTS["train/ test/"](tmp_path / "given")
    assert write_drawn_splits(tmp_path / "run3", {"target": str(given)}) is None, "nothing drawn, nothing written"


def test_explicit_validation_split_is_used_and_kept_apart(tmp_path):
    root = tmp_path / "dom"
    for split, seed in (("train", 0), ("test", 1), ("validation", 2)):
        _class_folders(root / split, seed)
    assert describe_domain(str(root)).splits == ("train", "test", "validation")
    config = TransferConfig(source=str(_class_folders(tmp_path / "src", 9)), target=str(root), k=1)
    data = TransferData.load(config, DataOptions())
    assert len(data.target_validation) == 30 and not _keys(data.target_validation.images) & _keys(data.target_test.images)
    with pytest.raises(ConfigError, match="validation split of its own"):
        TransferData.load(TransferConfig(source=config.source, target=str(root), validation_per_class=1), DataOptions())


def test_a_train_split_alone_gets_a_drawn_test_split(tmp_path):
    _class_folders(tmp_path / "dom" / "train", 0)
    info = describe_domain(str(tmp_path / "dom"))
    assert info.drawn_test and "drawn from train" in info.layout
    assert len(load_domain(str(tmp_path / "dom"), "test", ImageFormat(16, 3))) == 6


def test_bad_fractions_and_ambiguous_npz_sets(tmp_path):
    with pytest.raises(ConfigError, match="test_fraction"):
        TransferConfig(test_fraction=1.0)
    root = tmp_path / "two"
    root.mkdir()
    for prefix in ("a", "b"):
        _npz(root / f"{prefix}_train.npz")
    with pytest.raises(DataError, match="several NAME_train.npz"):
        load_domain(str(root))
