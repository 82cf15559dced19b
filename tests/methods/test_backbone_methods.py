"""Transfer methods on a torchvision backbone (ResNet-18, random weights) on tiny synthetic colour domains."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from gantransfer.cli.main import main
from gantransfer.data import DataOptions, ImageFormat, load_domain
from gantransfer.engine.run_folder import RunFolder
from gantransfer.errors import ConfigError
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.methods import ClassifierOptions, GanAugmentOptions, TransferConfig, transfer
from gantransfer.methods.context import TransferContext, TransferData
from gantransfer.methods.registry import METHODS
from gantransfer.methods.stages import StageCache
from gantransfer.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, TorchvisionTrunk
from gantransfer.models.saving import load_classifier
from gantransfer.training.pretrain import PretrainConfig, PretrainedGan
from gantransfer.training.self_training import TeacherOptions
from gantransfer.training.supervised import ClassifierTraining
from gantransfer.training.translation import TranslationTraining

COLOURS = np.array([[230, 30, 30], [30, 200, 40], [40, 60, 230], [220, 210, 30]], np.uint8)


def write_colour_npz(path: Path, n: int = 40, size: int = 64, seed: int = 0, background: int = 40) -> Path:
    """A labelled colour domain: dim noise with a square of a class-specific colour at a random place."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, size, size, 3)) * background).astype(np.uint8)
    y = np.arange(n) % len(COLOURS)
    side = size // 3
    for i, label in enumerate(y):
        row, col = rng.integers(0, size - side, 2)
        x[i, row : row + side, col : col + side] = COLOURS[label]
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="module")
def colour_domains(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("colour")
    return write_colour_npz(folder / "source.npz", seed=0), write_colour_npz(folder / "target.npz", seed=1, background=120)


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> Path:
    """One source-classifier stage for the module: every run here has the same source config."""
    return tmp_path_factory.mktemp("stages")


@pytest.fixture
def resnet(colour_domains) -> TransferConfig:
    """64 x 64 x 3 domains, a ResNet-18 classifier with random weights, a handful of small steps."""
    source, target = colour_domains
    return TransferConfig(
        source=str(source), target=str(target), k=2, image_size=64, channels=3,
        classifier=ClassifierOptions(backbone="resnet18", feature_dim=32),
        training=ClassifierTraining(steps=2, batch_size=8, eval_every=0),
        source_training=ClassifierTraining(steps=3, batch_size=8, eval_every=0),
        teacher=TeacherOptions(batch_size=8),
    ).with_options(
        translation=TranslationTraining(steps=2, batch_size=4, translator_width=4, residual_blocks=1,
                                        discriminator_width=4),
        gan_augment=GanAugmentOptions(adapt_steps=2, adapt_batch_size=4, synthetic_per_class=2, synthetic_batch_size=4),
    )


def _context(config: TransferConfig, tmp_path: Path, stages: Path) -> TransferContext:
    run = RunFolder(tmp_path / "ctx")
    run.root.mkdir(parents=True, exist_ok=True)
    return TransferContext(config, TransferData.load(config, DataOptions()), StageCache(stages), run,
                           DataOptions(), progress_bar=False)


def _check_run(out: Path, config: TransferConfig, metrics: dict) -> None:
    saved = load_classifier(out / "classifier.safetensors")
    # The reported accuracy is the saved classifier's on the target test set.
    test = load_domain(config.target, "test", saved.format)
    assert evaluate_classifier(saved.model, test).accuracy == pytest.approx(metrics["target_test_accuracy"])
    assert len(metrics["per_class_accuracy"]) == 4
    assert isinstance(saved.model.trunk, TorchvisionTrunk) and saved.model.config.trunk.backbone == "resnet18"
    assert saved.format.size == 64 and saved.format.channels == 3
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    assert saved.model.features(images).shape == (3, config.classifier.feature_dim)
    assert saved.model(images).shape == (3, 4)


@pytest.mark.parametrize("method, self_train", [("finetune", False), ("dann", False), ("source-only", True)])
def test_methods_run_on_a_resnet18_backbone(resnet, tmp_path, stages, method, self_train):
    config = replace(resnet, method=method, self_train=self_train)
    out = tmp_path / method
    metrics = transfer(config, out, stages_dir=stages, progress_bar=False)
    _check_run(out, config, metrics)
    if method == "dann":
        state = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)
        first = state["modules"]["discriminator"]["net.0.weight"]
        assert first.shape[1] == config.classifier.feature_dim, "DANN reads the bottleneck's features"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["target-only", "oracle", "adda", "pixel-da", "cycada", "gan-augment"])
def test_every_other_method_runs_on_a_resnet18_backbone(resnet, tmp_path, stages, method):
    config = replace(resnet, method=method, k=0 if method in ("adda", "pixel-da", "cycada") else 2)
    if method == "gan-augment":  # the generated images on a classifier started from the source classifier
        config = replace(config, init="source", gan=replace(config.gan, steps=2, batch_size=8, generator_width=8,
                                                            discriminator_width=8, latent_dim=8))
    out = tmp_path / method
    _check_run(out, config, transfer(config, out, stages_dir=stages, progress_bar=False))


