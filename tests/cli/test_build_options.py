"""The built domains' options on the command line, and where they must not go unnoticed."""

from __future__ import annotations

from gantransfer.cli.common import data_options
from gantransfer.cli.main import build_parser, main
from gantransfer.data import BuildOptions, DataOptions, describe_domain
from gantransfer.engine.stage_cache import stage_key
from gantransfer.methods import TransferConfig
from gantransfer.methods.stages import gan_stage_identity


def test_build_flags_reach_the_data_options():
    args = build_parser().parse_args(["transfer", "--out", "x", "--backgrounds", "photos", "--fonts", "ttf",
                                      "--synth-digits-train", "300", "--synth-digits-test", "70"])
    assert data_options(args).build == BuildOptions("photos", "ttf", 300, 70)
    plain = build_parser().parse_args(["transfer", "--out", "x"])
    assert data_options(plain) == DataOptions()


def test_pretrain_and_evaluate_gan_take_the_build_flags():
    args = build_parser().parse_args(["pretrain", "--out", "x", "--backgrounds", "photos"])
    assert data_options(args).build.backgrounds == "photos"
    args = build_parser().parse_args(["evaluate-gan", "run", "--fonts", "fonts"])
    assert data_options(args).build.fonts == "fonts"


def test_bad_build_option_is_one_line(capsys):
    assert main(["transfer", "--out", "x", "--synth-digits-test", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "synth_digits_test must be an integer >= 1" in err and "\n" not in err


def test_a_built_domain_of_another_build_names_other_stages(tmp_path):
    def key(train: int) -> str:
        build = BuildOptions(synth_digits_train=train, synth_digits_test=10)
        return describe_domain("synth-digits", DataOptions(cache_dir=str(tmp_path / "cache"), build=build)).key

    small, larger = key(20), key(30)
    assert small != larger and small.startswith("synth-digits")
    config = TransferConfig(source="synth-digits", target="mnist", method="gan-augment", image_size=28,
                            channels=3).gan_config()
    assert stage_key("source-gan", gan_stage_identity(config, small)) != \
        stage_key("source-gan", gan_stage_identity(config, larger))
