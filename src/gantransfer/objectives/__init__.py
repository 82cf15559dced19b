"""Objectives: which losses and update rules a GAN (or adaptation method) trains with."""

from .gan import OBJECTIVES, GanObjective, ObjectiveSpec, get_objective
from .optim import OptimizerConfig

__all__ = ["OBJECTIVES", "GanObjective", "ObjectiveSpec", "OptimizerConfig", "get_objective"]
