"""Export a saved classifier for use without this package (TorchScript or ONNX)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from .errors import ConfigError, first_line
from .models.saving import SavedClassifier


EXPORT_SUFFIXES = (".pt", ".onnx")


def export_classifier(saved: SavedClassifier, output: str | os.PathLike) -> Path:
    """Write ``saved.model`` (eval mode) to ``output``: ``.pt`` for TorchScript, ``.onnx`` for ONNX.

    The exported graph takes float (N, C, S, S) in [-1, 1] and returns logits (N, K).
    Raises :class:`ConfigError` for any other suffix.
    """
    output = Path(output)
    if output.suffix.lower() not in EXPORT_SUFFIXES:
        raise ConfigError(f"{output}: unknown export format {output.suffix or '(no suffix)'!r}: "
                          "use .pt (TorchScript) or .onnx (ONNX)")
    output.parent.mkdir(parents=True, exist_ok=True)
    model = saved.model.eval()
    fmt = saved.format
    example = torch.zeros(2, fmt.channels, fmt.size, fmt.size)
    if output.suffix.lower() == ".onnx":
        try:
            import onnxscript  # noqa: F401  (torch's exporter needs it)
        except ImportError:
            raise ConfigError("ONNX export needs the onnx and onnxscript packages: pip install 'gantransfer[onnx]'") from None
        try:
            torch.onnx.export(model, (example,), str(output), input_names=["images"], output_names=["logits"],
                              dynamic_shapes={"images": {0: torch.export.Dim("batch")}}, dynamo=True,
                              verbose=False)
        except Exception as error:  # exporter failures come in many types
            raise ConfigError(f"ONNX export failed: {first_line(error)}") from None
        return output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated but still the portable choice
        traced = torch.jit.trace(model, example)
        traced.save(str(output))
    return output
