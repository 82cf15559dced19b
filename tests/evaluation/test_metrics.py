"""Frechet distance, classification metrics and pictures on toy inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg

from gantransfer.evaluation.classification import classification_report
from gantransfer.evaluation.frechet import frechet_distance
from gantransfer.evaluation.plots import save_confusion_matrix, save_image_grid


def test_frechet_one_dimensional_closed_form():
    # means 0 and 3, unbiased variances 2 and 2: 9 + 2 + 2 - 2 * sqrt(2 * 2) = 9
    a, b = torch.tensor([[-1.0], [1.0]]), torch.tensor([[2.0], [4.0]])
    assert math.isclose(frechet_distance(lambda x: x, 1, a, b), 9.0, rel_tol=1e-9)


def test_frechet_matches_scipy_formula_on_correlated_gaussians():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(400, 3, generator=generator, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.5]], dtype=torch.float64)
    b = torch.randn(300, 3, generator=generator, dtype=torch.float64) * 2 + 1
    mu1, mu2 = a.mean(0).numpy(), b.mean(0).numpy()
    s1, s2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    assert math.isclose(frechet_distance(lambda x: x, 3, a, b), expected, rel_tol=1e-6)


def test_frechet_of_a_set_with_itself_is_zero():
    a = torch.randn(200, 4)
    assert abs(frechet_distance(lambda x: x, 4, a, a)) < 1e-6


def test_classification_report():
    predictions = torch.tensor([0, 1, 1, 2, 2, 2])
    labels = torch.tensor([0, 1, 2, 2, 2, 0])
    report = classification_report(predictions, labels, 4)
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.per_class[:3].tolist() == pytest.approx([0.5, 1.0, 2 / 3])
    assert math.isnan(float(report.per_class[3]))
    assert report.confusion[0].tolist() == [1, 0, 1, 0]
    assert report.as_dict(("a", "b", "c", "d"))["per_class_accuracy"]["d"] is None


def test_pictures_are_png_files(tmp_path):
    grid = save_image_grid(tmp_path / "g.png", torch.rand(12, 1, 28, 28) * 2 - 1, columns=4)
    assert grid.shape[0] == 3 and Image.open(tmp_path / "g.png").format == "PNG"
    save_confusion_matrix(tmp_path / "c.png", torch.eye(3, dtype=torch.int64) * 5, ("x", "y", "z"))
    assert Image.open(tmp_path / "c.png").size[0] > 100


def test_long_class_names_are_shortened_on_plots_with_an_ellipsis():
    from gantransfer.evaluation.plots import LABEL_CHARACTERS, short_label

    assert short_label("bike") == "bike"
    long = "back_pack_with_a_very_long_name"
    assert len(short_label(long)) == LABEL_CHARACTERS and short_label(long).endswith("\u2026")
    assert short_label(long).startswith(long[: LABEL_CHARACTERS - 1])


def test_per_class_accuracy_keeps_the_class_order_of_the_matrix_in_json(tmp_path):
    import json

    import torch

    from gantransfer.evaluation.classification import classification_report
    from gantransfer.fileio import write_json

    names = ("zebra", "apple", "10", "2")
    report = classification_report(torch.tensor([0, 1, 2, 3, 3]), torch.tensor([0, 1, 2, 3, 2]), 4)
    write_json(tmp_path / "m.json", report.as_dict(names))
    assert list(json.loads((tmp_path / "m.json").read_text())["per_class_accuracy"]) == list(names)


def test_the_confusion_matrix_counts_as_torchmetrics_does():
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    from gantransfer.evaluation.classification import confusion_matrix

    generator = torch.Generator().manual_seed(0)
    labels, predictions = torch.randint(0, 4, (200,), generator=generator), torch.randint(0, 4, (200,), generator=generator)
    ours = confusion_matrix(predictions, labels, 5)  # class 4: never seen, never predicted
    assert torch.equal(ours, multiclass_confusion_matrix(predictions, labels, num_classes=5))
    assert ours[0, 1] == int(((labels == 0) & (predictions == 1)).sum()) and ours[4].sum() == 0


def test_a_run_imports_no_plotting_or_scientific_stack_it_does_not_use():
    """torchmetrics, scipy and matplotlib cost about 100 MB of every run's memory when imported."""
    import subprocess
    import sys

    code = ("import sys, gantransfer.methods.transfer, gantransfer.cli.transfer_commands\n"
            "print(sorted(m for m in ('torchmetrics', 'scipy', 'matplotlib', 'sklearn', 'skimage') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_evaluation_batches_hold_the_same_pixels_whatever_the_image_side():
    from torch import nn

    from gantransfer.data.storage import evaluation_batch_size
    from gantransfer.evaluation.classification import predict_logits

    sizes = {side: evaluation_batch_size(torch.zeros(1, 3, side, side)) for side in (28, 64, 128, 4096)}
    assert sizes == {28: 1024, 64: 196, 128: 49, 4096: 1}
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    images = torch.randint(0, 256, (300, 1, 64, 64), dtype=torch.uint8)
    assert torch.allclose(predict_logits(model, images), predict_logits(model, images, batch_size=300), atol=1e-6)
