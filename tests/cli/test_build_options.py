"""The built domains' options on the command line, and where they must not go unnoticed."""

from __future__ import annotations

import pytest

from gantransfer.cli.common import data_options
from gantransfer.cli.main import build_parser, main
from gantransfer.data import BuildOptions, DataOptions
from gantransfer.errors import ConfigError
from gantransfer.methods import TransferConfig
from gantransfer.methods.context import TransferContext
from gantransfer.methods.stages import StageCache
from gantransfer.training.run_folder import RunFolder


def test_build_flags_reach_the_data_options():
    args = build_parser().parse_args(["transfer", "--out", "x", "--backgrounds", "photos", "--fonts", "ttf",
                                      "--synth-digits-train", "300", "--synth-digits-test", "70"])
    assert data_options(args).build == BuildOptions("photos", "ttf", 300, 70)
    plain = build_parser().parse_args(["transfer", "--out", "x"])
    assert data_options(plain) == DataOptions()


def test_pretrain_does_not_offer_build_flags_it_would_ignore(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["pretrain", "--out", "x", "--backgrounds", "photos"])
    assert "unrecognized arguments: --backgrounds" in capsys.readouterr().err


def test_bad_build_option_is_one_line(capsys):
    assert main(["transfer", "--out", "x", "--synth-digits-test", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "synth_digits_test must be an integer >= 1" in err and "\n" not in err


def test_source_gan_refuses_a_build_it_would_not_train_on(tmp_path):
    config = TransferConfig(source="mnist-m", target="mnist", method="gan-augment")
    context = TransferContext(config, None, StageCache(tmp_path / "stages"), RunFolder(tmp_path / "run"),
                              DataOptions(build=BuildOptions(backgrounds=str(tmp_path))), progress_bar=False)
    with pytest.raises(ConfigError, match="--gan-checkpoint"):
        context.source_gan()
