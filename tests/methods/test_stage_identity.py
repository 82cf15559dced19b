"""A shared stage is named by what makes its weights: how often it is evaluated, and on how many
samples, names no other stage and trains the same weights."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from gantransfer.data import DataOptions, ImageFormat, ImageSet, load_domain
from gantransfer.engine.stage_cache import STAGE_FORMAT, stage_key
from gantransfer.methods.stages import StageCache
from gantransfer.models import Classifier, ClassifierConfig, TrunkConfig
from gantransfer.training import pretrain as pretrain_module
from gantransfer.training import reference
from gantransfer.training.pretrain import PretrainConfig
from gantransfer.training.reference import ReferenceRecipe
from gantransfer.training.supervised import ClassifierTraining
from gantransfer.training.translation import TranslationTraining


def _weights_equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[name], second[name]) for name in first)


def _source() -> ImageSet:
    images = torch.randint(0, 256, (48, 1, 12, 12), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ImageSet(images, torch.arange(48) % 4, ("a", "b", "c", "d"), "tiny", ImageFormat(12, 1))


def _new_classifier() -> Classifier:
    return Classifier(ClassifierConfig(TrunkConfig(channels=1, image_size=12, width=4, feature_dim=8), 4))


def _source_classifier(root, eval_every: int):
    """A tiny source-classifier stage, its source accuracy monitored every ``eval_every`` steps."""
    source = _source()
    cache = StageCache(root)
    saved = cache.source_classifier(source, "tiny@0", _new_classifier,
                                    ClassifierTraining(steps=6, batch_size=8, eval_every=eval_every),
                                    seed=0, progress_bar=False, monitor=source)
    return saved.model.state_dict(), next(root.glob("source-classifier-*")).name


def test_a_source_classifier_evaluated_at_every_step_is_the_same_stage_with_the_same_weights(tmp_path):
    often, often_name = _source_classifier(tmp_path / "often", eval_every=1)
    never, never_name = _source_classifier(tmp_path / "never", eval_every=0)
    assert often_name == never_name
    assert _weights_equal(often, never)


def test_a_source_gan_judged_on_more_samples_or_more_often_is_the_same_stage_with_the_same_weights(
        source_digits_npz, tmp_path, monkeypatch):
    # A small judge: the reference classifier it trains on first use takes 20 steps, not 3,000.
    def small_judge(*arguments, **options):
        return reference.gan_quality_for_domain(*arguments, recipe=ReferenceRecipe(steps=20, batch_size=16),
                                                **options)

    monkeypatch.setattr(pretrain_module, "gan_quality_for_domain", small_judge)
    base = PretrainConfig(source=str(source_digits_npz), conditional=True, steps=4, batch_size=16, eval_every=0,
                          quality_samples=0, generator_width=8, discriminator_width=8, feature_dim=16, latent_dim=8,
                          image_size=28, channels=1)
    judged = replace(base, eval_every=2, quality_samples=64)
    # "judged" trains the judge's reference classifier first, "judged-again" finds it cached.
    gans = {name: StageCache(tmp_path / name).source_gan(config, DataOptions(), progress_bar=False)
            for name, config in (("plain", base), ("judged", judged), ("judged-again", judged))}
    names = {next((tmp_path / name).glob("source-gan-*")).name for name in gans}
    assert len(names) == 1
    for name in ("judged", "judged-again"):
        assert _weights_equal(gans["plain"].generator.state_dict(), gans[name].generator.state_dict()), name
        assert _weights_equal(gans["plain"].discriminator.state_dict(), gans[name].discriminator.state_dict()), name


def test_translators_evaluated_more_often_are_the_same_stage_with_the_same_weights(source_digits_npz,
                                                                                   target_digits_npz, tmp_path):
    source, target = load_domain(str(source_digits_npz), "train"), load_domain(str(target_digits_npz), "train")
    options = TranslationTraining(steps=4, batch_size=8, translator_width=4, residual_blocks=1, discriminator_width=4,
                                  semantic_weight=0.0, eval_every=0)
    translations, names = {}, {}
    for name, eval_every in (("never", 0), ("often", 1)):
        translations[name] = StageCache(tmp_path / name).translation(
            source, target, None, replace(options, eval_every=eval_every), {"source": "s", "target": "t"}, seed=0,
            progress_bar=False)
        names[name] = next((tmp_path / name).glob("translation-*")).name
    assert names["never"] == names["often"]
    assert _weights_equal(translations["never"].source_to_target.state_dict(),
                          translations["often"].source_to_target.state_dict())


@pytest.mark.parametrize("setting", ["eval_every", "quality_samples"])
def test_stage_names_leave_out_the_evaluation_settings_at_any_depth(setting):
    identity = {"training": {"steps": 5, setting: 100}, setting: 7, "seed": 0}
    other = {"training": {"steps": 5, setting: 0}, setting: 1, "seed": 0}
    assert stage_key("source-classifier", identity) == stage_key("source-classifier", other)
    assert stage_key("source-classifier", identity) != stage_key("source-classifier", {**other, "seed": 1})


def test_stage_names_carry_the_stage_format(monkeypatch):
    # A change to what stages hold or how they are named raises STAGE_FORMAT, so that no stage
    # trained before it is taken for one trained after it.
    from gantransfer.engine import stage_cache

    identity = {"training": {"steps": 5}, "seed": 0}
    before = stage_key("source-classifier", identity)
    monkeypatch.setattr(stage_cache, "STAGE_FORMAT", STAGE_FORMAT + 1)
    assert stage_key("source-classifier", identity) != before


def test_a_source_classifier_stage_starts_from_its_seed_whatever_its_caller_drew_before(tmp_path):
    # Its starting weights were drawn from the caller's random state: the same stage trained first
    # by a run that had drawn more numbers held other weights under the same name.
    source = _source()
    trained = {}
    for draws in (0, 5):
        torch.manual_seed(123)
        torch.rand(draws)
        before = torch.random.get_rng_state()
        saved = StageCache(tmp_path / f"after-{draws}").source_classifier(
            source, "tiny@0", _new_classifier, ClassifierTraining(steps=4, batch_size=8, eval_every=0), seed=0,
            progress_bar=False)
        assert torch.equal(torch.random.get_rng_state(), before)  # the caller's numbers are left alone
        trained[draws] = saved.model.state_dict()
    assert _weights_equal(trained[0], trained[5])
