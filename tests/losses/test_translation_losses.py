"""Translation losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from gantransfer.losses.translation import (
    cycle_consistency_loss,
    foreground_mask,
    masked_pairwise_mse,
    semantic_consistency_loss,
)


def test_cycle_loss_is_the_mean_absolute_difference():
    original = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])  # (1, 1, 2, 2)
    reconstructed = torch.tensor([[[[0.0, -1.0], [1.0, -0.5]]]])
    # |1 - 0| + 0 + |0.5 - 1| + |0 + 0.5| = 2, over 4 pixels
    assert float(cycle_consistency_loss(original, reconstructed)) == 0.5
    assert float(cycle_consistency_loss(original, original)) == 0.0


def test_cycle_loss_reaches_two_at_opposite_images():
    white, black = torch.ones(3, 1, 4, 4), -torch.ones(3, 1, 4, 4)
    assert float(cycle_consistency_loss(white, black)) == 2.0


def test_cycle_loss_gradient_is_the_sign_over_the_pixel_count():
    original = torch.zeros(1, 1, 2, 2)
    reconstructed = torch.tensor([[[[0.5, -0.5], [2.0, -1.0]]]], requires_grad=True)
    cycle_consistency_loss(original, reconstructed).backward()
    assert torch.equal(reconstructed.grad, torch.tensor([[[[0.25, -0.25], [0.25, -0.25]]]]))


def test_semantic_loss_uses_the_arg_max_of_the_original_logits():
    original = torch.tensor([[0.0, 5.0, 1.0], [3.0, 2.9, 0.0]])  # hard labels 1 and 0
    translated = torch.tensor([[0.0, math.log(3.0), 0.0], [0.0, 0.0, 0.0]])
    # p(1 | row 0) = 3 / 5, p(0 | row 1) = 1 / 3
    expected = -(math.log(3 / 5) + math.log(1 / 3)) / 2
    assert float(semantic_consistency_loss(translated, original)) == pytest.approx(expected, rel=1e-6)


def test_semantic_loss_vanishes_when_translation_keeps_a_confident_class():
    confident = torch.tensor([[40.0, 0.0, 0.0], [0.0, 0.0, 40.0]])
    assert float(semantic_consistency_loss(confident, confident)) < 1e-12
    flipped = confident.flip(1)  # the translation now reads as another class
    assert float(semantic_consistency_loss(flipped, confident)) > 39


def test_semantic_loss_sends_gradients_to_the_translation_only():
    original = torch.tensor([[2.0, 0.0]], requires_grad=True)
    translated = torch.tensor([[0.0, 0.0]], requires_grad=True)
    semantic_consistency_loss(translated, original).backward()
    assert original.grad is None
    # d CE / d logits = softmax - one_hot(0) = (0.5 - 1, 0.5)
    assert torch.allclose(translated.grad, torch.tensor([[-0.5, 0.5]]))


def test_foreground_mask_marks_bright_strokes_on_a_dark_ground():
    images = torch.full((1, 3, 2, 2), -1.0)
    images[0, :, 0, 1] = 1.0  # one white pixel
    images[0, 0, 1, 1] = 1.0  # one red pixel: channel mean -1/3, below mid-grey
    assert foreground_mask(images).tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]


def test_masked_pairwise_mse_ignores_a_uniform_shift_and_the_unmasked_pixels():
    original = torch.zeros(1, 1, 2, 2)
    mask = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    shifted = original.clone()
    shifted[..., 0, :] += 0.5        # the whole masked region brighter by 0.5
    shifted[..., 1, :] = 0.9         # outside the mask: free to change
    assert masked_pairwise_mse(original, shifted, mask) == pytest.approx(0.0, abs=1e-7)


def test_masked_pairwise_mse_is_the_variance_of_the_difference_over_the_mask():
    original = torch.zeros(2, 1, 2, 2)
    translated = torch.zeros(2, 1, 2, 2)
    translated[0, 0, 0] = torch.tensor([1.0, -1.0])  # differences -1, +1 on the two masked pixels
    mask = torch.zeros(2, 1, 2, 2)
    mask[0, 0, 0] = 1.0  # the second image has an empty mask: it adds 0
    # image 0: mean of squares 1, square of the mean 0 -> 1; mean over the two images 0.5
    assert masked_pairwise_mse(original, translated, mask) == pytest.approx(0.5)
