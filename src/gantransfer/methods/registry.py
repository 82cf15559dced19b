"""Transfer methods by name. ``register_method`` adds one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from ..engine.trainer import TrainingTask
from ..errors import ConfigError

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
        reads: the option groups of :data:`METHOD_SECTIONS` that the method reads (the
            other groups of a run apply to every method); the command line refuses the
            options of a group the chosen method does not read, and ``--help-all`` lists
            each group under the methods that read it.
    """

    name: str
    build: Callable[[TransferContext], MethodPlan]
    default_init: str
    summary: str
    reference: str = ""
    category: str = "baseline"
    uses_unlabelled: bool = False
    check: Callable[[TransferConfig], None] | None = None
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [section for section in self.reads if section not in METHOD_SECTIONS]
        if unknown:
            raise ConfigError(f"method {self.name}: reads names {unknown[0]!r}, not one of {', '.join(METHOD_SECTIONS)}")

    def check_config(self, config: TransferConfig) -> None:
        if self.check is not None:
            self.check(config)


#: the option groups of a transfer run that only some methods read, and what each holds
METHOD_SECTIONS = {
    "gan_features": "a transferred GAN critic trunk",
    "gan_augment": "adapting the source cGAN to the target and training on its images",
    "feature_alignment": "feature-level alignment",
    "translation": "the source <-> target translators stage",
}
#: a classifier started from the GAN's critic (``init: gan``) reads ``gan_features`` whatever its method
GAN_INIT_SECTION = "gan_features"

METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Make ``method`` available to ``transfer`` and ``gantransfer transfer --method``."""
    METHODS[method.name] = method
    return method


def readers(section: str) -> list[str]:
    """Names of the registered methods that read the option group ``section``, sorted."""
    return sorted(name for name, method in METHODS.items() if section in method.reads)


def check_options_read(method: Method, sections: Iterable[str], init: str | None = None) -> None:
    """Raise :class:`ConfigError` for the first of the given option groups ``sections`` (of
    :data:`METHOD_SECTIONS`; others are ignored) that ``method`` does not read, started as
    ``init`` (None: its default)."""
    started_from_gan = (init or method.default_init) == "gan"
    for section in sections:
        if section not in METHOD_SECTIONS or section in method.reads:
            continue
        if section == GAN_INIT_SECTION and started_from_gan:
            continue
        flag = "--" + section.replace("_", "-")
        raise ConfigError(f"--method {method.name} does not read the {flag}-* options ({METHOD_SECTIONS[section]}; "
                          f"read by {', '.join(readers(section))}" + (", and by --init gan" if section ==
                                                                        GAN_INIT_SECTION else "") + ")")


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}: choose one of {', '.join(sorted(METHODS))}")
    return METHODS[name]
