"""Kernel-level C-simulation of the HLS library (hls/*.h), bit-exact against spvit_fpga.ir.intops.

Each kernel has a C++ driver in tests/hls_drivers/<kernel>_tb.cpp that instantiates the templates,
reads batched cases written here (random and edge-case inputs) and writes the kernel outputs;
every output is compared with the intops reference with ``assert_array_equal`` (no tolerance).
All drivers are compiled once per session, two at a time (cached by content hash in the build
directory of :mod:`spvit_fpga.hls.gxx`), and each runs once with all its cases.  A missing g++ or
ap_types makes these tests fail with the UserError that names the fix; they are never skipped.

Coverage per kernel:
  requant       requantize (int32/int48/uint20 accumulators -> int8/int16/int32/uint8) with shifts
                -30..62 incl. exact ties and range extremes, round_shift with left shifts, rounded
                division (signed/unsigned, ties, extremes), scaled division (2^+-3), int_add with
                fractions differing by up to 20, the constexpr width helpers vs intops
  tables        GELU/sigmoid/generic tables exhaustively over int8, 10-bit and unsigned 6-bit inputs
  linear        7 engine instantiations (plain, GELU, fused int16 residual with alignments -8..16
                and streamed weights, raw classifier accumulator, fan-in 768, uint8 pixels with a
                33-bit accumulator, int9 selector delta row with 33-bit bias); 0/1/max tokens,
                shifts 0/large/negative, worst-case accumulators, rounding ties; a too-narrow
                accumulator is rejected at compile time
  softmax       197-token rows with 8- and 10-bit probabilities, frac < bits, 12-bit scores (table
                clamp); length 1, all equal, one dominant, two maxima, extreme spread
  layernorm     C = 192, 768 (59-bit variance), 16, 12, 2, 1; constant rows with and without eps
                (V = 0), negative/positive rsqrt exponents, maximum variance, gamma/beta extremes
  attention     one head with 0..197 tokens (d_h 16/64/8, 8- and 10-bit p), saturated scores and
                context, all-zero scores
  token_select  head_mean (shift and divider paths, +-fraction changes), token_mean (0..196
                tokens), keep_decision (ties, extreme tau, zero weights), keep_prob (W = 0),
                topk_decision (k = 0, 1, n-1, n, > n, ties, score extremes), package_token
                (nothing/everything pruned, all p = 0, ties), and the two-pass unit with the
                threshold and the top-k rule: zero tokens, one token kept/pruned, none/all pruned,
                196 tokens + 3 earlier package tokens, all pruned p = 0, zero head weights, extremes
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from spvit_fpga._resources import hls_library_dir
from spvit_fpga.hls import gxx
from spvit_fpga.ir import intops
from spvit_fpga.ir.intops import FixedFormat, prob_format

DRIVERS = Path(__file__).resolve().parent / "hls_drivers"
KERNELS = ("requant", "tables", "linear", "softmax", "layernorm", "attention", "token_select")

U8P = prob_format(8)


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    paths = gxx.compile_many([DRIVERS / f"{k}_tb.cpp" for k in KERNELS], jobs=2)
    return dict(zip(KERNELS, paths))


def T(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.int64))


def N(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.int64)


def rint(rng: np.random.Generator, lo: int, hi: int, shape) -> np.ndarray:
    """Uniform integers in [lo, hi] (inclusive)."""
    return rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)


def fmt_rand(rng: np.random.Generator, fmt: FixedFormat, shape) -> np.ndarray:
    return rint(rng, fmt.min_int, fmt.max_int, shape)


def log_uniform_ints(rng: np.random.Generator, bits: int, n: int) -> np.ndarray:
    """Signed integers whose magnitudes are spread over 0 .. 2^(bits-1) on a log scale."""
    mags = rng.integers(0, bits - 1, size=n, endpoint=True)
    vals = np.array([int(rng.integers(0, 1 << int(m), endpoint=False)) if m else 0 for m in mags], dtype=np.int64)
    signs = rng.choice([-1, 1], size=n)
    v = vals * signs
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(v, lo, hi)


def ties_and_edges(rng: np.random.Generator, bits: int, max_shift: int, n: int):
    """(x, s) pairs that are exact rounding ties x = (q + 1/2) 2^s, plus range extremes."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    s = rng.integers(1, max_shift, size=n, endpoint=True)
    xs, ss = [], []
    for sh in s:
        sh = int(sh)
        qmax = max(1, (hi >> sh) - 1)
        q = int(rng.integers(-qmax, qmax, endpoint=True))
        x = q * (1 << sh) + (1 << (sh - 1))
        if lo <= x <= hi:
            xs.append(x)
            ss.append(sh)
    for x in (lo, lo + 1, -1, 0, 1, hi - 1, hi, lo // 2, hi // 2 + 1):
        for sh in (0, 1, 2, bits - 2, bits - 1, bits, bits + 1, 62):
            xs.append(x)
            ss.append(sh)
    return np.array(xs, dtype=np.int64), np.array(ss, dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# requantisation, rounding division, residual add, width helpers
# ----------------------------------------------------------------------------------------------


def test_requant_div_add_widths(binaries):
    rng = np.random.default_rng(1)
    # 32-bit accumulators: random magnitudes and shifts -30..62, exact ties, extremes
    x_r = log_uniform_ints(rng, 32, 3000)
    s_r = rint(rng, -30, 62, 3000)
    x_t, s_t = ties_and_edges(rng, 32, 30, 1500)
    x32 = np.concatenate([x_r, x_t, [-(2**31), 2**31 - 1, 5, -5]])
    s32 = np.concatenate([s_r, s_t, [-30, -30, -1, -1]])
    # 48-bit accumulators (shifts -14..62)
    x48_r = log_uniform_ints(rng, 48, 1500)
    s48_r = rint(rng, -14, 62, 1500)
    x48_t, s48_t = ties_and_edges(rng, 48, 46, 800)
    x48 = np.concatenate([x48_r, x48_t])
    s48 = np.concatenate([s48_r, np.minimum(s48_t, 62)])
    # unsigned 20-bit accumulators
    xu20 = np.concatenate([rint(rng, 0, 2**20 - 1, 800), [0, 1, 2**20 - 1, 2**19]])
    su20 = np.concatenate([rint(rng, -10, 30, 800), [0, 0, 0, 12]])
    # rounded division: signed 40-bit / unsigned 24-bit (ties included), unsigned 32 / 12
    d = rint(rng, 1, 2**24 - 1, 1500)
    d[:300] = rint(rng, 1, 16, 300)
    n = log_uniform_ints(rng, 40, 1500)
    tie_d = 2 * rint(rng, 1, 2**20, 300)
    tie_n = (2 * rint(rng, -(2**17), 2**17, 300) + 1) * (tie_d // 2)
    div_n = np.concatenate([n, tie_n, [-(2**39), 2**39 - 1, -(2**39), 0, 1, -1]])
    div_d = np.concatenate([d, tie_d, [1, 1, 2**24 - 1, 3, 2, 2]])
    udiv_n = np.concatenate([rint(rng, 0, 2**32 - 1, 800), [0, 2**32 - 1, 2**32 - 1, 3, 5]])
    udiv_d = np.concatenate([rint(rng, 1, 2**12 - 1, 800), [7, 1, 2**12 - 1, 2, 2]])
    sdiv_n = np.concatenate([rint(rng, -(2**23), 2**23 - 1, 600), [-(2**23), 2**23 - 1, 4, -4, 12, -12]])
    sdiv_d = np.concatenate([rint(rng, 1, 1023, 600), [1, 1, 8, 8, 64, 64]])
    # residual add, int16 + int8 with fractions differing by up to 20
    frs, adds_a, adds_b = [], [], []
    for _ in range(40):
        fa, fb = int(rng.integers(-4, 16)), int(rng.integers(-4, 16))
        fo = int(rng.integers(min(fa, fb) - 4, max(fa, fb) + 4))
        a = np.concatenate([rint(rng, -(2**15), 2**15 - 1, 40), [-(2**15), 2**15 - 1]])
        b = np.concatenate([rint(rng, -128, 127, 40), [-128, 127]])
        adds_a.append(a)
        adds_b.append(b)
        frs.append(np.tile([fa, fb, fo], (len(a), 1)))
    add_a, add_b, add_fr = np.concatenate(adds_a), np.concatenate(adds_b), np.concatenate(frs)
    # width helpers
    acc_params = []
    for in_bits in (1, 2, 8, 10, 16):
        for w_bits in (2, 8, 9):
            for fan in (1, 3, 64, 192, 768, 3072, 2**16, 2**17):
                for bias in (0, 30, 32):
                    for sig in ((1, 1), (0, 1), (0, 0), (1, 0)):
                        if in_bits == 1 and sig[0]:
                            continue
                        acc_params.append([in_bits, w_bits, fan, bias, *sig])
    acc_params = np.array(acc_params, dtype=np.int64)
    ranges = np.array([[0, 0], [-1, 0], [0, 1], [-128, 127], [-129, 127], [-128, 128], [-(2**40), 5],
                       [3, 2**33], [-7, -3], [-(2**61), 2**61 - 1]], dtype=np.int64)

    out = gxx.run_binary(binaries["requant"], {
        "x32": x32, "s32": s32, "x48": x48, "s48": s48, "xu20": xu20, "su20": su20,
        "div_n": div_n, "div_d": div_d, "udiv_n": udiv_n, "udiv_d": udiv_d,
        "sdiv_n": sdiv_n, "sdiv_d": sdiv_d, "add_a": add_a, "add_b": add_b, "add_fr": add_fr,
        "wd_acc_params": acc_params, "wd_range": ranges,
    })

    rq = intops.requantize
    assert_array_equal(out["rq32_i8"], N(rq(T(x32), T(s32), FixedFormat(8, 0))))
    assert_array_equal(out["rq32_i16"], N(rq(T(x32), T(s32), FixedFormat(16, 0))))
    assert_array_equal(out["rq32_u8"], N(rq(T(x32), T(s32), FixedFormat(8, 0, signed=False))))
    left_ok = s32 >= -8
    assert_array_equal(out["rs32_i40"][left_ok], N(intops.round_shift(T(x32), T(s32)))[left_ok])
    assert_array_equal(out["rq48_i16"], N(rq(T(x48), T(s48), FixedFormat(16, 0))))
    assert_array_equal(out["rq48_i32"], N(rq(T(x48), T(s48), FixedFormat(32, 0))))
    assert_array_equal(out["rqu20_u8"], N(rq(T(xu20), T(su20), FixedFormat(8, 0, signed=False))))
    assert_array_equal(out["rqu20_i8"], N(rq(T(xu20), T(su20), FixedFormat(8, 0))))
    assert_array_equal(out["div_q"], N(intops.int_rounded_div(T(div_n), T(div_d))))
    assert_array_equal(out["udiv_q"], N(intops.int_rounded_div(T(udiv_n), T(udiv_d))))
    assert_array_equal(out["sdiv_up3"], N(intops.int_rounded_div(T(sdiv_n) * 8, T(sdiv_d))))
    assert_array_equal(out["sdiv_dn3"], N(intops.int_rounded_div(T(sdiv_n), T(sdiv_d) * 8)))
    ref16, ref8 = [], []
    for a, b, (fa, fb, fo) in zip(adds_a, adds_b, (f[0] for f in frs)):
        ref16.append(N(intops.int_add(T(a), T(b), a_frac=int(fa), b_frac=int(fb), out_fmt=FixedFormat(16, int(fo)))))
        ref8.append(N(intops.int_add(T(a), T(b), a_frac=int(fa), b_frac=int(fb), out_fmt=FixedFormat(8, int(fo)))))
    assert_array_equal(out["add_y16"], np.concatenate(ref16))
    assert_array_equal(out["add_y8"], np.concatenate(ref8))
    ref_acc = [intops.accumulator_bits(int(i), int(w), int(f), int(b) or None, in_signed=bool(si), w_signed=bool(sw))
               for i, w, f, b, si, sw in acc_params]
    assert_array_equal(out["wd_acc"], ref_acc)
    assert_array_equal(out["wd_sbits"], [intops.signed_bits_for_range(int(lo), int(hi)) for lo, hi in ranges])


# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------


def test_tables_exhaustive(binaries):
    gin, gout = FixedFormat(8, 4), FixedFormat(8, 5)
    sin = FixedFormat(8, 3)
    t10_in, t10_out = FixedFormat(10, 6), FixedFormat(16, 12)
    tu6_in, tu6_out = FixedFormat(6, 2, signed=False), FixedFormat(8, 7, signed=False)
    gelu8 = intops.gelu_table(gin, gout)
    sig8 = intops.sigmoid_table(sin, U8P)
    t10 = intops.gelu_table(t10_in, t10_out)
    tu6 = intops.sigmoid_table(tu6_in, tu6_out)
    rng = np.random.default_rng(2)
    frame = fmt_rand(rng, gin, (6, 7))
    n = 4
    out = gxx.run_binary(binaries["tables"], {
        "gelu8_table": gelu8, "sig8_table": sig8, "t10_table": t10, "tu6_table": tu6,
        "frame_x": np.concatenate([[n], frame.reshape(-1)]),
    })
    all8 = T(np.arange(-128, 128))
    assert_array_equal(out["gelu8_y"], N(intops.int_gelu(all8, in_fmt=gin, out_fmt=gout)))
    assert_array_equal(out["sig8_y"], N(intops.int_sigmoid(all8, in_fmt=sin, out_fmt=U8P)))
    assert_array_equal(out["t10_y"], N(intops.table_lookup(T(np.arange(-512, 512)), t10, t10_in)))
    assert_array_equal(out["tu6_y"], N(intops.int_sigmoid(T(np.arange(64)), in_fmt=tu6_in, out_fmt=tu6_out)))
    want = np.full((6, 7), -99)
    want[:n] = N(intops.int_gelu(T(frame[:n]), in_fmt=gin, out_fmt=gout))
    assert_array_equal(out["frame_y"].reshape(6, 7), want)


# ----------------------------------------------------------------------------------------------
# linear (GEMM engine + epilogue)
# ----------------------------------------------------------------------------------------------

LINEAR_VARIANTS = {
    # name: K, M, MAX_N, x fmt, bias bits, out fmt (None = raw accumulator), gelu, residual fmt
    "plain": (24, 8, 9, FixedFormat(8, 4), 30, FixedFormat(8, 3), False, None),
    "gelu": (24, 8, 9, FixedFormat(8, 4), 30, FixedFormat(8, 4), True, None),
    "residual": (24, 8, 9, FixedFormat(8, 4), 30, FixedFormat(16, 8), False, FixedFormat(16, 8)),
    "raw": (24, 10, 3, FixedFormat(8, 4), 30, None, False, None),
    "wide": (768, 4, 3, FixedFormat(8, 4), 30, FixedFormat(8, 2), False, None),
    "pixels": (48, 6, 4, FixedFormat(8, 0, signed=False), 32, FixedFormat(16, 6), False, None),
    "delta": (16, 4, 5, FixedFormat(8, 4), 33, FixedFormat(8, 3), False, None),
}
W8 = FixedFormat(8, 6)
W9 = FixedFormat(9, 6)
GELU_IN, GELU_OUT = FixedFormat(8, 4), FixedFormat(8, 5)


def _linear_cases(rng, K, M, max_n, xf, bias_bits, out_fmt, residual_fmt, wf=W8):
    bf = FixedFormat(bias_bits, 0)
    raw = out_fmt is None
    cases = []

    def case(n, shift, align, x, w, b, r=None):
        cases.append((n, 0 if raw else shift, align, x, w, b, r))

    def rnd_r(n):
        return fmt_rand(rng, residual_fmt, (n, M)) if residual_fmt else None

    def rnd_align():
        return int(rng.integers(-8, 17)) if residual_fmt else 0

    for n in [0, 1, max_n] + list(rint(rng, 1, max_n, 6)):
        n = int(n)
        x = fmt_rand(rng, xf, (n, K))
        w = fmt_rand(rng, wf, (M, K))
        b = rint(rng, bf.min_int >> 12, bf.max_int >> 12, M)
        case(n, int(rng.integers(0, 16)), rnd_align(), x, w, b, rnd_r(n))
    # shifts 0 (saturates), large (everything rounds to 0), past the width, negative (left shift)
    for shift in (0, 1, 7, 14, 31, 40, -3):
        n = max_n
        case(n, shift, rnd_align(), fmt_rand(rng, xf, (n, K)), fmt_rand(rng, wf, (M, K)),
             fmt_rand(rng, bf, M), rnd_r(n))
    # extremes: accumulator at its worst case (x = w = min, bias = max) and opposite signs
    for xv, wv, bv in ((xf.min_int, wf.min_int, bf.max_int), (xf.min_int, wf.max_int, bf.min_int),
                       (xf.max_int, wf.max_int, bf.max_int), (xf.max_int, wf.min_int, bf.min_int)):
        n = max_n
        x = np.full((n, K), xv)
        w = np.full((M, K), wv)
        b = np.full(M, bv)
        r = None
        if residual_fmt:
            r = np.where(np.arange(M) % 2 == 0, residual_fmt.max_int, residual_fmt.min_int)[None].repeat(n, 0)
        for shift, align in ((0, 16), (12, 16), (24, 16), (12, -8), (30, -8), (6, 0)):
            case(n, shift, align if residual_fmt else 0, x, w, b, r)
    # ties: all-zero weights, bias = odd multiples of 2^(s-1)
    for shift in (1, 4, 9):
        n = 2
        b = (2 * rint(rng, -50, 50, M) + 1) << (shift - 1)
        case(n, shift, 0, fmt_rand(rng, xf, (n, K)), np.zeros((M, K), np.int64), b,
             np.zeros((n, M), np.int64) if residual_fmt else None)
    return cases


def _linear_ref(cases, out_fmt, gelu, residual_fmt):
    outs = []
    for n, shift, align, x, w, b, r in cases:
        y = intops.int_linear(T(x), T(w), T(b), shift=shift, out_fmt=out_fmt,
                              residual=None if r is None else T(r), residual_align=align)
        if gelu:
            y = intops.int_gelu(y, in_fmt=GELU_IN, out_fmt=GELU_OUT)
        outs.append(N(y).reshape(-1))
    return np.concatenate(outs) if outs else np.zeros(0, np.int64)


def _pack_linear(cases):
    parts = [np.array([len(cases)])]
    for n, shift, align, x, w, b, r in cases:
        parts += [np.array([n, shift, align]), x.reshape(-1), w.reshape(-1), b.reshape(-1)]
        if r is not None:
            parts.append(r.reshape(-1))
    return np.concatenate(parts).astype(np.int64)


def test_linear_engine(binaries):
    rng = np.random.default_rng(3)
    inputs = {"gelu_table": intops.gelu_table(GELU_IN, GELU_OUT)}
    refs = {}
    for name, (K, M, max_n, xf, bias_bits, out_fmt, gelu, rf) in LINEAR_VARIANTS.items():
        cases = _linear_cases(rng, K, M, max_n, xf, bias_bits, out_fmt, rf, W9 if name == "delta" else W8)
        inputs[f"{name}_in"] = _pack_linear(cases)
        refs[name] = _linear_ref(cases, out_fmt, gelu, rf)
    out = gxx.run_binary(binaries["linear"], inputs)
    for name, ref in refs.items():
        assert_array_equal(out[f"{name}_out"], ref, err_msg=f"linear variant {name}")


def test_linear_worst_case_accumulator_is_exact():
    """The 32-bit default accumulator holds fan-in 768 with a 30-bit bias (static_assert in
    spvit_linear.h agrees with intops.accumulator_bits), and the extreme sum is reached."""
    assert intops.accumulator_bits(8, 8, 768, 30) <= intops.DEFAULT_ACC_BITS
    assert intops.accumulator_bits(8, 8, 768, 32) == 33  # "pixels"/32-bit bias needs 33: driver uses ap_int<33>
    assert intops.accumulator_bits(8, 8, 48, 32, in_signed=False) == 33
    acc = intops.int_linear(T(np.full((1, 768), -128)), T(np.full((1, 768), -128)),
                            T([2**29 - 1]), shift=0, out_fmt=None)
    assert int(acc) == 768 * 2**14 + 2**29 - 1 < 2**31


def test_linear_rejects_narrow_accumulator(tmp_path):
    """Compiling the engine with an accumulator one bit too narrow fails at compile time."""
    need = intops.accumulator_bits(8, 8, 768, 30)
    src = tmp_path / "narrow_acc.cpp"
    template = (
        '#include "spvit_linear.h"\n'
        "static ap_int<8> x[2][768], y[2][4]; static ap_int<8> w[4 * 768]; static ap_int<30> b[4];\n"
        "int main() { spvit::linear<768, 4, 16, 4, 2, false, false, 0, 0, ap_int<ACC_W> >"
        "(x, w, b, y, y, 2, 0, 0, (const ap_int<8>*)0); return 0; }\n"
    )
    src.write_text(template.replace("ACC_W", str(need - 1)))
    with pytest.raises(gxx.HlsSimError, match="accumulator too narrow"):
        gxx.check_syntax(src)
    src.write_text(template.replace("ACC_W", str(need)))
    gxx.check_syntax(src)  # the exact width is accepted (cached after the first run)


# ----------------------------------------------------------------------------------------------
# softmax
# ----------------------------------------------------------------------------------------------

SOFTMAX_VARIANTS = {
    # name: MAX_N, score bits, prob fmt
    "p8": (197, 8, prob_format(8)),
    "p10": (197, 8, prob_format(10)),
    "f7": (32, 8, FixedFormat(8, 7, signed=False)),
    "wide": (16, 12, prob_format(8)),
}


def _softmax_rows(rng, max_n, bits):
    sf = FixedFormat(bits, 0)
    lo, hi = sf.min_int, sf.max_int
    rows = []
    fracs = [0, 3, 4, 7] if bits == 8 else [0, 6, 11]
    for f in fracs:
        rows.append((f, np.array([int(rng.integers(lo, hi + 1))])))        # length 1
        rows.append((f, np.array([lo])))                                    # length 1 at the minimum
        rows.append((f, np.full(max_n, int(rng.integers(lo, hi + 1)))))    # max length, all equal
        rows.append((f, np.full(max_n, hi)))
        dom = np.full(max_n, lo)
        dom[int(rng.integers(0, max_n))] = hi                               # one dominant
        rows.append((f, dom))
        two = np.full(max_n, lo)
        two[:2] = hi                                                        # two equal maxima
        rows.append((f, two))
        rows.append((f, fmt_rand(rng, sf, max_n)))                          # max length, random
        rows.append((f, np.array([hi, lo])))                                # largest spread
        for n in rint(rng, 2, max_n, 4):
            centre = int(rng.integers(lo, hi + 1))
            width = int(rng.integers(1, 40))
            rows.append((f, np.clip(rint(rng, centre - width, centre + width, int(n)), lo, hi)))
    return rows


def test_softmax_rows(binaries):
    rng = np.random.default_rng(4)
    inputs, refs = {}, {}
    for name, (max_n, bits, pf) in SOFTMAX_VARIANTS.items():
        rows = _softmax_rows(rng, max_n, bits)
        parts = [np.array([len(rows)])]
        ref = []
        for f, x in rows:
            sf = FixedFormat(bits, f)
            parts += [np.array([len(x)]), N(intops.exp_table(sf)), x]
            ref.append(N(intops.int_softmax(T(x), in_fmt=sf, prob_fmt=pf)))
        inputs[f"{name}_in"] = np.concatenate(parts)
        refs[name] = np.concatenate(ref)
    out = gxx.run_binary(binaries["softmax"], inputs)
    for name, ref in refs.items():
        assert_array_equal(out[f"{name}_out"], ref, err_msg=f"softmax variant {name}")
    # the edge rows really hit the saturation and the clamp
    assert out["p8_out"].max() == 255 and out["p10_out"].max() == 1023
    assert intops.exp_table_entries(FixedFormat(12, 0)) == 1024


# ----------------------------------------------------------------------------------------------
# layernorm
# ----------------------------------------------------------------------------------------------

LAYERNORM_VARIANTS = {
    # name: C, MAX_N, mant bits, input fmt
    "c192": (192, 4, 10, FixedFormat(16, 8)),
    "c768": (768, 2, 10, FixedFormat(16, 8)),
    "c16": (16, 6, 8, FixedFormat(8, 4)),
    "c12": (12, 3, 9, FixedFormat(16, 10)),
    "c1": (1, 3, 10, FixedFormat(8, 4)),
    "c2": (2, 3, 10, FixedFormat(8, 0)),
}
GAMMA_FMT = FixedFormat(8, 6)
BETA_FMT = FixedFormat(32, GAMMA_FMT.frac + intops.DEFAULT_NORM_FMT.frac)


def _layernorm_cases(rng, C, max_n, xf):
    lo, hi = xf.min_int, xf.max_int
    cases = []

    def gb(kind="random"):
        if kind == "extreme":
            g = np.where(np.arange(C) % 2 == 0, -128, 127)
            b = np.where(np.arange(C) % 3 == 0, BETA_FMT.min_int, BETA_FMT.max_int)
            return g, b
        return fmt_rand(rng, GAMMA_FMT, C), rint(rng, -(2**20), 2**20, C)

    for n in (0, 1, max_n):
        g, b = gb()
        cases.append((n, 1e-6, 4, fmt_rand(rng, xf, (n, C)), g, b))
    for f_out in (0, 2, 4, 7, 16, 20):                       # out shifts 16 .. -4
        n = max_n
        centre = int(rng.integers(lo // 2, hi // 2))
        span = int(rng.integers(1, 200))
        x = np.clip(rint(rng, centre - span, centre + span, (n, C)), lo, hi)
        g, b = gb()
        cases.append((n, 1e-6, f_out, x, g, b))
    # constant rows: V = eps_int only; eps = 0 gives V = 0 -> n = 0 -> y = RNE(beta)
    for eps in (1e-6, 0.0, 1.0):
        x = np.repeat(rint(rng, lo, hi, (max_n, 1)), C, axis=1)
        x[0] = hi
        g, b = gb()
        cases.append((max_n, eps, 4, x, g, b))
    # maximum variance (alternating extremes), a single spike, gamma/beta at their extremes
    alt = np.where(np.arange(C) % 2 == 0, lo, hi)[None].repeat(max_n, 0)
    spike = np.full((max_n, C), lo)
    spike[:, int(rng.integers(0, C))] = hi
    for x in (alt, spike):
        for kind in ("random", "extreme"):
            g, b = gb(kind)
            cases.append((max_n, 1e-6, 4, x, g, b))
    # tiny deviations (variance below the mantissa: negative k, left-shifted V)
    x = np.full((max_n, C), 3)
    x[:, 0] = 4
    g, b = gb()
    cases.append((max_n, 0.0, 4, x, g, b))
    cases.append((max_n, 1e-3, 4, x, g, b))
    return cases


def _rsqrt_exponents(x: np.ndarray, eps_int: int, mant_bits: int) -> set:
    """Which rsqrt paths the rows of x take: 'zero' (V == 0), 'neg' (k < 0), 'pos' (k > 0)."""
    seen = set()
    c = x.shape[1]
    for row in x.tolist():
        s = sum(row)
        v = sum((c * xi - s) ** 2 for xi in row) + eps_int
        k = -((mant_bits - v.bit_length()) // 2)  # ceil((L - M) / 2)
        seen.add("zero" if v == 0 else ("neg" if k < 0 else ("pos" if k > 0 else "k0")))
    return seen


def test_layernorm_frames(binaries):
    rng = np.random.default_rng(5)
    inputs, refs = {}, {}
    paths = set()
    for name, (C, max_n, mb, xf) in LAYERNORM_VARIANTS.items():
        table, _ = intops.rsqrt_table(C, mb)
        inputs[f"{name}_table"] = table
        parts = [np.array([0])]
        ref = []
        cases = _layernorm_cases(rng, C, max_n, xf)
        for n, eps, f_out, x, g, b in cases:
            p = intops.layernorm_params(C, xf, eps, mant_bits=mb)
            out_fmt = FixedFormat(8, f_out)
            out_shift = GAMMA_FMT.frac + intops.DEFAULT_NORM_FMT.frac - f_out
            parts += [np.array([n, p.eps_int, p.rsqrt_shift, out_shift]), g, b, x.reshape(-1)]
            paths |= _rsqrt_exponents(x, p.eps_int, mb)
            if n:
                ref.append(N(intops.int_layernorm(T(x), T(g), T(b), in_fmt=xf, gamma_fmt=GAMMA_FMT,
                                                  out_fmt=out_fmt, eps=eps, mant_bits=mb)).reshape(-1))
        parts[0] = np.array([len(cases)])
        inputs[f"{name}_in"] = np.concatenate(parts)
        refs[name] = np.concatenate(ref)
    assert paths >= {"zero", "neg", "pos", "k0"}, paths
    out = gxx.run_binary(binaries["layernorm"], inputs)
    for name, ref in refs.items():
        assert_array_equal(out[f"{name}_out"], ref, err_msg=f"layernorm variant {name}")


# ----------------------------------------------------------------------------------------------
# attention head
# ----------------------------------------------------------------------------------------------

ATTENTION_VARIANTS = {
    # name: MAX_N, d_h, prob fmt, token counts
    "small": (24, 16, prob_format(8), [0, 1, 2, 24, 7, 13]),
    "deit": (197, 64, prob_format(8), [197, 50, 1]),
    "p10": (24, 8, prob_format(10), [1, 3, 24, 11]),
    "deit_frame": (197, 64, prob_format(8), [197, 123, 31, 2]),
    "el3": (24, 16, prob_format(8), [0, 1, 2, 3, 4, 24, 17]),
}
QKV = FixedFormat(8, 4)


def test_attention_head(binaries):
    rng = np.random.default_rng(6)
    inputs, refs = {}, {}
    for name, (max_n, dh, pf, counts) in ATTENTION_VARIANTS.items():
        cases = []
        for i, n in enumerate(counts):
            fs = [3, 4, 1][i % 3]
            q, k, v = (fmt_rand(rng, QKV, (n, dh)) for _ in range(3))
            cases.append((n, int(rng.integers(3, 9)), int(rng.integers(6, 12)), fs, q, k, v))
        n = max_n if max_n <= 24 else 30
        ext = np.full((n, dh), -128)
        v_ext = np.where(np.arange(dh) % 2 == 0, -128, 127)[None].repeat(n, 0)
        cases.append((n, 0, 0, 4, ext, ext, v_ext))          # saturated scores and context
        cases.append((n, 20, 8, 4, fmt_rand(rng, QKV, (n, dh)), fmt_rand(rng, QKV, (n, dh)), v_ext))  # all scores 0
        cases.append((n, 4, 30, 0, *(fmt_rand(rng, QKV, (n, dh)) for _ in range(3))))  # context rounds to 0
        parts = [np.array([len(cases)])]
        ref = []
        for n, ss, cs, fs, q, k, v in cases:
            sf = FixedFormat(8, fs)
            parts += [np.array([n, ss, cs]), N(intops.exp_table(sf)), q.reshape(-1), k.reshape(-1), v.reshape(-1)]
            s = intops.int_attention_scores(T(q), T(k), shift=ss, out_fmt=sf)
            p = intops.int_softmax(s, in_fmt=sf, prob_fmt=pf)
            o = intops.int_attention_context(p, T(v), shift=cs, out_fmt=FixedFormat(8, 0))
            ref.append(N(o).reshape(-1))
        inputs[f"{name}_in"] = np.concatenate(parts)
        refs[name] = np.concatenate(ref)
    out = gxx.run_binary(binaries["attention"], inputs)
    for name, ref in refs.items():
        assert_array_equal(out[f"{name}_out"], ref, err_msg=f"attention variant {name}")


# ----------------------------------------------------------------------------------------------
# token selector pieces and the token-select / package-merge unit
# ----------------------------------------------------------------------------------------------

RES16 = FixedFormat(16, 8)
DELTA = FixedFormat(8, 3)


def _cases_input(rows) -> np.ndarray:
    return np.concatenate([np.array([len(rows)])] + [np.asarray(r, dtype=np.int64).reshape(-1) for r in rows])


def _head_mean_inputs(rng):
    inputs, refs = {}, {}
    for name, C, H, up, xf in (("hm192", 192, 3, 0, RES16), ("hm48", 48, 4, 2, FixedFormat(16, 9)),
                               ("hm36", 36, 3, -3, FixedFormat(8, 4)), ("hm16", 16, 4, -2, FixedFormat(8, 4))):
        x = fmt_rand(rng, xf, (40, C))
        x[0], x[1] = xf.max_int, xf.min_int                         # saturating means
        x[2] = np.where(np.arange(C) % 2 == 0, xf.max_int, xf.min_int)
        x[3:8] = rint(rng, -8, 8, (5, C))                           # small sums: rounding ties
        inputs[f"{name}_in"] = _cases_input(list(x))
        refs[name] = N(intops.int_head_mean(T(x), num_heads=H, in_frac=xf.frac,
                                            out_fmt=FixedFormat(8, xf.frac + up))).reshape(-1)
    return inputs, refs


def _token_mean_inputs(rng):
    inputs, refs = {}, {}
    for name, C, max_n, up, xf in (("tm", 8, 196, 1, FixedFormat(8, 4)), ("tm_dn", 5, 20, -2, RES16)):
        rows, ref = [], []
        for i, n in enumerate([0, 1, 2, max_n, max_n, max_n] + list(rint(rng, 3, max_n, 5))):
            n = int(n)
            x = fmt_rand(rng, xf, (n, C))
            if i == 4:
                x[:] = xf.max_int                                  # saturating mean at max count
            if i == 5:
                x[:] = xf.min_int
            rows.append(np.concatenate([[n], x.reshape(-1)]))
            ref.append(N(intops.int_token_mean(T(x).reshape(n, C), in_frac=xf.frac,
                                               out_fmt=FixedFormat(8, xf.frac + up))))
        inputs[f"{name}_in"] = _cases_input(rows)
        refs[name] = np.concatenate(ref)
    return inputs, refs


def _keep_inputs(rng):
    inputs, refs = {}, {}
    for name, H, out_fmt in (("kp3", 3, U8P), ("kp12", 12, prob_format(10))):
        w = fmt_rand(rng, U8P, (60, H))
        d = fmt_rand(rng, DELTA, (60, H))
        w[0:4] = 0                                                  # all head weights zero
        d[4], d[5] = DELTA.min_int, DELTA.max_int                  # sigmoid 0 / saturated
        w[6] = 255
        z = (w * d).sum(axis=1)
        tau = rint(rng, -3000, 3000, 60)
        tau[8:16] = z[8:16]                                         # ties keep
        tau[16:20] = z[16:20] + 1
        bits = intops.keep_decision_bits(U8P, DELTA, H)
        tau[20], tau[21] = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1  # keep everything / nothing
        tau[0:2] = [0, 1]                                           # w = 0: keep iff 0 >= tau
        inputs[f"{name}_sig"] = intops.sigmoid_table(DELTA, U8P)
        inputs[f"{name}_in"] = _cases_input([np.concatenate([w[i], d[i], [tau[i]]]) for i in range(60)])
        refs[f"{name}_keep"] = N(intops.keep_decision(T(w), T(d), T(tau)).to(torch.int64))
        refs[f"{name}_prob"] = N(intops.int_keep_prob(T(w), T(d), w_fmt=U8P, delta_fmt=DELTA,
                                                      sig_fmt=U8P, out_fmt=out_fmt))
    return inputs, refs


def _package_inputs(rng):
    C, max_n = 8, 196
    rows, ref = [], []

    def add(x, p, pruned):
        n = len(p)
        rows.append(np.concatenate([[n], x.reshape(-1), p, pruned.astype(np.int64)]))
        ref.append(N(intops.int_package_token(T(x).reshape(n, C), T(p), pruned=torch.as_tensor(pruned, dtype=torch.bool))))

    for n in (0, 1, 5, max_n):
        x = fmt_rand(rng, RES16, (n, C))
        add(x, fmt_rand(rng, U8P, n), np.ones(n, bool))             # everything pruned
        add(x, fmt_rand(rng, U8P, n), np.zeros(n, bool))            # nothing pruned -> zeros
        add(x, fmt_rand(rng, U8P, n), rng.random(n) < 0.5)
        add(x, np.zeros(n, np.int64), rng.random(n) < 0.7)          # all p = 0: plain RNE mean
    x = np.where(np.arange(C) % 2 == 0, RES16.max_int, RES16.min_int)[None].repeat(max_n, 0)
    add(x, np.full(max_n, 255), np.ones(max_n, bool))               # widest accumulator
    add(np.array([[3, -3, 5, -5, 7, -7, 1, -1], [4, -4, 6, -6, 8, -8, 2, -2]]), np.array([1, 1]),
        np.ones(2, bool))                                           # ties at 1/2
    return {"pk_in": _cases_input(rows)}, {"pk": np.concatenate(ref)}


def _token_select_ref(frame, n_patch, n_pkg, w, d, tau, k=None):
    patches = frame[1:1 + n_patch]
    if k is None:
        keep = intops.keep_decision(T(w), T(d), int(tau))
    else:
        keep = intops.topk_decision((T(w) * T(d)).sum(dim=-1), int(k))
    p = intops.int_keep_prob(T(w), T(d), w_fmt=U8P, delta_fmt=DELTA, sig_fmt=U8P, out_fmt=U8P)
    pkg = intops.int_package_token(T(patches), p, pruned=~keep)
    kept = N(T(patches)[keep])
    out = np.concatenate([frame[:1], kept, frame[1 + n_patch:1 + n_patch + n_pkg], N(pkg)[None]])
    return out.reshape(-1), N(keep.to(torch.int64)), int(keep.sum())


def _topk_inputs(rng):
    bits = intops.keep_decision_bits(U8P, DELTA, 4)
    zmin, zmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rows, ref = [], []
    for n, k, z in [
        (0, 0, []), (0, 3, []), (1, 0, [5]), (1, 1, [5]), (1, 2, [zmin]),
        (5, 2, [zmin, zmax, zmin, zmax, zmax]),                     # range extremes, ties at the top
        (6, 3, [7, 7, 7, 7, 7, 7]),                                 # all equal: the first k
        (6, 5, [zmax] * 6), (6, 1, [zmin] * 6),
        (196, 121, list(rint(rng, -3000, 3000, 196))),              # DeiT stage 1 ratio 0.617
        (196, 72, list(rint(rng, -3, 3, 196))),                     # many ties
        (196, 27, list(rint(rng, zmin, zmax, 196))),
        (196, 195, list(rint(rng, -5, 5, 196))), (196, 196, list(rint(rng, -5, 5, 196))),
        (196, 1, list(rint(rng, -5, 5, 196))), (40, 100, list(rint(rng, -5, 5, 40))),
    ]:
        rows.append(np.concatenate([[n, k], np.asarray(z, dtype=np.int64)]))
        ref.append(N(intops.topk_decision(T(np.asarray(z, dtype=np.int64)), k).to(torch.int64)))
    return {"tk_in": _cases_input(rows)}, {"tk": np.concatenate(ref)}


def _token_select_inputs(rng, name="ts", topk=False):
    C, H, max_n, max_pkg = 16, 4, 196, 3
    bits = intops.keep_decision_bits(U8P, DELTA, H)
    tmin, tmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rows, outs, keeps, nkept = [], [], [], []

    def add(n_patch, n_pkg, rule, w=None, d=None, frame=None):
        # rule: tau (threshold mode) or k (top-k mode)
        frame = fmt_rand(rng, RES16, (1 + n_patch + n_pkg, C)) if frame is None else frame
        w = fmt_rand(rng, U8P, (n_patch, H)) if w is None else w
        d = fmt_rand(rng, DELTA, (n_patch, H)) if d is None else d
        tau, k = (0, rule) if topk else (rule, 0)
        rows.append(np.concatenate([[n_patch, n_pkg, tau, k], frame.reshape(-1), w.reshape(-1), d.reshape(-1)]))
        o, kp, nk = _token_select_ref(frame, n_patch, n_pkg, w, d, tau, k if topk else None)
        outs.append(o)
        keeps.append(kp)
        nkept.append(nk)
        return nk

    all_kept = lambda n: n if topk else tmin  # noqa: E731
    all_pruned = 0 if topk else tmax
    assert add(0, 0, 0) == 0                                        # zero live tokens
    add(0, 2, 3)
    assert add(1, 0, all_kept(1)) == 1                              # one token, kept
    assert add(1, 1, all_pruned) == 0                               # one token, pruned
    assert add(40, 1, all_kept(40)) == 40                           # none pruned: zero package
    assert add(40, 2, all_pruned) == 0                              # all pruned
    assert add(max_n, max_pkg, all_pruned) == 0                     # max tokens, all pruned
    nk = add(max_n, max_pkg, 121 if topk else 0)                    # max tokens, mixed
    assert 0 < nk < max_n
    # all pruned tokens have p = 0 (sigmoid(-16) quantises to 0): package = plain RNE mean
    d = fmt_rand(rng, DELTA, (30, H))
    d[::2] = DELTA.min_int
    d[1::2] = rint(rng, 1, DELTA.max_int, d[1::2].shape)
    assert add(30, 1, 15 if topk else 0, d=d) == 15
    # all head weights zero: every score 0 (threshold: 0 >= tau; top-k: the first k)
    assert add(20, 0, 7 if topk else 0, w=np.zeros((20, H), np.int64)) == (7 if topk else 20)
    assert add(20, 0, 20 if topk else 1, w=np.zeros((20, H), np.int64)) == (20 if topk else 0)
    # extreme token values with full weights
    frame = np.where(np.arange(C) % 2 == 0, RES16.max_int, RES16.min_int)[None].repeat(1 + 50, 0)
    add(50, 0, all_pruned, w=np.full((50, H), 255), d=np.full((50, H), DELTA.max_int), frame=frame)
    for _ in range(4):
        n = int(rng.integers(2, max_n + 1))
        add(n, int(rng.integers(0, max_pkg + 1)), int(rng.integers(1, n)) if topk else int(rng.integers(-2000, 2000)))
    inputs = {f"{name}_sig": intops.sigmoid_table(DELTA, U8P), f"{name}_in": _cases_input(rows)}
    refs = {f"{name}_out": np.concatenate(outs), f"{name}_keep": np.concatenate(keeps),
            f"{name}_nkept": np.array(nkept)}
    return inputs, refs


def test_token_select_kernels(binaries):
    rng = np.random.default_rng(7)
    inputs, refs = {}, {}
    parts = (_head_mean_inputs, _token_mean_inputs, _keep_inputs, _package_inputs, _topk_inputs,
             _token_select_inputs, lambda g: _token_select_inputs(g, "tsk", topk=True))
    for part in parts:
        i, r = part(rng)
        inputs.update(i)
        refs.update({k if k.startswith(("kp", "ts")) else f"{k}_out": v for k, v in r.items()})
    # token_select_frame (in place, LANES wide) runs the ts / tsk cases: same outputs
    for src, dst in (("ts", "tsf"), ("tsk", "tskf"), ("ts", "tsf1")):
        for part in ("out", "keep", "nkept"):
            refs[f"{dst}_{part}"] = refs[f"{src}_{part}"]
    out = gxx.run_binary(binaries["token_select"], inputs)
    for name, ref in refs.items():
        assert_array_equal(out[name], ref, err_msg=name)


# ----------------------------------------------------------------------------------------------
# language level, warnings, harness
# ----------------------------------------------------------------------------------------------


def test_toolchain_present():
    """g++ and the ap_types headers are required: a missing tool fails here with the fix named."""
    assert Path(gxx.gxx_path()).is_file()
    assert (gxx.ap_types_include_dir() / "ap_int.h").is_file()
    assert (hls_library_dir() / "spvit_linear.h").is_file()


def test_kernels_are_cxx11_and_warning_clean():
    """All drivers (hence every kernel instantiation) pass C++11 semantic checks (Vivado HLS 2020.x
    front ends) with -Wall -Wextra and no warning from hls/ (loop labels and HLS pragmas aside)."""
    from concurrent.futures import ThreadPoolExecutor

    flags = ["-Wall", "-Wextra", "-Wno-unknown-pragmas", "-Wno-unused-label"]
    sources = [DRIVERS / f"{k}_tb.cpp" for k in KERNELS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        logs = list(pool.map(lambda s: gxx.check_syntax(s, std="c++11", extra_flags=flags), sources))
    ours = [line for log in logs for line in log.splitlines()
            if "warning" in line and str(hls_library_dir()) in line or line.startswith("hls/")]
    assert not ours, "\n".join(ours)


def test_harness_cache_run_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("SPVIT_FPGA_BUILD_DIR", str(tmp_path / "build"))
    src = tmp_path / "twice.cpp"
    src.write_text(
        '#include "spvit_tb_io.h"\n'
        "int main(int argc, char** argv) {\n"
        "  const std::string d = spvit_tb::io_dir(argc, argv);\n"
        '  spvit_tb::array_t v = spvit_tb::read_array(d, "x");\n'
        "  for (size_t i = 0; i < v.size(); i++) { if (v[i] == 13) return 7; v[i] *= 2; }\n"
        '  spvit_tb::write_array(d, "y", v);\n'
        "  return 0;\n}\n"
    )
    first = gxx.compile_cpp(src)
    stamp = first.stat().st_mtime_ns
    assert first.parent == tmp_path / "build"
    assert gxx.compile_cpp(src) == first and first.stat().st_mtime_ns == stamp  # cached
    x = np.array([0, -1, 2**62 - 1, -(2**62), 5])
    assert_array_equal(gxx.run_binary(first, {"x": x})["y"], x * 2)
    assert_array_equal(gxx.run_binary(first, {"x": np.zeros(0, np.int64)}, ["y"])["y"], [])
    with pytest.raises(gxx.HlsSimError, match="status 7"):
        gxx.run_binary(first, {"x": [13]})
    with pytest.raises(gxx.HlsSimError, match="did not write output 'z'"):
        gxx.run_binary(first, {"x": [1]}, ["z"])
    with pytest.raises(TypeError):
        gxx.run_binary(first, {"x": np.array([0.5])})
    src.write_text(src.read_text().replace("*= 2", "*= 3"))
    second = gxx.compile_cpp(src)
    assert second != first
    assert_array_equal(gxx.run_binary(second, {"x": [4]})["y"], [12])
    src.write_text("int main() { return undefined_name; }\n")
    with pytest.raises(gxx.HlsSimError, match="undefined_name"):
        gxx.compile_cpp(src)


def test_harness_missing_tools_are_user_errors(tmp_path, monkeypatch):
    from spvit_fpga.errors import UserError

    monkeypatch.setenv("SPVIT_CXX", "no-such-compiler-spvit")
    with pytest.raises(UserError, match="install g\\+\\+"):
        gxx.gxx_path()
    monkeypatch.delenv("SPVIT_CXX")
    monkeypatch.setenv("SPVIT_AP_TYPES_DIR", str(tmp_path))
    with pytest.raises(UserError, match="ap_int.h"):
        gxx.ap_types_include_dir()
    monkeypatch.delenv("SPVIT_AP_TYPES_DIR")
    monkeypatch.setattr(gxx.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install hls4ml"):
        gxx.ap_types_include_dir()