def test_backbone_weights_start_a_new_classifier_whose_backbone_learns_slower(resnet, tmp_path):
    torch.manual_seed(3)
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, tmp_path / "resnet18.pth")
    config = replace(resnet, classifier=replace(resnet.classifier, backbone_weights=str(tmp_path / "resnet18.pth")))
    context = _context(config, tmp_path, tmp_path / "stages")
    classifier, groups = context.initial_classifier("random")
    for name, tensor in classifier.trunk.backbone.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    trunk = classifier.config.trunk
    assert trunk.input_normalization == "imagenet" and trunk.pretrained.startswith("sha256:")
    lr = config.training.optimizer.lr
    by_lr = {group["lr"]: {id(p) for p in group["params"]} for group in groups}
    assert by_lr[lr * config.trunk_lr_scale] == {id(p) for p in classifier.trunk.backbone.parameters()}
    new_layers = [*classifier.head.parameters(), *classifier.trunk.bottleneck.parameters()]
    assert by_lr[lr] == {id(p) for p in new_layers}, "the new bottleneck learns at the head's rate"
    # The weights name the source classifier stage: another file, another stage.
    random_start = _context(resnet, tmp_path, tmp_path / "stages").new_classifier()
    assert random_start.config != classifier.config


def test_imagenet_weights_absent_offline_stop_the_run_with_one_line(colour_domains, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    source, target = colour_domains
    code = main(["transfer", "--source", str(source), "--target", str(target), "--image-size", "64", "--channels",
                 "3", "--method", "target-only", "--k", "2", "--classifier-backbone", "resnet18",
                 "--classifier-backbone-weights", "imagenet", "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in error


@pytest.mark.parametrize("options, message", [
    ({"backbone": "resnet19"}, "did you mean resnet18"),
    ({"backbone_weights": "imagenet"}, "backbone_weights needs a torchvision backbone"),
    ({"backbone": "resnet18", "width": 8}, "classifier: width sets the conv backbone's channels"),
    ({"backbone": "resnet18", "norm": "layer"}, None),  # refused when the trunk is built
])
def test_impossible_classifier_options_get_one_line_errors(options, message):
    if message is None:
        config = TransferConfig(classifier=ClassifierOptions(**options), image_size=32, channels=3)
        with pytest.raises(ConfigError, match="norm 'layer' needs a backbone without BatchNorm"):
            from gantransfer.models import Classifier

            Classifier(config.classifier_config(10))
        return
    with pytest.raises(ConfigError, match=message):
        TransferConfig(classifier=ClassifierOptions(**options))


@pytest.mark.parametrize("method, init", [("gan-features", None), ("finetune", "gan"), ("gan-augment", None)])
def test_gan_init_on_another_backbone_fails_before_any_gan_is_trained(resnet, tmp_path, method, init):
    config = replace(resnet, method=method, init=init)
    with pytest.raises(ConfigError) as error:
        transfer(config, tmp_path / "run", stages_dir=tmp_path / "stages", progress_bar=False)
    assert str(error.value) == (
        "init=gan needs the classifier's backbone to match the GAN critic's trunk (critic: conv 64px, "
        "classifier: resnet18); use --classifier-backbone conv or --init source"
    )
    assert not list((tmp_path / "stages").glob("source-gan-*")), "no GAN may be pretrained first"


def test_gan_init_from_a_critic_on_the_same_backbone(resnet, tmp_path):
    # A critic whose trunk is a ResNet-18 (built by the model layer; the pretraining config makes conv critics).
    gan_config = PretrainConfig(image_size=64, channels=3, conditional=True)
    trunk = resnet.trunk()
    critic = Discriminator(DiscriminatorConfig(trunk, num_classes=4)).eval()
    generator = Generator(GeneratorConfig(channels=3, image_size=64, width=8, num_classes=4))
    context = _context(resnet, tmp_path, tmp_path / "stages")
    context._gan = PretrainedGan(generator, critic, gan_config, tuple("0123"), step=0)
    classifier, _ = context.initial_classifier("gan")
    for name, tensor in critic.trunk.state_dict().items():
        assert torch.equal(classifier.trunk.state_dict()[name], tensor), name
    context.config = replace(resnet, classifier=replace(resnet.classifier, backbone_weights="imagenet"))
    with pytest.raises(ConfigError, match="would replace classifier.backbone_weights"):
        context.check_gan_init()


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(set(METHODS) - {"auto"}))
def test_every_method_runs_on_the_conv_trunk_at_64_px_colour(resnet, tmp_path, stages, method):
    tiny_gan = replace(resnet.gan, steps=2, batch_size=8, generator_width=8, discriminator_width=8, latent_dim=8,
                       feature_dim=16, quality_samples=0)
    config = replace(resnet, method=method, classifier=ClassifierOptions(width=8, feature_dim=16), gan=tiny_gan,
                     k=0 if METHODS[method].uses_unlabelled else 2)
    out = tmp_path / method
    metrics = transfer(config, out, stages_dir=tmp_path / "stages", progress_bar=False)
    saved = load_classifier(out / "classifier.safetensors")
    assert saved.format == ImageFormat(64, 3) and saved.model.config.trunk.backbone in ("conv", "sngan")
    test = load_domain(config.target, "test", saved.format)
    assert evaluate_classifier(saved.model, test).accuracy == pytest.approx(metrics["target_test_accuracy"])
