"""The overlay softmax unit (rtl/spvit_ov_softmax.sv) against intops, in cocotb on Verilator.

Two builds (L = 8: SM = 8 lanes with 32-byte beats, and SM = 4 lanes with 16-byte beats, so a
word is two chunks) run SOFTMAX instructions with the score formats and exp tables of the micro
model's attention (its IR), DeiT-like rows of 197, short rows (1, 2, 7, 8, 9, 16, 17), all-equal
and single-peak rows, unsigned scores, other probability formats and exp fractions, a table
shorter than the score range (the clamp), an instruction that keeps the loaded table and one
without rows: every probability exact, lanes beyond the row length and words outside the rows
untouched, exactly the blob's beats popped, and the cycle count equal to the module header's
formula (ov_softmax_cycles) with a stall-free param stream.  One run stalls the param stream at
random; one run with a corrupted table must fail.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rtl_sim lives beside spvit_fpga

from spvit_fpga.rtl import runner  # noqa: E402
from spvit_fpga.rtl.vectors import ov_softmax as vec_sm  # noqa: E402

TOP = "spvit_ov_softmax"
BENCH = "rtl_sim.tb_ov_softmax"
BUILDS = {"sm8-sb32": dict(sm_lanes=8, beat_bytes=32), "sm4-sb16": dict(sm_lanes=4, beat_bytes=16)}


def _vectors(build: str, seed: int, **kw):
    cases = vec_sm.default_cases(seed)
    return vec_sm.softmax_vectors(cases, lanes=8, seed=seed, t_max=200, **BUILDS[build], **kw)


@pytest.mark.parametrize("module", ["spvit_ov_softmax", "spvit_ov_softmax_div"])
def test_lint_default_parameters(module):
    runner.lint(runner.sources_for(module), module)


def test_cycle_formula_helper():
    # DeiT-S on zcu102 (SM = 32): 197 tokens are 7 chunks a row
    assert vec_sm.ov_softmax_cycles(197, 197, 256, 32) == 257 + 199 * 7 + 17 + 10 + 5
    assert vec_sm.ov_softmax_cycles(30, 30, 256, 32, load_table=False) == 32 + 17 + 10 + 5
    assert vec_sm.ov_softmax_cycles(0, 30, 256, 32) == 258


def test_reference_matches_intops():
    rng = np.random.default_rng(0)
    fmt = vec_sm.FixedFormat(8, 3)
    x = rng.integers(-128, 128, (5, 33))
    table = vec_sm.intops.exp_table(fmt).numpy()
    want = vec_sm.intops.int_softmax(vec_sm.torch.as_tensor(x), in_fmt=fmt).numpy()
    assert np.array_equal(vec_sm.reference_softmax(x, table, vec_sm.intops.prob_format(8)), want)


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_ov_softmax_exact_and_cycles(build):
    """sm8-sb32: each instruction alone; sm4-sb16: one program, each instruction started in the
    done cycle of the one before (the blobs back to back on the stream)."""
    params, vec = _vectors(build, seed=1, back_to_back=build == "sm4-sb16")
    runner.lint(runner.sources_for(TOP), TOP, parameters=params)
    res = runner.run(top=TOP, test_module=BENCH, parameters=params, vectors=vec)
    assert res.tests == 1 and res.failed == 0


def test_ov_softmax_param_stream_stalls():
    params, vec = _vectors("sm4-sb16", seed=2, idle=0.6, back_to_back=True)
    res = runner.run(top=TOP, test_module=BENCH, parameters=params, vectors=vec)
    assert res.tests == 1


def test_ov_softmax_bench_catches_a_corrupted_table():
    params, vec = _vectors("sm8-sb32", seed=3, corrupt_table=True)
    vec["instructions"] = vec["instructions"][:1]
    with pytest.raises(runner.RTLSimError, match="got lanes"):
        runner.run(top=TOP, test_module=BENCH, parameters=params, vectors=vec)

