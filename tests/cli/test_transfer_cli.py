"""transfer, predict, evaluate and export through the command line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.cli.main import main
from gantransfer.errors import ConfigError
from gantransfer.models.saving import load_classifier


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, source_digits_npz, target_digits_npz):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main([
        "transfer", "--source", str(source_digits_npz), "--target", str(target_digits_npz), "--method", "target-only",
        "--k", "3", "--training-steps", "5", "--training-batch-size", "16", "--classifier-width", "8",
        "--classifier-feature-dim", "16", "--out", str(out), "--no-progress",
    ])
    assert code == 0
    return out


def test_transfer_prints_summary_and_options_reach_the_config(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["k"] == 3 and config["training"]["steps"] == 5 and config["classifier"]["width"] == 8
    assert "target_test_accuracy" in json.loads((trained_run / "metrics.json").read_text())


def test_predict_images_folders_and_arrays_skipping_bad_files(trained_run, tmp_path, capsys):
    folder = tmp_path / "inputs"
    folder.mkdir()
    Image.new("L", (16, 16), 200).save(folder / "small.png")
    Image.new("RGB", (64, 40), (10, 200, 30)).save(folder / "wide.jpg")
    (folder / "broken.png").write_bytes(b"not an image")
    np.save(tmp_path / "batch.npy", np.zeros((3, 28, 28), np.uint8))
    np.savez(tmp_path / "arrays.npz", x=np.ones((2, 1, 20, 20), np.float32))
    output = tmp_path / "preds.csv"
    code = main(["predict", str(trained_run), str(folder), str(tmp_path / "batch.npy"), str(tmp_path / "arrays.npz"),
                 str(tmp_path / "missing.png"), "--output", str(output)])
    assert code == 1, "failures must show in the exit code"
    err = capsys.readouterr().err
    assert "broken.png" in err and "missing.png" in err
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 2 + 3 + 2
    assert rows[0].keys() >= {"input", "label", "p_0", "p_9"}
    for row in rows:
        probabilities = [float(row[f"p_{i}"]) for i in range(10)]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row["label"] == str(int(np.argmax(probabilities)))


def test_predict_json_and_all_good_exit_zero(trained_run, tmp_path):
    Image.new("L", (28, 28), 0).save(tmp_path / "a.png")
    assert main(["predict", str(trained_run / "classifier.safetensors"), str(tmp_path / "a.png"),
                 "--output", str(tmp_path / "p.json")]) == 0
    data = json.loads((tmp_path / "p.json").read_text())
    assert len(data["predictions"]) == 1 and data["failures"] == []


def test_predictions_match_the_model_on_the_same_pixels(trained_run, tmp_path):
    saved = load_classifier(trained_run)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "x.npy", pixels)
    main(["predict", str(trained_run), str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.json")])
    predicted = [p["label"] for p in json.loads((tmp_path / "p.json").read_text())["predictions"]]
    images = torch.from_numpy(pixels).float().div(255).mul(2).sub(1).unsqueeze(1)
    expected = saved.model(images).argmax(1).tolist()
    assert predicted == [str(e) for e in expected]


def test_evaluate_prints_accuracy_and_saves_confusion(trained_run, target_digits_npz, capsys, check_reported_accuracy):
    assert main(["evaluate", str(trained_run), "--target", str(target_digits_npz)]) == 0
    result = json.loads(capsys.readouterr().out)
    # The run's target is that .npz, whose test split is drawn (20 %, seeded; saved with the
    # classifier): evaluating the saved classifier on it again gives what the run reported, class by class.
    reported = json.loads((trained_run / "metrics.json").read_text())
    check_reported_accuracy(reported, trained_run)
    assert result["accuracy"] == reported["target_test_accuracy"]
    assert result["per_class_accuracy"] == reported["per_class_accuracy"]
    assert result["images"] == 40
    assert list(trained_run.glob("confusion_target200*.png"))


def test_export_torchscript_matches(trained_run, tmp_path):
    assert main(["export", str(trained_run), "--output", str(tmp_path / "model.pt")]) == 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(tmp_path / "model.pt"))
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    assert torch.allclose(scripted(images), load_classifier(trained_run).model(images), atol=1e-5)


def test_bad_classifier_file(tmp_path, capsys):
    (tmp_path / "c.safetensors").write_bytes(b"\x00" * 20)
    assert main(["predict", str(tmp_path / "c.safetensors"), str(tmp_path), "--output", str(tmp_path / "p.csv")]) == 2
    assert "not a readable safetensors file" in capsys.readouterr().err


def test_unknown_method(tmp_path, capsys):
    assert main(["transfer", "--method", "magic", "--out", str(tmp_path / "x")]) == 2
    assert "unknown method 'magic'" in capsys.readouterr().err


@pytest.mark.slow
def test_export_onnx_matches(trained_run, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")  # in the dev extra, so CI runs this test
    assert main(["export", str(trained_run), "--output", str(tmp_path / "model.onnx")]) == 0
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    images = torch.rand(5, 1, 28, 28) * 2 - 1
    (logits,) = session.run(None, {"images": images.numpy()})
    assert np.allclose(logits, load_classifier(trained_run).model(images).detach().numpy(), atol=1e-4)


# -- options the chosen method does not read ------------------------------------------------------

@pytest.mark.parametrize("method, option, read_by", [
    ("finetune", ["--feature-alignment-domain-weight", "5"], "read by adda, auto, cycada, dann"),
    ("dann", ["--translation-steps", "3"], "read by cycada, pixel-da"),
    ("source-only", ["--gan-augment-synthetic-per-class", "3"], "read by gan-augment"),
])
def test_an_option_the_method_does_not_read_is_refused(method, option, read_by, tmp_path, digits_npz, one_line_error,
                                                         tree, tiny_transfer_args):
    before = tree(tmp_path)
    err = one_line_error(main(["transfer", "--source", str(digits_npz), "--target", str(digits_npz),
                               *tiny_transfer_args, "--method", method, *option, "--out", str(tmp_path / "run"),
                               "--no-progress"]))
    assert f"--method {method} does not read the --{option[0][2:].split('-')[0]}" in err and read_by in err, err
    assert tree(tmp_path) == before


def test_methods_that_read_a_group_and_gan_starts_pass_the_check():
    from gantransfer.methods.registry import check_options_read, get_method

    check_options_read(get_method("cycada"), {"translation", "feature_alignment", "training", "teacher"})
    check_options_read(get_method("finetune"), {"gan_features"}, init="gan")  # a GAN critic trunk to start from
    check_options_read(get_method("gan-augment"), {"gan_features", "gan_augment"})
    with pytest.raises(ConfigError, match="does not read the --gan-features-"):
        check_options_read(get_method("finetune"), {"gan_features"})
