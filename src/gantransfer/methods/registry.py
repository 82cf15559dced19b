"""Transfer methods by name. ``register_method`` adds one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from ..errors import ConfigError
from ..training.trainer import TrainingTask

if TYPE_CHECKING:  # the context imports the registry to know a method's defaults
    from .config import TransferConfig
    from .context import TransferContext


@dataclass
class MethodPlan:
    """What a method hands to :func:`~gantransfer.methods.transfer.transfer`.

    Attributes:
        task: a training task whose ``final_model`` is the target classifier,
            or None when ``model`` is already final (e.g. source-only).
        model: the final classifier when there is nothing left to train.
        finish: applied to the final classifier after training, before it is evaluated
            and saved (e.g. its BatchNorm statistics re-estimated on the target); it returns
            the classifier to keep.

    A task trains for the run's ``training.steps``.
    """

    task: TrainingTask | None = None
    model: nn.Module | None = None
    finish: Callable[[nn.Module], nn.Module] | None = None


@dataclass(frozen=True)
class Method:
    """A registered transfer method.

    Attributes:
        name: the ``--method`` value.
        build: turns a :class:`TransferContext` into a :class:`MethodPlan`.
        default_init: ``random``, ``source`` or ``gan``: how its classifier starts.
        summary: one line for ``--help`` and the README.
        reference: the paper it follows, if any.
        category: which transfer it is (instance, feature, model; or a baseline).
        uses_unlabelled: whether it always learns from the unlabelled target
            train images (unsupervised adaptation methods do).
        check: raises :class:`ConfigError` for a config the method cannot run,
            before any data is read or stage trained.
    """

    name: str
    build: Callable[[TransferContext], MethodPlan]
    default_init: str
    summary: str
    reference: str = ""
    category: str = "baseline"
    uses_unlabelled: bool = False
    check: Callable[[TransferConfig], None] | None = None

    def check_config(self, config: TransferConfig) -> None:
        if self.check is not None:
            self.check(config)


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Make ``method`` available to ``transfer`` and ``gantransfer transfer --method``."""
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}: choose one of {', '.join(sorted(METHODS))}")
    return METHODS[name]
