"""``predict`` over a folder reports a sub-folder it cannot list, by path and why, and exits
non-zero as for an unreadable file, instead of skipping it in silence."""

from __future__ import annotations

import csv
import os

import numpy as np
from PIL import Image

from gantransfer.cli.main import main


def test_predict_reports_an_unreadable_sub_folder_and_predicts_the_rest(classifier_file, tmp_path, monkeypatch,
                                                                        capsys):
    inputs = tmp_path / "inputs"
    (inputs / "more").mkdir(parents=True)
    (inputs / "locked").mkdir()
    ring = np.zeros((28, 28), np.uint8)
    ring[6:22, 6:22], ring[9:19, 9:19] = 255, 0
    Image.fromarray(ring).save(inputs / "a.png")
    Image.fromarray(ring.T.copy()).save(inputs / "more" / "b.png")
    Image.fromarray(ring).save(inputs / "locked" / "hidden.png")
    locked = str(inputs / "locked")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # as root, chmod cannot make a folder unreadable
    output = tmp_path / "predictions.csv"

    code = main(["predict", str(classifier_file), str(inputs), "--output", str(output)])

    assert code == 1, "the same status as for an unreadable file"
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.splitlines() == [f"gantransfer predict: skipped {locked}: folder cannot be read "
                                         "(Permission denied)"]
    assert "2 prediction(s) written" in captured.out and "1 input(s) failed" in captured.out
    rows = list(csv.DictReader(output.open()))
    assert [row["input"] for row in rows] == [str(inputs / "a.png"), str(inputs / "more" / "b.png")]


def test_predict_over_a_folder_it_cannot_list_says_so_once(classifier_file, tmp_path, monkeypatch, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(inputs):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code = main(["predict", str(classifier_file), str(inputs), "--output", str(tmp_path / "p.json")])
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [f"gantransfer predict: skipped {inputs}: folder cannot be read "
                                                    "(Permission denied)"]
