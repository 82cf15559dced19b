"""What a run's numbers depend on beyond its config: the versions it ran with.

A built domain's pixels come from matplotlib's fonts drawn by Pillow's FreeType
and composed by torch; a photo background from scikit-image's files; training
from torch and numpy. Recorded in every ``metrics.json`` (``packages``), so
that two runs that disagree can be told apart by more than their configs.
"""

from __future__ import annotations

import platform
from importlib import metadata

from . import __version__

#: the distributions whose versions a run records beside torch's (those absent are left out)
PACKAGES = ("torchvision", "numpy", "pillow", "matplotlib", "scikit-image", "safetensors")


def package_versions() -> dict[str, str]:
    """``{"python": "3.11.7", "gantransfer": "0.1.0", "torch": "2.14.1+cpu", ..., "cpu": "AVX512",
    "cpu_model": "AMD EPYC"}``."""
    versions = {"python": platform.python_version(), "gantransfer": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import torch

    versions["torch"] = torch.__version__  # with its build (+cpu, +cu130), which its package metadata omits
    versions["cpu"] = torch.backends.cpu.get_cpu_capability()  # what torch dispatches to on this CPU
    if (model := cpu_model()) is not None:
        versions["cpu_model"] = model
    return versions


def cpu_model() -> str | None:
    """The processor's name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows; None if nothing):
    two processors can round the same float operations differently."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
