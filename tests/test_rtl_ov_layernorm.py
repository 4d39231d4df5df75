"""The overlay LayerNorm unit (rtl/spvit_ov_layernorm.sv) against intops, in cocotb on Verilator.

Two builds (L = 8 lanes; param-stream beats of 32 and 16 bytes, so gamma / beta words are both
narrower and wider than a beat) run LAYERNORM instructions with formats and constants of real
LayerNorms (the micro model's IR: a block norm, a selector's per-head norm, the final norm) and
DeiT-like ones (C = 64 with 1 and 6 sub-rows, the DeiT-S norm over 384 channels), one-word
sub-rows (P = 1), rows with V = 0, saturation, unsigned and narrow outputs, a left shift out and
a narrower norm format: every output word exact, nothing written outside the sub-rows, exactly
the blob's beats popped, and the cycle count equal to the module header's formula
(ov_layernorm_cycles) when the param stream does not stall.  One run stalls the param stream at
random; one run with a corrupted blob must fail.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rtl_sim lives beside spvit_fpga

from spvit_fpga.rtl import runner  # noqa: E402
from spvit_fpga.rtl.vectors import ov_layernorm as vec_ln  # noqa: E402

TOP = "spvit_ov_layernorm"
BENCH = "rtl_sim.tb_ov_layernorm"
MODULES = ["spvit_ov_layernorm", "spvit_ov_layernorm_mul", "spvit_ov_layernorm_rq", "spvit_ov_layernorm_pram"]


def _run(vec_kwargs, cases_kwargs=None):
    cases = vec_ln.default_cases(**(cases_kwargs or {}))
    params, vec = vec_ln.layernorm_vectors(cases, **vec_kwargs)
    return params, vec


@pytest.mark.parametrize("module", MODULES)
def test_lint_default_parameters(module):
    runner.lint(runner.sources_for(module), module)


def test_cycle_formula_helper():
    # P = 1 selector sub-rows: one cycle a sub-row; DeiT-S (L = 64, SB = 64): 60 blob beats
    assert vec_ln.layernorm_blob_beats(384, 64) == 24 + 12 + 24
    assert vec_ln.ov_layernorm_cycles(197, 1, 6, 64, 64) == 60 + 198 * 6 + 45 + 6
    assert vec_ln.ov_layernorm_cycles(10, 6, 1, 64, 64) - vec_ln.ov_layernorm_cycles(9, 6, 1, 64, 64) == 6
    assert vec_ln.ov_layernorm_cycles(0, 6, 1, 64, 64) == vec_ln.layernorm_blob_beats(64, 64) + 1


@pytest.mark.parametrize("beat_bytes", [32, 16])
def test_ov_layernorm_exact_and_cycles(beat_bytes):
    """SB = 32: each instruction alone; SB = 16: one program, each instruction started in the done
    cycle of the one before (the blobs back to back on the stream)."""
    params, vec = _run(dict(lanes=8, beat_bytes=beat_bytes, seed=beat_bytes, back_to_back=beat_bytes == 16),
                       dict(seed=beat_bytes, big=beat_bytes == 32))
    runner.lint(runner.sources_for(TOP), TOP, parameters=params)
    res = runner.run(top=TOP, test_module=BENCH, parameters=params, vectors=vec)
    assert res.tests == 1 and res.failed == 0


def test_ov_layernorm_param_stream_stalls():
    params, vec = _run(dict(lanes=8, beat_bytes=32, seed=5, idle=0.6, back_to_back=True), dict(seed=5))
    res = runner.run(top=TOP, test_module=BENCH, parameters=params, vectors=vec)
    assert res.tests == 1


def test_ov_layernorm_bench_catches_a_corrupted_blob():
    params, vec = _run(dict(lanes=8, beat_bytes=32, seed=32, corrupt_blob=True), dict(seed=32))
    vec["instructions"] = vec["instructions"][:1]
    with pytest.raises(runner.RTLSimError, match="got lanes"):
        runner.run(top=TOP, test_module=BENCH, parameters=params, vectors=vec)
