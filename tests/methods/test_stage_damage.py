"""A finished shared stage whose files were damaged after it was written is found out and trained again."""

from __future__ import annotations

import json

import pytest
import torch

from gantransfer.data import ImageFormat, ImageSet
from gantransfer.engine.stage_cache import DONE, WRITTEN, stage_damage
from gantransfer.methods.stages import StageCache
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig
from gantransfer.training.supervised import ClassifierTraining


def _stage(cache: StageCache):
    """A tiny source-classifier stage (the same seed every time): its weights and its folder."""
    images = torch.randint(0, 256, (40, 1, 12, 12), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    source = ImageSet(images, torch.arange(40) % 4, ("a", "b", "c", "d"), "tiny", ImageFormat(12, 1))
    def new_classifier():
        return Classifier(ClassifierConfig(TrunkConfig(channels=1, image_size=12, width=4, feature_dim=8), 4))

    saved = cache.source_classifier(source, "tiny@0", new_classifier, ClassifierTraining(steps=3, batch_size=8),
                                    seed=0, progress_bar=False)
    return saved.model.state_dict(), next(cache.root.glob("source-classifier-*"))


@pytest.mark.parametrize("damage", ["truncated", "missing", "changed"])
def test_a_damaged_stage_is_reported_and_trained_again_to_the_same_weights(tmp_path, capsys, damage):
    cache = StageCache(tmp_path / "stages")
    first, folder = _stage(cache)
    assert "classifier.safetensors" in json.loads((folder / DONE).read_text())[WRITTEN]
    assert stage_damage(folder) is None
    weights = folder / "classifier.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "missing":
        weights.unlink()  # the done marker is there, the weights are not
    else:
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF  # same size, one byte flipped
        weights.write_bytes(bytes(data))
    assert stage_damage(folder) is not None
    capsys.readouterr()
    again, same_folder = _stage(cache)
    err = capsys.readouterr().err
    assert same_folder == folder and "classifier.safetensors" in err and "trained again" in err
    assert err.count("\n") == 1, err
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert stage_damage(folder) is None


def test_an_intact_stage_is_read_without_training(tmp_path, capsys):
    cache = StageCache(tmp_path / "stages")
    _, folder = _stage(cache)
    stamp = (folder / DONE).stat().st_mtime_ns
    capsys.readouterr()
    _stage(cache)
    assert (folder / DONE).stat().st_mtime_ns == stamp and capsys.readouterr().err == ""
