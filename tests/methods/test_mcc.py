"""``mcc``: the class-confusion loss on toy logits checked by hand, and a run that learns from it."""

from __future__ import annotations

import math

import pytest
import torch

from gantransfer.methods.mcc import class_confusion


def test_confident_distinct_predictions_confuse_nothing_and_uniform_ones_everything():
    assert class_confusion(torch.eye(4) * 50, temperature=1.0).item() == pytest.approx(0.0, abs=1e-6)
    assert class_confusion(torch.zeros(8, 4), temperature=1.0).item() == pytest.approx(3 / 4)


def test_two_classes_by_hand():
    # p = (0.75, 0.25) and (0.25, 0.75): equal entropies, so equal weights; C = p^T p =
    # [[0.625, 0.375], [0.375, 0.625]], columns already sum to 1; off-diagonal 0.75, over 2 classes.
    logits = torch.tensor([[math.log(0.75), math.log(0.25)], [math.log(0.25), math.log(0.75)]])
    assert class_confusion(logits, temperature=1.0).item() == pytest.approx(0.375)


def test_certain_images_weigh_more():
    # One certain image on class 0, one unsure between both: the unsure one's confusion counts less
    # than it would at equal weights (1 + exp(-H) favours the certain image).
    logits = torch.tensor([[8.0, -8.0], [0.0, 0.0]])
    probabilities = logits.softmax(dim=1)
    equal = probabilities.T @ probabilities
    equal = equal / equal.sum(dim=0, keepdim=True)
    assert class_confusion(logits, temperature=1.0).item() < ((equal.sum() - equal.trace()) / 2).item()


def test_the_loss_reaches_the_logits():
    logits = torch.randn(16, 10, generator=torch.Generator().manual_seed(0), requires_grad=True)
    class_confusion(logits).backward()
    assert logits.grad.abs().sum() > 0


def test_mcc_beats_source_only_on_grey_noisy_paper(grey_noisy_accuracy):
    # Measured on this draw, seeds 0 / 1 / 2: source-only 45.8 / 34.3 / 16.3 %, mcc 76.8 / 60.3 / 40.8 %.
    baseline, adapted = grey_noisy_accuracy("source-only"), grey_noisy_accuracy("mcc")
    assert adapted >= baseline + 0.15, f"mcc {adapted:.3f} against source-only {baseline:.3f}"
