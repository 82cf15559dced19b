"""Starting weights for a torchvision backbone: torchvision's ImageNet weights or a local file.

``imagenet`` reads torchvision's default weights of the backbone from torch's
hub cache (``torch.hub.get_dir()/checkpoints``, i.e. ``$TORCH_HOME/hub/checkpoints``,
default ``~/.cache/torch/hub/checkpoints``), under the file name torchvision
downloads them to. Nothing is downloaded unless the caller says so
(``download``, the CLI's ``--download``): offline, the error says which file
to put where. A path names a state dict of the torchvision model: ``.pth`` /
``.pt`` (read with ``torch.load(weights_only=True)``, so loading executes no
pickled code) or ``.safetensors``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError, ConfigError, first_line
from ..tensorfiles import read_torch_file

IMAGENET = "imagenet"


@dataclass(frozen=True)
class BackboneWeights:
    """A state dict of a torchvision model, and where it came from.

    Attributes:
        state: parameter and buffer tensors by the torchvision model's names.
        provenance: ``imagenet:<torchvision weights name>`` or ``sha256:<16 hex digits>``
            of the file's content (moving or renaming the file keeps it).
    """

    state: dict[str, Tensor]
    provenance: str


def imagenet_weights_file(backbone: str) -> tuple[str, Path]:
    """The URL of torchvision's default weights for ``backbone`` and where torch's hub cache keeps them."""
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(backbone).DEFAULT
    except (ValueError, AttributeError, KeyError):
        raise ConfigError(f"torchvision has no pretrained weights for {backbone}") from None
    return weights.url, Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def read_backbone_weights(backbone: str, source: str, download: bool = False,
                          option: str = "backbone_weights") -> BackboneWeights:
    """The weights ``source`` names for ``backbone``: ``imagenet`` or a file path.

    ``option`` is the setting's name in error messages (``classifier.backbone_weights``).
    Raises :class:`ConfigError` with one line when the file is absent, unreadable
    or not a state dict.
    """
    if source == IMAGENET:
        return _imagenet(backbone, download, option)
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(f"{option}: {path}: no such file (give 'imagenet' or a state dict of torchvision's "
                          f"{backbone}: .pth, .pt or .safetensors)")
    state = _read_state(path, option)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return BackboneWeights(state, f"sha256:{digest}")


def _imagenet(backbone: str, download: bool, option: str) -> BackboneWeights:
    import torchvision

    url, path = imagenet_weights_file(backbone)
    name = str(torchvision.models.get_model_weights(backbone).DEFAULT)
    if not path.is_file():
        if not download:
            raise ConfigError(
                f"{option}=imagenet: {backbone}'s ImageNet weights are not in torch's hub cache; offline, put "
                f"{path.name} (from {url}) at {path} (the folder follows $TORCH_HOME), or allow the download "
                "with --download"
            )
        try:
            # check_hash: torchvision's file names carry the start of the file's sha256.
            torch.hub.load_state_dict_from_url(url, model_dir=str(path.parent), map_location="cpu",
                                               check_hash=True, weights_only=True)
        except Exception as error:  # network and hash failures come in many types
            raise ConfigError(f"{option}=imagenet: downloading {url} failed ({first_line(error)})") from None
    return BackboneWeights(_read_state(path, option), f"imagenet:{name}")


def _read_state(path: Path, option: str) -> dict[str, Tensor]:
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = read_torch_file(path)
    except CheckpointError as error:  # it names the file and the problem already
        raise ConfigError(f"{option}: {error}") from None
    except Exception as error:  # unpickling, safetensors and OS errors alike
        raise ConfigError(f"{option}: {path}: not a readable weights file ({first_line(error)})") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, Tensor) for v in state.values()):
        raise ConfigError(f"{option}: {path}: not a state dict (expected a mapping of names to tensors)")
    return state


__all__ = ["IMAGENET", "BackboneWeights", "imagenet_weights_file", "read_backbone_weights"]
