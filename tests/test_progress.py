"""Progress on long work: the batches of each training epoch, the seconds of a build step, and the
images and cycles an RTL testbench reports while the simulator runs.

(The Verilator build line on a real build is checked in test_build_cache.py; the g++ compile line
in test_cli_errors.py's interrupted --csim run.)
"""
from __future__ import annotations

import re
import threading
import time

from spvit_fpga.errors import ticking
from spvit_fpga.rtl import runner
from spvit_fpga.train import main as train_main


def test_train_counts_the_batches_of_each_epoch(tmp_path, capsys):
    # 64 training images in batches of 32: every epoch has a line counting 2 batches
    assert train_main(["--no-prune", "--epochs", "2", "--train-subset", "64", "--batch-size", "32",
                       "--out", str(tmp_path / "o")]) in (0, None)
    err = capsys.readouterr().err
    for epoch in (1, 2):
        assert re.search(rf"epoch {epoch}/2 \([^)]*\):\s+0%\|[^|]*\| 0/2 \[", err), err[-2000:]


def test_ticking_counts_seconds_of_a_step_without_steps(capsys):
    with ticking("compiling"):
        time.sleep(1.3)
    err = capsys.readouterr().err
    assert "compiling: 00:01" in err, err


def test_simulation_progress_shows_the_testbench_reports(tmp_path, capsys):
    reports = tmp_path / "progress.txt"

    def testbench() -> None:  # what rtl_sim.streams.report_progress appends, with a line cut short
        with open(reports, "a") as fh:
            fh.write("0 20000\n1 41000\n")
            fh.flush()
            time.sleep(0.8)
            fh.write("2 83000\n3 9")
            fh.flush()

    with runner._sim_progress(reports, total=4, disable=False):
        tb = threading.Thread(target=testbench)
        tb.start()
        tb.join()
    err = capsys.readouterr().err
    assert "RTL simulation" in err and "1/4 images, 41000 cycles" in err, err
    assert err.rstrip().endswith("2/4 images, 83000 cycles"), err  # the partial last line is not read
    assert runner._last_progress(tmp_path / "absent.txt") is None
