"""benchmarks/translation_diagnostic.py: its measurements on toy images, against hand-computed values."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from gantransfer.data import ImageFormat, load_domain
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig
from gantransfer.models.saving import save_classifier

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def diagnostic():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import translation_diagnostic

        yield translation_diagnostic
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_pixel_change_is_the_mean_absolute_difference_in_unit_range(diagnostic):
    before = torch.zeros(2, 1, 2, 2, dtype=torch.uint8)
    after = before.clone()
    after[0, 0, 0, 0] = 255  # one pixel of eight moved by the whole range
    assert diagnostic.pixel_change(before, after) == pytest.approx(1 / 8)
    assert diagnostic.pixel_change(before, before) == 0


def test_colour_statistics_are_zero_spread_for_grey_and_measure_channel_differences(diagnostic):
    grey = torch.full((1, 3, 2, 2), 51, dtype=torch.uint8)  # 0.2 on every channel
    assert diagnostic.colour_statistics(grey) == {"channel_spread": 0.0, "brightness": 0.2, "between_images": 0.0}
    red = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    red[:, 0] = 255  # channels 1, 0, 0: their mean 1/3, distances 2/3, 1/3, 1/3
    stats = diagnostic.colour_statistics(red)
    assert stats["channel_spread"] == pytest.approx(4 / 9, abs=1e-4)
    assert stats["brightness"] == pytest.approx(1 / 3, abs=1e-4)


def test_between_images_measures_how_the_images_mean_colours_differ(diagnostic):
    same = torch.full((4, 3, 2, 2), 100, dtype=torch.uint8)
    assert diagnostic.colour_statistics(same)["between_images"] == 0.0
    halves = torch.zeros(2, 3, 2, 2, dtype=torch.uint8)
    halves[1, 0] = 255  # red channel: image means 0 and 1 (std 0.5); the others 0 and 0
    assert diagnostic.colour_statistics(halves)["between_images"] == pytest.approx(0.5 / 3, abs=1e-4)


def test_the_script_measures_a_stage_end_to_end(diagnostic, source_digits_npz, target_digits_npz, tmp_path):
    fmt = ImageFormat(28, 1)
    source = load_domain(str(source_digits_npz), "train", fmt)
    stage = tmp_path / "translation-stage"
    stage.mkdir()
    (stage / "config.json").write_text(json.dumps({"format": {"size": 28, "channels": 1}}))
    inverted = 255 - source.images  # a "translation" whose pixel change is known
    torch.save(inverted, stage / "translated_source.pt")
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(TrunkConfig(width=4, feature_dim=8), len(source.class_names))).eval()
    save_classifier(tmp_path / "c.safetensors", model, source.class_names, fmt)

    output = tmp_path / "diagnostic.json"
    assert diagnostic.main([str(stage), "--source", str(source_digits_npz), "--target", str(target_digits_npz),
                            "--source-classifier", str(tmp_path / "c.safetensors"),
                            "--target-classifier", str(tmp_path / "c.safetensors"), "--images", "100",
                            "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    first = source.images[:100].float()
    assert report["images"] == 100
    assert report["pixel_change"] == pytest.approx(float((255 - 2 * first).abs().mean() / 255), abs=1e-4)
    target = load_domain(str(target_digits_npz), "train", fmt)
    assert report["colour"]["target"] == diagnostic.colour_statistics(target.images[:100])
    first_hundred = source.subset(torch.arange(100))
    assert report["source_classifier_accuracy"]["source"] == round(
        100 * evaluate_classifier(model, first_hundred).accuracy, 2)
