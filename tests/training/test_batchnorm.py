"""BatchNorm statistics re-estimated on other images (AdaBN), checked against a hand computation."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gantransfer.training.batchnorm import batchnorm_layers, image_batches, reestimate_batchnorm


def _toy() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5),
                          nn.Linear(4 * 4 * 4, 5), nn.BatchNorm1d(5))
    for layer in batchnorm_layers(model):  # statistics and affine parameters far from the defaults
        layer.running_mean.fill_(7.0)
        layer.running_var.fill_(9.0)
        nn.init.uniform_(layer.weight, 0.5, 2.0)
        nn.init.uniform_(layer.bias, -1.0, 1.0)
    return model


def _batch_statistics(model: nn.Sequential, batch: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each BatchNorm layer's input mean and unbiased variance on ``batch``, by hand: the layers
    normalise with the batch's own statistics, dropout is off."""
    conv, bn2, _, _, _, linear, bn1 = model
    h = conv(batch)
    stats = [(h.mean(dim=(0, 2, 3)), h.var(dim=(0, 2, 3), unbiased=True))]
    h = F.batch_norm(h, None, None, bn2.weight, bn2.bias, training=True, eps=bn2.eps)
    h = linear(h.relu().flatten(1))
    stats.append((h.mean(dim=0), h.var(dim=0, unbiased=True)))
    return stats


@torch.no_grad()
def test_running_statistics_become_the_average_of_the_target_batches():
    model = _toy()
    batches = [torch.randn(8, 3, 6, 6) * 2 + 1, torch.randn(8, 3, 6, 6) - 3]
    expected = [_batch_statistics(model, b) for b in batches]
    weights_before = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    assert reestimate_batchnorm(model, batches) == 2
    for index, layer in enumerate(batchnorm_layers(model)):
        mean = (expected[0][index][0] + expected[1][index][0]) / 2
        var = (expected[0][index][1] + expected[1][index][1]) / 2
        assert torch.allclose(layer.running_mean, mean, atol=1e-5)
        assert torch.allclose(layer.running_var, var, atol=1e-4)
        assert layer.momentum == 0.1, "the layer's own momentum is given back"
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in weights_before.items()), "no weight changes"
    assert not model.training and not any(m.training for m in model.modules())


@torch.no_grad()
def test_eval_output_then_normalises_with_the_new_statistics():
    model = _toy()
    batch = torch.randn(16, 3, 6, 6)
    train_mode = copy.deepcopy(model).train()
    train_mode[4].eval()  # no dropout
    expected = train_mode(batch)  # each layer normalised by the batch's own statistics
    reestimate_batchnorm(model, [batch])
    for layer, count in zip(batchnorm_layers(model), (16 * 4 * 4, 16)):
        layer.running_var.mul_((count - 1) / count)  # train mode divides by the biased variance
    assert torch.allclose(model(batch), expected, atol=1e-4)


def test_image_batches_are_one_near_equal_pass():
    images = torch.arange(257).view(257, 1)
    batches = list(image_batches(images, 256))
    assert [len(b) for b in batches] == [129, 128]
    assert torch.equal(torch.cat(batches), images)
    assert [len(b) for b in image_batches(images[:10], 4)] == [4, 3, 3]


def test_no_batches_is_an_error():
    with pytest.raises(ValueError, match="at least one batch"):
        reestimate_batchnorm(_toy(), [])
