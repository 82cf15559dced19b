"""The help of generated options shows the defaults that actually apply."""

from __future__ import annotations

import pytest

from gantransfer.cli.main import main


def test_nested_options_show_their_parents_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # TransferConfig trains the target classifier with batches of 64 and a conditional GAN,
    # unlike the class defaults of ClassifierTraining (128) and PretrainConfig (unconditional).
    assert "--training-batch-size BATCH_SIZE images per step from each source. (default: 64)" in text
    assert "--source-training-batch-size BATCH_SIZE images per step from each source. (default: 128)" in text
    assert "(default: True)" in text.split("--gan-conditional, --no-gan-conditional", 1)[1].split("--", 1)[0]
