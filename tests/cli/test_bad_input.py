"""Bad input on the command line: exit status 2, one line naming the file or option and the problem,
nothing written; where a command handles several inputs, the good ones are still handled."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.cli import experiment_commands
from gantransfer.cli.main import main
from gantransfer.errors import ConfigError

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_permissions = pytest.mark.skipif(AS_ROOT, reason="root reads and writes anything: chmod cannot block it")


def _stray_label_npz(path):
    """Ten digit classes and one image labelled 57: without a 'classes' array, that is 58 classes."""
    x = np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    y = np.arange(30) % 10
    y[7] = 57
    np.savez(path, x=x, y=y)
    return path


# -- labels outside the classes -------------------------------------------------------------------

@pytest.mark.parametrize("command", ["pretrain", "transfer"])
def test_a_source_with_empty_classes_is_refused(command, tmp_path, digits_npz, one_line_error, tree,
                                                tiny_gan_args, tiny_transfer_args):
    source = _stray_label_npz(tmp_path / "stray.npz")
    options = tiny_gan_args if command == "pretrain" else ["--target", str(digits_npz), *tiny_transfer_args]
    before = tree(tmp_path)
    err = one_line_error(main([command, "--source", str(source), *options, "--out", str(tmp_path / "run"),
                               "--no-progress"]))
    assert "stray.npz" in err and "47 of its 58 classes have no image (10, 11, 12" in err
    assert tree(tmp_path) == before


def test_evaluate_refuses_a_target_with_classes_the_classifier_lacks(classifier_file, tmp_path, one_line_error,
                                                                     tree):
    target = _stray_label_npz(tmp_path / "stray.npz")
    before = tree(tmp_path)
    # The train split: the stray image's class has one image, which a stratified test draw leaves in train.
    err = one_line_error(main(["evaluate", str(classifier_file), "--target", str(target), "--split", "train"]))
    assert "stray.npz" in err and "class '57' is not a class of the classifier (its classes: 0, 1" in err, err
    assert tree(tmp_path) == before


def test_transfer_names_the_stray_target_label_and_its_images(tmp_path, digits_npz, one_line_error, tree,
                                                               tiny_transfer_args):
    target = _stray_label_npz(tmp_path / "stray.npz")
    before = tree(tmp_path)
    err = one_line_error(main(["transfer", "--source", str(digits_npz), "--target", str(target), *tiny_transfer_args,
                               "--out", str(tmp_path / "run"), "--no-progress"]))
    # Classes 10..56 hold no image: the message names the label that does, and how many images carry it.
    assert "stray.npz" in err and "class '57' (1 image(s) carry it) is not a class of the source" in err, err
    assert tree(tmp_path) == before


def test_evaluate_matches_the_target_classes_by_name(classifier_file, tmp_path, capsys):
    from gantransfer.models.saving import load_classifier

    x = np.random.default_rng(1).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    with torch.no_grad():
        predicted = load_classifier(classifier_file).model(torch.from_numpy(x).float().div(255).mul(2).sub(1)
                                                           .unsqueeze(1)).argmax(1).numpy()
    # Labelled with the classifier's own predictions, once plainly and once with the class names
    # stored in reverse order: scored by name, both are 100 % right (by position, the second 0 %).
    np.savez(tmp_path / "plain.npz", x=x, y=predicted, classes=np.array([str(i) for i in range(10)]))
    np.savez(tmp_path / "reversed.npz", x=x, y=9 - predicted, classes=np.array([str(9 - i) for i in range(10)]))
    for name in ("plain.npz", "reversed.npz"):
        assert main(["evaluate", str(classifier_file), "--target", str(tmp_path / name)]) == 0
        assert json.loads(capsys.readouterr().out)["accuracy"] == 1.0, name


# -- where commands write -------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["a file", "under a file"])
@pytest.mark.parametrize("argv, option", [
    (["pretrain", "--out", "{out}"], "--out"),
    (["transfer", "--out", "{out}"], "--out"),
    (["benchmark", "{tmp}/grid.yaml", "--out", "{out}"], "--out"),
    (["evaluate", "{classifier}", "--target", "{tmp}/none.npz", "--output-dir", "{out}"], "--output-dir"),
])
def test_an_output_folder_that_is_a_file_is_refused(argv, option, where, tmp_path, classifier_file,
                                                    one_line_error, tree):
    taken = tmp_path / "taken.txt"
    taken.write_text("mine")
    out = taken if where == "a file" else taken / "run"
    before = tree(tmp_path)
    err = one_line_error(main([arg.format(out=out, tmp=tmp_path, classifier=classifier_file) for arg in argv]))
    expected = f"{option} {taken}: " if where == "a file" else f"{option} {out}: {taken} "
    assert expected + "is a file, not a folder" in err
    assert tree(tmp_path) == before and taken.read_text() == "mine"


@needs_permissions
@pytest.mark.parametrize("command", ["pretrain", "transfer", "benchmark"])
def test_an_unwritable_output_folder_is_refused(command, tmp_path, one_line_error):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = [command, *([str(tmp_path / "grid.yaml")] if command == "benchmark" else []), "--out",
                str(locked / "run")]
        err = one_line_error(main(argv))
    finally:
        locked.chmod(0o700)
    assert f"--out {locked / 'run'}: {locked} is not writable" in err
    assert not any(locked.iterdir())


@pytest.mark.parametrize("argv", [
    ["predict", "{classifier}", "{tmp}/image.png", "--output", "{folder}"],
    ["evaluate-gan", "{tmp}/gan", "--output", "{folder}"],
    ["export", "{classifier}", "--output", "{folder}"],
])
def test_an_output_file_that_is_a_folder_is_refused(argv, tmp_path, classifier_file, one_line_error, tree):
    folder = tmp_path / "results.csv"  # a folder, even if named like a file
    folder.mkdir()
    before = tree(tmp_path)
    err = one_line_error(main([arg.format(folder=folder, tmp=tmp_path, classifier=classifier_file) for arg in argv]))
    assert f"--output {folder}: is a folder, not a file" in err
    assert tree(tmp_path) == before


@pytest.mark.parametrize("argv, formats", [
    (["export", "{classifier}", "--output", "{tmp}/model.xyz"], ".pt, .onnx"),
    (["export", "{classifier}", "--output", "{tmp}/exported"], ".pt, .onnx"),
    (["predict", "{classifier}", "{tmp}/image.png", "--output", "{tmp}/predictions.txt"], ".csv, .json"),
    (["evaluate-gan", "{tmp}/gan", "--output", "{tmp}/quality.yaml"], ".json"),
])
def test_an_output_file_of_an_unknown_format_is_refused(argv, formats, tmp_path, classifier_file, one_line_error,
                                                        tree):
    Image.new("L", (28, 28), 0).save(tmp_path / "image.png")
    before = tree(tmp_path)
    argv = [arg.format(tmp=tmp_path, classifier=classifier_file) for arg in argv]
    err = one_line_error(main(argv))
    assert f"--output {argv[-1]}: " in err and f"the formats are {formats}" in err
    assert tree(tmp_path) == before


def test_export_api_refuses_an_unknown_suffix(classifier_file, tmp_path):
    from gantransfer.export import export_classifier
    from gantransfer.models.saving import load_classifier

    with pytest.raises(ConfigError, match=r"model.xyz: unknown export format '.xyz': use .pt \(TorchScript\) or .onnx"):
        export_classifier(load_classifier(classifier_file), tmp_path / "model.xyz")
    assert not (tmp_path / "model.xyz").exists()


def test_pretrain_with_an_unreadable_source_writes_nothing(tmp_path, one_line_error, tree):
    (tmp_path / "source.npz").write_bytes(b"PK\x03\x04 not really a zip")
    before = tree(tmp_path)
    err = one_line_error(main(["pretrain", "--source", str(tmp_path / "source.npz"), "--out", str(tmp_path / "run")]))
    assert "source.npz: unreadable array file" in err
    assert tree(tmp_path) == before


# -- bad values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("samples", ["0", "-5"])
def test_evaluate_gan_needs_at_least_two_samples(samples, gan_run, tmp_path, one_line_error, tree):
    before = tree(tmp_path)
    err = one_line_error(main(["evaluate-gan", str(gan_run), "--samples", samples]))
    assert f"samples must be >= 2 (a Frechet distance needs a covariance), got {samples}" in err
    assert tree(tmp_path) == before, "no reference classifier trained, no gan_evaluation.json"


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, b"\x00" * 64, b'{"method": "finetune"}\n\xff\xfe\n'],
                         ids=["binary", "nul-bytes", "invalid-utf8"])
def test_report_on_a_results_file_that_is_not_text(content, tmp_path, one_line_error, tree):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "results.jsonl").write_bytes(content)
    before = tree(tmp_path)
    err = one_line_error(main(["report", str(tmp_path / "bench")]))
    assert f"{tmp_path / 'bench' / 'results.jsonl'}: not a text file" in err
    assert tree(tmp_path) == before


# -- unreadable inputs ----------------------------------------------------------------------------

@needs_permissions
def test_report_on_an_unreadable_results_file(tmp_path, one_line_error):
    results = tmp_path / "results.jsonl"
    results.write_text("{}\n")
    results.chmod(0o000)
    try:
        err = one_line_error(main(["report", str(tmp_path)]))
    finally:
        results.chmod(0o600)
    assert f"{results}: cannot read (Permission denied)" in err


@needs_permissions
def test_pretrain_on_an_unreadable_image_folder(tmp_path, one_line_error):
    source = tmp_path / "images"
    (source / "a").mkdir(parents=True)
    Image.new("L", (28, 28), 0).save(source / "a" / "x.png")
    source.chmod(0o000)
    try:
        err = one_line_error(main(["pretrain", "--source", str(source), "--out", str(tmp_path / "run")]))
    finally:
        source.chmod(0o700)
    assert str(source) in err and "Permission denied" in err
    assert not (tmp_path / "run").exists()


def test_a_permission_refused_inside_a_command_is_one_line(monkeypatch, tmp_path, one_line_error):
    # Simulated, so that it runs as root too: whatever the command was reading or writing.
    def refuse(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "results.jsonl"))

    monkeypatch.setattr(experiment_commands, "run_report_command", refuse)
    err = one_line_error(main(["report", str(tmp_path)]))
    assert err == f"gantransfer report: error: {tmp_path / 'results.jsonl'}: Permission denied\n"


def test_other_os_errors_keep_their_traceback(monkeypatch, tmp_path):
    def fail(args):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(experiment_commands, "run_report_command", fail)
    with pytest.raises(ConnectionRefusedError):
        main(["report", str(tmp_path)])


# -- predict: one bad input does not stop the others ----------------------------------------------

def test_predict_reports_each_bad_input_and_writes_the_good_ones(classifier_file, tmp_path, monkeypatch, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    Image.new("L", (10, 10), 200).save(inputs / "good.png")
    Image.new("L", (28, 28), 200).save(inputs / "bomb.png")  # over the pixel limit set below
    (inputs / "broken.png").write_bytes(b"not an image")
    np.save(inputs / "good.npy", np.zeros((2, 28, 28), np.uint8))
    np.savez(inputs / "objects.npz", x=np.array([1, "a"], dtype=object))  # needs pickle: never loaded
    np.savez(inputs / "corrupt.npz", x=np.zeros((3, 28, 28), np.uint8))
    corrupt = bytearray((inputs / "corrupt.npz").read_bytes())
    corrupt[1000] ^= 0xFF  # inside the array's data: the zip member fails its CRC check when read
    (inputs / "corrupt.npz").write_bytes(bytes(corrupt))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses 28 x 28 as a decompression bomb
    output = tmp_path / "predictions.csv"

    code = main(["predict", str(classifier_file), str(inputs), str(tmp_path / "missing.png"), "--output", str(output)])

    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    skipped = err.splitlines()
    assert len(skipped) == 5 and all(line.startswith("gantransfer predict: skipped ") for line in skipped)
    for name in ("bomb.png", "broken.png", "corrupt.npz", "objects.npz", "missing.png"):
        assert sum(name in line for line in skipped) == 1, name
    rows = list(csv.DictReader(output.open()))
    assert [row["input"] for row in rows] == [f"{inputs / 'good.npy'}[0]", f"{inputs / 'good.npy'}[1]",
                                              str(inputs / "good.png")]
