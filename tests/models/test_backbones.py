"""Torchvision backbones as trunks: shapes, input adaptation, weights files, saving and export."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from gantransfer.data.images import ImageFormat
from gantransfer.errors import ConfigError
from gantransfer.export import export_classifier
from gantransfer.models import (
    Classifier,
    ClassifierConfig,
    ConvTrunk,
    Discriminator,
    DiscriminatorConfig,
    TorchvisionTrunk,
    TrunkConfig,
)
from gantransfer.models.backbone import IMAGENET_MEAN, IMAGENET_STD, InputAdapter
from gantransfer.models.pretrained import read_backbone_weights
from gantransfer.models.saving import load_classifier, save_classifier



def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())

def _resnet_classifier(channels: int = 3, size: int = 64, **trunk) -> Classifier:
    torch.manual_seed(0)
    config = TrunkConfig(channels=channels, image_size=size, feature_dim=64, backbone="resnet18", **trunk)
    return Classifier(ClassifierConfig(config, num_classes=4))


@pytest.mark.parametrize("channels, size", [(3, 64), (1, 28)])
def test_resnet18_trunk_shapes_parameters_and_gradients(channels, size):
    classifier = _resnet_classifier(channels, size)
    images = torch.rand(3, channels, size, size) * 2 - 1
    assert classifier.features(images).shape == (3, 64)
    logits = classifier(images)
    assert logits.shape == (3, 4)
    resnet = torchvision.models.resnet18()
    bottleneck = 512 * 64 + 2 * 64  # Linear without bias (BatchNorm follows), BatchNorm1d's weight and bias
    assert count_parameters(classifier.trunk) == count_parameters(resnet) - (512 * 1000 + 1000) + bottleneck
    logits.square().sum().backward()
    gradient = classifier.trunk.backbone.conv1.weight.grad
    assert gradient is not None and gradient.abs().sum() > 0
    assert classifier.trunk.feature_dim == 64


def test_grey_images_are_repeated_to_three_channels():
    grey, rgb = _resnet_classifier(1, 32).eval(), _resnet_classifier(3, 32).eval()
    rgb.load_state_dict(grey.state_dict())
    images = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.equal(grey(images), rgb(images.repeat(1, 3, 1, 1)))


def test_imagenet_normalisation_matches_torchvision_normalize():
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    expected = torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)((images + 1) / 2)
    assert torch.allclose(InputAdapter(3, "imagenet")(images), expected, atol=1e-6)
    assert torch.equal(InputAdapter(3, "none")(images), images)
    # ... and the trunk applies it before the backbone.
    plain, normalized = _resnet_classifier(3, 32).eval(), _resnet_classifier(3, 32, input_normalization="imagenet").eval()
    normalized.load_state_dict(plain.state_dict())
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    by_hand = torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)((images + 1) / 2)
    assert torch.allclose(normalized(images), plain.head(plain.trunk.bottleneck(plain.trunk.backbone(by_hand))),
                          atol=1e-5)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_backbone_weights_from_a_local_file(tmp_path, suffix):
    torch.manual_seed(1)
    state = torchvision.models.resnet18().state_dict()
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    weights = read_backbone_weights("resnet18", str(path))
    assert weights.provenance.startswith("sha256:")
    trunk = _resnet_classifier(3, 32).trunk
    trunk.load_backbone_state(weights.state)
    for name, tensor in trunk.backbone.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_unfit_weights_files_get_one_line_errors(tmp_path):
    trunk = _resnet_classifier(3, 32).trunk
    with pytest.raises(ConfigError, match="not a state dict of torchvision's resnet18 .missing"):
        trunk.load_backbone_state({"conv1.weight": torch.zeros(64, 3, 7, 7)})
    with pytest.raises(ConfigError, match="not resnet18 weights"):
        trunk.load_backbone_state(torchvision.models.resnet50().state_dict())
    torch.save({"state": [1, 2]}, tmp_path / "odd.pt")
    with pytest.raises(ConfigError, match="not a state dict"):
        read_backbone_weights("resnet18", str(tmp_path / "odd.pt"))
    with pytest.raises(ConfigError, match="no such file"):
        read_backbone_weights("resnet18", str(tmp_path / "absent.pth"), option="classifier.backbone_weights")


def test_imagenet_weights_absent_offline_say_which_file_goes_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(ConfigError) as error:
        read_backbone_weights("resnet18", "imagenet", option="classifier.backbone_weights")
    message = str(error.value)
    assert "\n" not in message and str(expected) in message and "--download" in message
    assert message.startswith("classifier.backbone_weights=imagenet:")
    # Put there, the file is read from the cache, and nothing is downloaded.
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("downloaded"))
    expected.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), expected)
    weights = read_backbone_weights("resnet18", "imagenet")
    assert weights.provenance == "imagenet:ResNet18_Weights.IMAGENET1K_V1" and "fc.weight" in weights.state


def test_imagenet_weights_download_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    calls = []

    def fake_download(url, model_dir, **options):
        calls.append((url, options["check_hash"]))
        Path(model_dir).mkdir(parents=True, exist_ok=True)
        torch.save(torchvision.models.resnet18().state_dict(), f"{model_dir}/{url.rsplit('/', 1)[1]}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    weights = read_backbone_weights("resnet18", "imagenet", download=True)
    assert calls == [("https://download.pytorch.org/models/resnet18-f37072fd.pth", True)]
    assert "conv1.weight" in weights.state


def test_saved_resnet_classifier_gives_the_same_logits_and_needs_no_weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    model = _resnet_classifier(1, 28, input_normalization="imagenet", pretrained="imagenet:ResNet18_Weights.IMAGENET1K_V1")
    model.train()(torch.rand(4, 1, 28, 28) * 2 - 1)  # move the BatchNorm statistics off their defaults
    model.eval()
    save_classifier(tmp_path / "c.safetensors", model, tuple("abcd"), ImageFormat(28, 1))
    saved = load_classifier(tmp_path / "c.safetensors")
    assert isinstance(saved.model.trunk, TorchvisionTrunk) and saved.model.config == model.config
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    assert torch.equal(saved.model(images), model(images))


def test_torchscript_export_of_a_resnet_classifier(tmp_path):
    channels, size = 1, 28  # grey: the trace must keep the repeat to 3 channels
    model = _resnet_classifier(channels, size, input_normalization="imagenet").eval()
    save_classifier(tmp_path / "c.safetensors", model, tuple("abcd"), ImageFormat(size, channels))
    saved = load_classifier(tmp_path / "c.safetensors")
    export_classifier(saved, tmp_path / "model.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(tmp_path / "model.pt"))
    images = torch.rand(5, channels, size, size) * 2 - 1  # another batch size than the traced one
    assert torch.allclose(scripted(images), saved.model(images), atol=1e-5)


@pytest.mark.slow
def test_onnx_export_of_a_resnet_classifier(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = _resnet_classifier(1, 28, input_normalization="imagenet").eval()
    save_classifier(tmp_path / "c.safetensors", model, tuple("abcd"), ImageFormat(28, 1))
    saved = load_classifier(tmp_path / "c.safetensors")
    export_classifier(saved, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    (logits,) = session.run(None, {"images": images.numpy()})
    assert torch.allclose(torch.from_numpy(logits), saved.model(images), atol=1e-4)


def test_classifiers_saved_before_backbones_existed_load_as_conv(tmp_path):
    model = Classifier(ClassifierConfig(TrunkConfig(width=8, feature_dim=16), num_classes=3)).eval()
    # The metadata as this library wrote it before the backbone option: a conv classifier.
    old = {"version": "0.1.0", "config": {"trunk": {"channels": 1, "image_size": 28, "width": 8, "feature_dim": 16,
                                                     "norm": "batch"}, "num_classes": 3, "dropout": 0.0},
           "class_names": ["a", "b", "c"], "format": {"size": 28, "channels": 1}, "info": {}}
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata={"gantransfer": json.dumps(old)})
    saved = load_classifier(tmp_path / "old.safetensors")
    assert isinstance(saved.model.trunk, ConvTrunk) and saved.model.config.trunk.backbone == "conv"
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    assert torch.equal(saved.model(images), model(images))


def test_discriminator_on_a_resnet_trunk():
    config = DiscriminatorConfig(TrunkConfig(channels=3, image_size=32, feature_dim=32, backbone="resnet18"), 3)
    critic = Discriminator(config)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert critic(images, torch.tensor([0, 2])).shape == (2,) and critic.features(images).shape == (2, 32)
    assert len(critic.trunk.stages()) == 7  # conv1, bn1, layer1..4, bottleneck
    with pytest.raises(ConfigError, match="norm 'layer' needs a backbone without BatchNorm"):
        Discriminator(DiscriminatorConfig(TrunkConfig(channels=3, image_size=32, backbone="resnet18", norm="layer")))


def test_impossible_trunks_get_one_line_errors():
    with pytest.raises(ConfigError, match="did you mean resnet18"):
        TrunkConfig(backbone="resnet19")
    with pytest.raises(ConfigError, match="width sets the conv backbone's channels"):
        TrunkConfig(backbone="resnet18", width=8)
    with pytest.raises(ConfigError, match="no pretrained weights"):
        TrunkConfig(input_normalization="imagenet")
    with pytest.raises(ConfigError, match="vit_b_16 cannot take 3 x 64 x 64 images"):
        Classifier(ClassifierConfig(TrunkConfig(channels=3, image_size=64, backbone="vit_b_16")))
    with pytest.raises(ConfigError, match="needs at least 2 images per training batch"):
        _resnet_classifier(3, 32).train()(torch.zeros(1, 3, 32, 32))
