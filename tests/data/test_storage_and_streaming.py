"""uint8 storage with float batches, and a folder over the memory budget streamed through
DataLoader workers giving the same batches as the in-memory path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthetic import write_colour_folder
from gantransfer.data import BatchStream, ImageFiles, ImageFormat, load_domain, model_batches, to_model_range
from gantransfer.errors import DataError
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig

FMT = ImageFormat(16, 3)


@pytest.fixture
def photos(tmp_path):
    return write_colour_folder(tmp_path / "photos", ("cat", "dog", "emu"), per_class=12, size=(24, 18))


def test_uint8_npz_is_stored_as_it_is_and_batches_see_u_over_255_times_2_minus_1(digits_npz):
    data = load_domain(str(digits_npz), "train")
    raw = torch.from_numpy(np.load(digits_npz)["x"])
    assert data.images.dtype == torch.uint8 and data.images.shape[1:] == (1, 28, 28)
    stream = BatchStream((data.images, data.labels), batch_size=7, seed=3)
    indices = BatchStream((data.images,), batch_size=7, seed=3).next_indices()
    images, labels = next(stream)
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    expected = data.images[indices].float().div(255.0) * 2.0 - 1.0
    assert torch.equal(images, expected)
    assert set(data.images.flatten().tolist()) <= set(raw.flatten().tolist())


def test_streamed_batches_equal_in_memory_ones(photos, capsys):
    memory = load_domain(str(photos), "train", FMT)
    streamed = load_domain(str(photos), "train", FMT, memory_budget_gib=0.0, workers=2)
    assert isinstance(memory.images, torch.Tensor) and isinstance(streamed.images, ImageFiles)
    assert "over the memory budget: streamed from disk" in capsys.readouterr().err
    assert streamed.images.shape == memory.images.shape
    a = BatchStream((memory.images, memory.labels), batch_size=10, seed=1)
    b = BatchStream((streamed.images, streamed.labels), batch_size=10, seed=1)
    for _ in range(6):  # more than two epochs of 29 images
        (xa, ya), (xb, yb) = next(a), next(b)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    state = b.state_dict()
    expected = [next(a)[0] for _ in range(3)]
    resumed = BatchStream((streamed.images, streamed.labels), batch_size=10, seed=1)
    resumed.load_state_dict(state)
    assert all(torch.equal(x, next(resumed)[0]) for x in expected), "a resumed stream decodes the same batches"
    assert torch.equal(torch.cat(list(model_batches(streamed.images, 8))), to_model_range(memory.images))
    subset = streamed.subset(torch.tensor([4, 0, 9]))
    assert isinstance(subset.images, ImageFiles) and torch.equal(subset.images[:], memory.images[[4, 0, 9]])


def test_evaluation_of_a_streamed_set_equals_in_memory(photos):
    memory = load_domain(str(photos), "test", FMT)
    streamed = load_domain(str(photos), "test", FMT, memory_budget_gib=0.0, workers=0)
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(TrunkConfig(3, 16, 4, 8), 3))
    a, b = evaluate_classifier(model, memory), evaluate_classifier(model, streamed)
    assert a.accuracy == b.accuracy and torch.equal(a.confusion, b.confusion)


def test_a_file_that_breaks_while_streaming_is_one_line_naming_it(photos):
    streamed = load_domain(str(photos), "train", FMT, memory_budget_gib=0.0, workers=1)
    broken = streamed.images.paths[3]
    with open(broken, "r+b") as handle:
        handle.truncate(40)
    with pytest.raises(DataError) as error:
        for _ in model_batches(streamed.images, 8):
            pass
    assert "\n" not in str(error.value) and broken in str(error.value)


def test_built_domains_stay_uint8_and_taking_every_image_copies_nothing():
    """A domain is held as uint8 until a batch: no whole-domain float copy, no copy for a subset
    that is the whole set (k = 0 leaves every image unlabelled)."""
    from gantransfer.data.datasets.built import built_images
    from gantransfer.data.images import ImageSet
    from gantransfer.data.splits import few_shot_labelled, few_shot_split

    raw = built_images(np.full((20, 3, 8, 8), 7, np.uint8), np.arange(20) % 2, ("a", "b"), "built")
    assert raw.images.dtype == torch.uint8
    images = ImageSet(raw.images, raw.labels, raw.class_names, "built")
    labelled, unlabelled = few_shot_split(images, 0, seed=0)
    assert len(labelled) == 0 and unlabelled.images.data_ptr() == images.images.data_ptr()
    labelled, unlabelled = few_shot_split(images, 2, seed=0)
    assert unlabelled.images.data_ptr() != images.images.data_ptr() and len(unlabelled) == 16
    assert torch.equal(few_shot_labelled(images, 2, seed=0).images, labelled.images)
