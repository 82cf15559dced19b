"""The help of generated options shows the defaults that actually apply."""

from __future__ import annotations

import pytest

from gantransfer.cli.main import main


def test_nested_options_show_their_parents_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["transfer", "--help-all"])
    text = " ".join(capsys.readouterr().out.split())
    # TransferConfig trains the target classifier with batches of 64 and a conditional GAN,
    # unlike the class defaults of ClassifierTraining (128) and PretrainConfig (unconditional).
    assert "--training-batch-size BATCH_SIZE images per step from each source. (default: 64)" in text
    assert "--source-training-batch-size BATCH_SIZE images per step from each source. (default: 128)" in text
    assert "(default: True)" in text.split("--gan-conditional, --no-gan-conditional", 1)[1].split("--", 1)[0]


def test_help_shows_the_run_first_and_every_method_option_behind_help_all(capsys):
    with pytest.raises(SystemExit):
        main(["transfer", "--help"])
    brief = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["transfer", "--help-all"])
    full = capsys.readouterr().out
    for essential in ("--source", "--method", "--k", "--seed", "--training-steps", "--device", "--out"):
        assert essential in brief
    assert "--gan-augment-synthetic-per-class" not in brief and "--gan-augment-synthetic-per-class" in full
    assert "gan-augment (adapting the source cGAN" in full and "adda, auto, cycada, dann (feature-level alignment):" in full
    assert len(brief.splitlines()) < 150 < len(full.splitlines())


def _leaf_options(parser) -> list:
    """Every option of ``parser`` that sets a config value (dest with a dot or a config field)."""
    return [action for action in parser._actions
            if action.option_strings and action.dest not in ("help", "help_all", "out", "config", "stages_dir",
                                                              "no_progress", "data_dir", "cache_dir", "download",
                                                              "resume")]


@pytest.mark.parametrize("command", ["transfer", "pretrain"])
def test_every_option_changes_the_resolved_config(command, tmp_path):
    """An option that the run overwrites or never reads is a lie on the command line."""
    import argparse

    from gantransfer.cli.main import build_parser
    from gantransfer.cli.options import config_from_args
    from gantransfer.config import to_dict
    from gantransfer.errors import ConfigError
    from gantransfer.methods import TransferConfig
    from gantransfer.training.pretrain import PretrainConfig

    cls = TransferConfig if command == "transfer" else PretrainConfig
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]

    def resolved(config):
        # What a run actually uses: for transfer, the source GAN's config as the run ties it.
        plain = to_dict(config)
        if command == "transfer":
            plain["gan"] = to_dict(config.gan_config())
        return plain

    base = resolved(cls())
    checked, invalid = 0, []
    for action in _leaf_options(sub):
        if not _is_field(cls, action.dest):
            continue  # a data option (--backgrounds...): where data comes from, not the run's config
        flag = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            current = _get(cls(), action.dest)
            argv = [flag if not current else next(o for o in action.option_strings if o.startswith("--no-"))]
        else:
            current = _get(cls(), action.dest)
            argv = [flag, _other(action.type, current, action.dest)]
        try:
            args = sub.parse_args([*argv, "--out", str(tmp_path)])
            changed = resolved(config_from_args(cls, args))
        except (ConfigError, SystemExit):
            invalid.append(flag)  # a value this generic change makes invalid: not a silent option
            continue
        assert changed != base, f"{flag} has no effect on the resolved config"
        checked += 1
    assert checked > 40 if command == "transfer" else checked > 20
    assert len(invalid) < 8, invalid


def _is_field(cls, dotted: str) -> bool:
    import dataclasses
    import typing

    for part in dotted.split("."):
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if part not in fields:
            return False
        cls = typing.get_type_hints(cls)[part]
    return True


def _get(config, dotted: str):
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def _other(kind, current, dest: str) -> str:
    """A command-line value of type ``kind`` different from ``current``."""
    choices = {"device": "cpu", "precision": "fp32", "objective": "hinge", "method": "dann", "init": "random",
               "norm": "layer", "critic_norm": "layer", "conditioning": "concat", "loss": "pseudo-label",
               "discriminator_norm": "batch", "name": "sgd", "source": "usps", "target": "mnist",
               "gan_checkpoint": "runs/gan", "architecture": "sngan", "backbone": "resnet18", "fit": "pad",
               "augment_kind": "natural", "backbone_weights": "imagenet", "image_size": "32", "channels": "3"}
    leaf = dest.split(".")[-1]
    if current == "auto" and kind not in (str, None) or isinstance(current, bool):  # an auto|on|off switch
        return "off" if current is True else "on"
    if current is None and leaf in choices:  # inferred from the data by default
        return choices[leaf]
    if kind is str or kind is None:
        return choices.get(leaf, "other") if current != choices.get(leaf) else "mnist"
    if kind is int:
        return str((current or 0) + 2)
    value = round((current or 0.0) / 2 + 0.125, 6)
    return str(value if value != current else value / 2)  # 0.25 is its own image under x / 2 + 0.125
