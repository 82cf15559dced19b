"""File locks: what lets several processes share stages and a benchmark grid."""

from __future__ import annotations

import subprocess
import sys

from gantransfer.fileio import file_lock


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
