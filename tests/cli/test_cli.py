"""The command line: subcommands, one-line errors, and a whole pretrain/evaluate-gan run."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
import torch

from gantransfer.cli.commands import COMMANDS
from gantransfer.cli.main import build_parser, main
from gantransfer.evaluation.classification import predict_logits
from gantransfer.training.pretrain import load_gan
from gantransfer.training.reference import reference_classifier


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("pretrain", "evaluate-gan"):
        assert command in out


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "gantransfer.cli.main", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "gantransfer" in result.stdout


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["pretrain", "--out", "{tmp}/r", "--source", "svhn", "--steps", "1"], "unknown domain 'svhn'"),
        (["pretrain", "--out", "{tmp}/r", "--objective", "lsgan"], "unknown objective 'lsgan'"),
        (["pretrain", "--out", "{tmp}/r", "--batch-size", "0"], "batch_size must be >= 1"),
        (["pretrain", "--out", "{tmp}/r", "--config", "{tmp}/missing.yaml"], "cannot read"),
        (["evaluate-gan", "{tmp}/nothing.pt"], "no such checkpoint"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, argv, fragment):
    code = main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_yaml_config_with_unknown_key_names_it(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("objective: wgan\nlearning_rate: 0.1\n")
    assert main(["pretrain", "--out", str(tmp_path / "r"), "--config", str(config)]) == 2
    assert "unknown key 'learning_rate'" in capsys.readouterr().err


def test_options_override_yaml(tmp_path, source_digits_npz, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"source: {source_digits_npz}\nobjective: wgan\nsteps: 50\nquality_samples: 0\n"
                      "generator_width: 8\ndiscriminator_width: 4\nfeature_dim: 8\n")
    assert main(["pretrain", "--out", str(tmp_path / "r"), "--config", str(config), "--steps", "2",
                 "--no-progress"]) == 0
    stored = json.loads((tmp_path / "r" / "config.json").read_text())
    assert stored["objective"] == "wgan" and stored["steps"] == 2


@pytest.mark.slow  # the domain's reference classifier: 3,000 steps
def test_pretrain_then_evaluate_gan(tmp_path, capsys, digit_domain):
    source = digit_domain("source")
    out = tmp_path / "run"
    code = main(["pretrain", "--source", source, "--objective", "minimax", "--conditional", "--steps", "40",
                 "--eval-every", "20", "--quality-samples", "500", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["step"] == 40 and "frechet_distance" in printed and "conditional_accuracy" in printed
    assert main(["evaluate-gan", str(out), "--samples", "1000"]) == 0
    metrics = json.loads((out / "gan_evaluation.json").read_text())
    assert metrics["samples"] == 1000 and metrics["real_floor"] > 0
    assert metrics["frechet_distance"] > metrics["real_floor"]
    # The conditional accuracy is the reference classifier's (the one evaluate-gan trained and
    # cached) on 1,000 images generated from noise seed 0, labels cycling through the classes.
    gan = load_gan(out)
    reference = reference_classifier(source)
    labels = torch.arange(1000) % 10
    predicted = predict_logits(reference.model, gan.generator.generate(labels, seed=0)).argmax(1)
    assert metrics["conditional_accuracy"] == pytest.approx(float((predicted == labels).float().mean()))
    assert metrics["reference_test_accuracy"] == reference.info["test_accuracy"]


def test_help_lists_every_command_without_importing_torch():
    code = ("import sys\nfrom gantransfer.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("False"), done.stdout
    for name in ("pretrain", "evaluate-gan", "transfer", "predict", "evaluate", "export", "benchmark", "report"):
        assert name in done.stdout


def test_the_overview_names_the_commands_the_full_parser_has():
    full = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(full.choices) == list(COMMANDS)
