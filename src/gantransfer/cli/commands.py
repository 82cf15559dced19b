"""The commands of ``gantransfer`` and their one-line help: all that ``gantransfer --help`` needs,
importable without torch (each command's module, which builds its options from the config
dataclasses, is imported only when that command runs)."""

from __future__ import annotations

#: command -> (the module under ``gantransfer.cli`` that registers it, its one-line help)
COMMANDS = {
    "pretrain": ("gan_commands", "train a GAN on a labelled source domain"),
    "evaluate-gan": ("gan_commands", "judge a pretrained generator (Frechet distance, conditional accuracy)"),
    "transfer": ("transfer_commands", "train a target classifier with a transfer method"),
    "predict": ("transfer_commands", "predict labels of new images with a saved classifier"),
    "evaluate": ("transfer_commands", "accuracy of a saved classifier on a domain's test split"),
    "export": ("transfer_commands", "export a saved classifier for use without this package"),
    "benchmark": ("experiment_commands", "run a grid of transfer runs from a YAML file, then write its report"),
    "report": ("experiment_commands", "render a benchmark's report again from its results.jsonl"),
}


def command_help(name: str) -> str:
    return COMMANDS[name][1]
