"""File locks (what lets several processes share stages and a benchmark grid), appends, and the
folders a run cannot write."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from gantransfer import fileio
from gantransfer.data.datasets import built
from gantransfer.errors import DataError
from gantransfer.fileio import append_line, file_lock, write_refusal


def test_a_held_lock_is_refused_without_waiting_and_free_after_its_block(tmp_path):
    path = tmp_path / "locks" / "cell.lock"
    with file_lock(path) as held:
        assert held and path.is_file()
        with file_lock(path, wait=False) as second:  # another open file: as another process would hold it
            assert second is False
    with file_lock(path, wait=False) as again:
        assert again is True


def test_the_lock_of_a_killed_process_is_free(tmp_path):
    path = tmp_path / "cell.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom gantransfer.fileio import file_lock\n"
         f"with file_lock({str(path)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with file_lock(path, wait=False) as mine:
            assert mine is False
    finally:
        holder.kill()
        holder.wait()
    with file_lock(path, wait=False) as mine:
        assert mine is True


def _refusing(code: int):
    def refuse(path, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(path))
    return refuse


def test_write_refusal_says_why_a_file_cannot_be_written_and_creates_it_when_it_can(tmp_path, monkeypatch):
    path = tmp_path / "stages" / "source-classifier-0" / ".lock"
    assert write_refusal(path) is None and path.is_file()
    monkeypatch.setattr(fileio, "open", _refusing(errno.EROFS), raising=False)
    refusal = write_refusal(path)
    assert refusal.errno == errno.EROFS and refusal.filename == str(path)
    monkeypatch.setattr(fileio, "open", _refusing(errno.ENAMETOOLONG), raising=False)
    with pytest.raises(OSError):  # not about the disk or permissions: a bug, kept as it is
        write_refusal(path)


def test_appended_lines_follow_each_other(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_line(path, '{"step": 1}')
    append_line(path, '{"step": 2}')
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n'


def test_a_built_domain_the_cache_cannot_hold_is_one_line_naming_the_folder_and_the_setting(tmp_path, monkeypatch):
    def refuse(path, write):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(built, "atomic_write", refuse)
    path = tmp_path / "built" / "mnist-m-0123" / "train.npz"
    arrays = (np.zeros((2, 3, 4, 4), np.uint8), np.zeros(2, np.int64))
    with pytest.raises(DataError, match=r"mnist-m-0123: cannot write the built domain there \(Read-only file system\)"
                                        r".*--cache-dir or \$GANTRANSFER_CACHE"):
        built.load_or_build(path, lambda: arrays)
