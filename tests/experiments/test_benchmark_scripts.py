"""The measuring scripts in benchmarks/ run end to end on tiny inputs (a broken call fails here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from gantransfer.data import ImageFormat, ImageSet, PhotometricAugment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scripts():
    """``scripts(name)``: the module benchmarks/<name>.py."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import importlib

        yield importlib.import_module
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_data_memory_child_times_both_steps(scripts, tmp_path):
    data_memory = scripts("data_memory")
    folder = data_memory.build_folder(tmp_path / "images", images=24, size=16)
    result = data_memory.child(folder, size=16, mode="memory", steps=2, gan_steps=1, batch=4, workers=0)
    assert result["images"] == 24 and not result["streamed"]
    assert result["classifier_images_per_s"] > 0 and result["gan_real_images_per_s"] > 0


def _set(n: int, seed: int, name: str) -> ImageSet:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 28, 28), generator=generator, dtype=torch.uint8)
    return ImageSet(images, torch.arange(n) % 10, tuple(str(i) for i in range(10)), name, ImageFormat(28, 3))


def test_source_recipe_cell_and_table(scripts):
    recipe = scripts("source_recipe")
    variant = recipe.Variant(affine=False, photometric=PhotometricAugment(invert=0.5), target_statistics=True)
    target = _set(40, 1, "target")
    cell = recipe.train_cell(variant, seed=0, steps=3, source=_set(40, 0, "source"), target_train=target,
                             validation=target.subset(torch.arange(20)), test=_set(20, 2, "test"), eval_every=2)
    assert 0 <= cell["validation_accuracy"] <= 1 and 0 <= cell["test_accuracy"] <= 1
    assert [step for step, _ in cell["validation_curve"]] == [2, 3]
    rows = [{"variant": "v", "seed": seed, "steps": 3, "target": "t", **cell} for seed in (0, 1)]
    table = recipe.table(json.loads(json.dumps(rows)))
    assert "| mnist -> t (28 px) | v | 3 | 2 |" in table and "+- 0.00" in table


def _grey(n: int, seed: int) -> ImageSet:
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    return ImageSet(images, torch.arange(n) % 10, tuple(str(i) for i in range(10)), "grey", ImageFormat(28, 1))


@pytest.mark.slow  # about 20 s: four steps, four variants, a profile
def test_step_speed_times_every_step_and_variant(scripts, monkeypatch):
    step_speed = scripts("step_speed")
    monkeypatch.setattr(step_speed, "COMPILED_STEPS", ())  # compiling takes minutes: its path is timed by hand
    domains = {"mnist": _set(160, 0, "mnist"), "mnist-grey": _grey(160, 1), "mnist-m": _set(160, 2, "mnist-m")}
    results = {"machine": "test", "steps": {}}
    for name in step_speed.STEPS:
        result = step_speed.measure_step(name, domains, rounds=1, steps=1)
        assert set(result["images_per_second"]) == {"before", "default", "bf16", "1 thread"}
        assert all(value > 0 for value in result["images_per_second"].values())
        assert result["ratio_to_before"]["before"] == 1
        assert 99 <= sum(result["profile_percent"].values()) <= 101
        results["steps"][name] = result
    table = step_speed.table(results)
    assert "| translator |" in table and "not compiled" in table


def test_peer_speed_trains_the_plain_peer_and_tabulates(scripts):
    import argparse

    peer_speed = scripts("peer_speed")
    source, target = _set(160, 0, "mnist"), _set(160, 1, "mnist-m")
    data = {"source_images": source.images, "source_labels": source.labels, "target_images": target.images,
            "target_labels": target.labels, "test_images": target.images[:50], "test_labels": target.labels[:50]}
    args = argparse.Namespace(peer_steps=2, eval_every=1, max_seconds=60.0, seed=0)
    names = ["plain"] + (["pytorch-adapt"] if peer_speed.has_pytorch_adapt() else [])
    peers = {name: peer_speed.run_peer(name, data, args) for name in names}
    for peer in peers.values():
        assert 0 <= peer["final_accuracy"] <= 1 and peer["images_per_second"] > 0 and peer["steps"] == 2
        peer.update(library_seconds_to_final=1.0, library_sooner=peer["train_seconds"])
    table = peer_speed.table({"pairs": {"p": {"peers": peers, "library": {"images_per_second": 10.0}}}})
    assert "| p | plain |" in table


@pytest.mark.slow  # two CLI runs in fresh processes
@pytest.mark.real_data
def test_scaling_cell_runs_both_commands(scripts, tmp_path, data_dir):
    from gantransfer.data import DataOptions

    scaling = scripts("scaling")
    row = scaling.measure(600, 32, steps=2, work=tmp_path, options=DataOptions(data_dir=str(data_dir),
                                                                                 cache_dir=str(tmp_path / "cache")))
    assert row["source_stage"]["seconds"] > 0 and row["dann"]["peak_rss_mib"] > 100
    assert "| 600 | 32 px |" in scaling.table([row])
