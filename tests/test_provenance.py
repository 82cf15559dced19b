"""The versions a run records beside its numbers."""

from __future__ import annotations

import platform

import numpy as np
import PIL
import torch

from gantransfer.provenance import package_versions


def test_the_recorded_versions_are_the_running_ones():
    versions = package_versions()
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == torch.__version__
    assert versions["numpy"] == np.__version__ and versions["pillow"] == PIL.__version__
    assert versions["cpu"] == torch.backends.cpu.get_cpu_capability()
    assert all(isinstance(value, str) and value for value in versions.values())
