"""Transfer methods, their option groups and the stages they read, by name: ``register_method``
adds a method, ``register_options`` the options it reads and ``register_stage`` a stage of its own,
all from the method's own module."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
        reads: the option groups (:func:`register_options`) that the method reads (the
            other options of a run apply to every method); the command line refuses the
            options of a group the chosen method does not read, and ``--help-all`` lists
            each group under the methods that read it.
        stages: the stages (:func:`register_stage`) that its ``build`` reads besides those its
            start needs (``init: source``: the source classifier, ``init: gan``: the source GAN).
            The driver trains them all before ``build``, which then only loads them: ``build``
            trains nothing.
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
    stages: tuple[str, ...] = ()

    def check_config(self, config: TransferConfig) -> None:
        if self.check is not None:
            self.check(config)


@dataclass(frozen=True)
class OptionGroup:
    """Options that only some methods read, registered by the module of the method that owns them.

    Attributes:
        name: the group's key in a run's config and YAML file (``feature_alignment``), and its
            flags' prefix (``--feature-alignment-domain-weight``).
        options: its frozen dataclass; every field has a default.
        summary: what the group holds, for ``--help-all``.
    """

    name: str
    options: type
    summary: str


#: the option groups of a transfer run that only some methods read, by name
OPTION_GROUPS: dict[str, OptionGroup] = {}
#: a classifier started from the GAN's critic (``init: gan``) reads ``gan_features`` whatever its method
GAN_INIT_SECTION = "gan_features"

METHODS: dict[str, Method] = {}


#: the stages a method may read, by name: each a function of the run's context that trains the
#: stage on first use (through :func:`~gantransfer.engine.stage_cache.train_once`) and returns it
STAGES: dict[str, Callable[[TransferContext], Any]] = {}


def register_stage(name: str, make: Callable[[TransferContext], Any]) -> Callable[[TransferContext], Any]:
    """Make the stage ``name`` available to :attr:`Method.stages`; returns ``make``."""
    STAGES[name] = make
    return make


def register_options(name: str, options: type, summary: str) -> type:
    """Add the option group ``name`` (dataclass ``options``) to every run's config: its values
    are ``config.options.<name>``, set in YAML as ``<name>: {...}`` and on the command line as
    ``--<name>-<field>``. Returns ``options``, so it can decorate the class."""
    if not dataclasses.is_dataclass(options):
        raise ConfigError(f"option group {name}: {options!r} is not a dataclass")
    known = OPTION_GROUPS.get(name)
    if known is not None and known.options is not options:
        raise ConfigError(f"option group {name!r} is registered twice ({known.options.__name__}, {options.__name__})")
    OPTION_GROUPS[name] = OptionGroup(name, options, summary)
    return options


_OPTION_TYPES: dict[tuple[tuple[str, type], ...], type] = {}


def method_options_type() -> type:
    """The frozen dataclass that holds one instance of every registered option group, each
    under its name (made once for each set of groups: a group registered later gives a new type)."""
    key = tuple((group.name, group.options) for group in OPTION_GROUPS.values())
    if key not in _OPTION_TYPES:
        doc = "The option groups of the registered methods.\n\n    Args:\n" + "".join(
            f"        {group.name}: {group.summary}\n" for group in OPTION_GROUPS.values())
        _OPTION_TYPES[key] = dataclasses.make_dataclass(
            "MethodOptions", [(group.name, group.options, dataclasses.field(default_factory=group.options))
                              for group in OPTION_GROUPS.values()],
            frozen=True, namespace={"__doc__": doc, "__module__": __name__})
    return _OPTION_TYPES[key]


def method_options(**groups: Any) -> Any:
    """Every registered option group at its defaults, except those given (by group name)."""
    return method_options_type()(**groups)


def register_method(method: Method) -> Method:
    """Make ``method`` available to ``transfer`` and ``gantransfer transfer --method``."""
    METHODS[method.name] = method
    return method


def readers(section: str) -> list[str]:
    """Names of the registered methods that read the option group ``section``, sorted."""
    return sorted(name for name, method in METHODS.items() if section in method.reads)


def check_options_read(method: Method, sections: Iterable[str], init: str | None = None) -> None:
    """Raise :class:`ConfigError` for the first of the given option groups ``sections`` (of
    :data:`OPTION_GROUPS`; others are ignored) that ``method`` does not read, started as
    ``init`` (None: its default)."""
    started_from_gan = (init or method.default_init) == "gan"
    for section in sections:
        if section not in OPTION_GROUPS or section in method.reads:
            continue
        if section == GAN_INIT_SECTION and started_from_gan:
            continue
        flag = "--" + section.replace("_", "-")
        what = OPTION_GROUPS[section].summary
        raise ConfigError(f"--method {method.name} does not read the {flag}-* options ({what}; "
                          f"read by {', '.join(readers(section))}" + (", and by --init gan" if section ==
                                                                        GAN_INIT_SECTION else "") + ")")


def get_method(name: str) -> Method:
    """The registered method ``name``; :class:`ConfigError` for an unknown name, or for a method
    that reads an option group nobody registered (checked here, not at registration, because
    a method may read a group or stage that a module imported after its own registers)."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}: choose one of {', '.join(sorted(METHODS))}")
    method = METHODS[name]
    unknown = [section for section in method.reads if section not in OPTION_GROUPS]
    if unknown:
        raise ConfigError(f"method {name}: reads the option group {unknown[0]!r}, which no module registers "
                          f"(known: {', '.join(OPTION_GROUPS)}; register_options adds one)")
    unknown = [stage for stage in method.stages if stage not in STAGES]
    if unknown:
        raise ConfigError(f"method {name}: reads the stage {unknown[0]!r}, which no module registers "
                          f"(known: {', '.join(STAGES)}; register_stage adds one)")
    return method
