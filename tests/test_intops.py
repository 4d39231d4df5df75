"""Tests of the integer operator definitions (spvit_fpga.ir.intops).

Exact ops are compared with independent Python-integer / Fraction computations; nonlinear ops
with float64 references and stated error bounds.
"""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from spvit_fpga.ir.intops import (
    DEFAULT_NORM_FMT,
    FixedFormat,
    accumulator_bits,
    exp_table,
    gelu_table,
    int_add,
    int_attention_context,
    int_attention_scores,
    int_gelu,
    int_head_mean,
    int_keep_prob,
    int_layernorm,
    int_linear,
    int_package_token,
    int_rounded_div,
    int_sigmoid,
    int_softmax,
    int_token_mean,
    keep_decision,
    keep_decision_bits,
    layernorm_params,
    prob_format,
    requantize,
    round_shift,
    rsqrt_table,
    saturate,
    sigmoid_table,
)

FAST = settings(max_examples=60, deadline=None)
I8 = FixedFormat(8, 4)


def rne(fr: Fraction) -> int:
    """Independent round-half-to-even of an exact rational (Python's Fraction.__round__)."""
    return round(fr)


def sat(v: int, fmt: FixedFormat) -> int:
    return min(max(v, fmt.min_int), fmt.max_int)


def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def rand_int(fmt: FixedFormat, shape, g: torch.Generator) -> torch.Tensor:
    return torch.randint(fmt.min_int, fmt.max_int + 1, shape, generator=g, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------
# FixedFormat
# ---------------------------------------------------------------------------------------------


def test_fixed_format_ranges():
    assert (FixedFormat(8, 4).min_int, FixedFormat(8, 4).max_int) == (-128, 127)
    assert (FixedFormat(8, 8, False).min_int, FixedFormat(8, 8, False).max_int) == (0, 255)
    assert FixedFormat(16, 8).max_value == 127.99609375
    assert FixedFormat(8, 4).hls_type() == "ap_fixed<8, 4, AP_RND_CONV, AP_SAT>"
    assert FixedFormat(8, 8, False).hls_type() == "ap_ufixed<8, 0, AP_RND_CONV, AP_SAT>"
    with pytest.raises(ValueError):
        FixedFormat(0, 0)


def test_fixed_format_to_int_rounds_half_even_and_saturates():
    f = FixedFormat(8, 1)
    x = torch.tensor([0.25, 0.75, -0.25, -0.75, 1.25, 100.0, -100.0, 63.5, -64.0, 1e30, -1e30])
    # x*2 = 0.5, 1.5, -0.5, -1.5, 2.5 -> 0, 2, -0, -2, 2 ; saturate to [-128, 127]
    assert f.to_int(x).tolist() == [0, 2, 0, -2, 2, 127, -128, 127, -128, 127, -128]
    q = torch.arange(-128, 128)
    assert torch.equal(f.to_int(f.to_float(q)), q)


def test_fixed_format_covering():
    f = FixedFormat.covering(3.0, 8)
    assert f.frac == 5 and f.max_value < 4.0 <= 2 * f.max_value
    assert FixedFormat.covering(4.0, 8).frac == 5
    assert FixedFormat.covering(0.9, 8, signed=False).frac == 8


# ---------------------------------------------------------------------------------------------
# Rounding, saturation, division
# ---------------------------------------------------------------------------------------------


@FAST
@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=20), st.integers(-8, 40))
def test_round_shift_matches_fraction(xs, shift):
    got = round_shift(torch.tensor(xs), shift).tolist()
    assert got == [rne(Fraction(v) / Fraction(2) ** shift) for v in xs]


@FAST
@given(st.lists(st.tuples(st.integers(-(2**30), 2**30), st.integers(-6, 30)), min_size=1, max_size=20))
def test_round_shift_tensor_shift_matches_fraction(pairs):
    xs = torch.tensor([p[0] for p in pairs])
    ss = torch.tensor([p[1] for p in pairs])
    assert round_shift(xs, ss).tolist() == [rne(Fraction(v) / Fraction(2) ** s) for v, s in pairs]


def test_round_shift_ties_and_torch_round():
    x = torch.arange(-64, 65)
    for s in range(0, 5):
        ref = torch.round(x.to(torch.float64) / 2**s).to(torch.int64)  # exact rationals
        assert torch.equal(round_shift(x, s), ref)
    assert round_shift(torch.tensor([2, 6, -2, -6, 3, -3]), 2).tolist() == [0, 2, 0, -2, 1, -1]
    assert round_shift(torch.tensor([3, -3]), -2).tolist() == [12, -12]


def test_saturate_and_requantize_extremes():
    f = FixedFormat(8, 0)
    acc = torch.tensor([2**40, -(2**40), 127 * 16 + 8, 127 * 16 + 7, -128 * 16 - 8, -128 * 16 - 9])
    assert saturate(acc, f).tolist() == [127, -128, 127, 127, -128, -128]
    # 127.5 -> 128 (even) -> saturates; 127.4375 -> 127; -128.5 -> -128; -128.5625 -> sat -128
    assert requantize(acc, 4, f).tolist() == [127, -128, 127, 127, -128, -128]
    u = FixedFormat(8, 8, False)
    assert saturate(torch.tensor([-5, 300]), u).tolist() == [0, 255]


@FAST
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=20),
    st.integers(1, 2**20),
)
def test_rounded_div_matches_fraction(nums, den):
    got = int_rounded_div(torch.tensor(nums), den).tolist()
    assert got == [rne(Fraction(n, den)) for n in nums]


@FAST
@given(st.lists(st.integers(-(2**30), 2**30), min_size=1, max_size=20), st.integers(0, 20))
def test_rounded_div_by_power_of_two_is_round_shift(nums, s):
    x = torch.tensor(nums)
    assert torch.equal(int_rounded_div(x, 2**s), round_shift(x, s))


def test_rounded_div_rejects_nonpositive_den():
    with pytest.raises(ValueError):
        int_rounded_div(torch.tensor([1]), 0)


# ---------------------------------------------------------------------------------------------
# Linear, accumulators, residual add
# ---------------------------------------------------------------------------------------------


def py_linear(x, w, b):
    return [[sum(xi * wi for xi, wi in zip(row, wrow)) + (b[o] if b is not None else 0) for o, wrow in enumerate(w)] for row in x]


@FAST
@given(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 40), st.integers(1, 8), st.integers(-3, 14))
def test_int_linear_matches_python_ints(seed, n, fan_in, out, shift):
    g = gen(seed)
    x = rand_int(FixedFormat(8, 0), (n, fan_in), g)
    w = rand_int(FixedFormat(8, 0), (out, fan_in), g)
    b = rand_int(FixedFormat(20, 0), (out,), g)
    of = FixedFormat(8, 0)
    y = int_linear(x, w, b, shift=shift, out_fmt=of)
    ref = py_linear(x.tolist(), w.tolist(), b.tolist())
    assert y.tolist() == [[sat(rne(Fraction(v) / Fraction(2) ** shift), of) for v in row] for row in ref]
    acc = int_linear(x, w, b, shift=0, out_fmt=None)
    assert acc.tolist() == ref


def test_int_linear_fused_residual():
    g = gen(1)
    x = rand_int(FixedFormat(8, 5), (5, 12), g)
    w = rand_int(FixedFormat(8, 7), (6, 12), g)
    b = rand_int(FixedFormat(16, 12), (6,), g)
    r = rand_int(FixedFormat(16, 8), (5, 6), g)
    of = FixedFormat(16, 8)
    y = int_linear(x, w, b, shift=4, out_fmt=of, residual=r, residual_align=4)
    ref = py_linear(x.tolist(), w.tolist(), b.tolist())
    exp = [[sat(rne(Fraction(v + rr * 16, 16)), of) for v, rr in zip(row, rrow)] for row, rrow in zip(ref, r.tolist())]
    assert y.tolist() == exp


def test_accumulator_bits_values():
    assert accumulator_bits(8, 8, 1) == 16  # 16384 needs 16 bits signed
    assert accumulator_bits(8, 8, 768) == 25  # 768*2^14 = 12582912 < 2^24 -> 25 bits
    assert accumulator_bits(8, 8, 3072) == 27
    assert accumulator_bits(8, 8, 3072, bias_bits=32) == 33
    assert accumulator_bits(8, 8, 2**17 - 1) == 32
    assert accumulator_bits(8, 8, 2**17) == 33  # 2^17 * 2^14 = 2^31 does not fit 32 bits
    assert accumulator_bits(8, 8, 2**16, bias_bits=30) == 32  # the DEFAULT_ACC_BITS claim
    assert accumulator_bits(8, 8, 197, in_signed=False) == 24  # uint8 probs x int8 V


@pytest.mark.parametrize("fan_in", [1, 192, 768, 3072, 2**16, 2**17])
def test_accumulator_width_worst_case_does_not_overflow(fan_in):
    bits = accumulator_bits(8, 8, fan_in, bias_bits=24)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    # worst positive: all (-128)*(-128) plus max bias; worst negative: all (-128)*127 plus min bias
    x = torch.full((1, fan_in), -128, dtype=torch.int64)
    w_pos = torch.full((1, fan_in), -128, dtype=torch.int64)
    w_neg = torch.full((1, fan_in), 127, dtype=torch.int64)
    top = int(int_linear(x, w_pos, torch.tensor([2**23 - 1]), shift=0, out_fmt=None))
    bot = int(int_linear(x, w_neg, torch.tensor([-(2**23)]), shift=0, out_fmt=None))
    assert top == fan_in * 2**14 + 2**23 - 1 and bot == -fan_in * 128 * 127 - 2**23
    assert lo <= bot and top <= hi
    # and the width is minimal: one bit less cannot hold the worst case
    assert not (-(2 ** (bits - 2)) <= bot and top <= 2 ** (bits - 2) - 1)
    # every partial sum stays in range too (all terms of one sign)
    assert fan_in * 2**14 <= hi


def test_default_acc_width_covers_deit_layers():
    for fan_in in (16 * 16 * 3, 192, 384, 768, 3072):
        assert accumulator_bits(8, 8, fan_in, bias_bits=28) <= 32


@FAST
@given(st.integers(0, 2**31), st.integers(-4, 12), st.integers(-4, 12), st.integers(-4, 12))
def test_int_add_matches_fraction(seed, fa, fb, fo):
    g = gen(seed)
    a = rand_int(FixedFormat(16, fa), (30,), g)
    b = rand_int(FixedFormat(8, fb), (30,), g)
    of = FixedFormat(16, fo)
    y = int_add(a, b, a_frac=fa, b_frac=fb, out_fmt=of)
    exp = [
        sat(rne((Fraction(x) / Fraction(2) ** fa + Fraction(z) / Fraction(2) ** fb) * Fraction(2) ** fo), of)
        for x, z in zip(a.tolist(), b.tolist())
    ]
    assert y.tolist() == exp


def test_int_add_saturates():
    f = FixedFormat(8, 0)
    y = int_add(torch.tensor([127, -128]), torch.tensor([127, -128]), a_frac=0, b_frac=0, out_fmt=f)
    assert y.tolist() == [127, -128]


def test_attention_products_match_python():
    g = gen(3)
    q = rand_int(FixedFormat(8, 5), (2, 7, 4), g)
    k = rand_int(FixedFormat(8, 5), (2, 7, 4), g)
    s = int_attention_scores(q, k, shift=7, out_fmt=I8)
    for h in range(2):
        for i in range(7):
            for j in range(7):
                dot = sum(a * b for a, b in zip(q[h, i].tolist(), k[h, j].tolist()))
                assert int(s[h, i, j]) == sat(rne(Fraction(dot, 2**7)), I8)
    p = int_softmax(s, in_fmt=I8)
    v = rand_int(FixedFormat(8, 5), (2, 7, 4), g)
    o = int_attention_context(p, v, shift=8, out_fmt=FixedFormat(8, 5))
    for h in range(2):
        for i in range(7):
            for c in range(4):
                dot = sum(a * b for a, b in zip(p[h, i].tolist(), v[h, :, c].tolist()))
                assert int(o[h, i, c]) == sat(rne(Fraction(dot, 2**8)), FixedFormat(8, 5))


# ---------------------------------------------------------------------------------------------
# Softmax
# ---------------------------------------------------------------------------------------------


def test_exp_table_contents():
    t = exp_table(I8)
    assert t.numel() == 256 and int(t[0]) == 2**15 and int(t.max()) < 2**16
    assert all(int(t[k]) == round(2**15 * math.exp(-k / 16)) for k in range(256))
    assert bool((t[1:] <= t[:-1]).all())
    assert exp_table(FixedFormat(12, 4)).numel() == 1024


def softmax_bound(p_bits: int, n: int, exp_frac: int = 15) -> float:
    # per-element rounding (1/2) + effect of the table's rounding (<= 1/2 per entry) on E_j / S
    return 0.5 + 2**p_bits * (n + 1) / (2 * (2**exp_frac - 0.5)) + 1e-9


@FAST
@given(st.integers(0, 2**31), st.integers(1, 200), st.sampled_from([8, 10]), st.integers(2, 6))
def test_softmax_accuracy_and_sum(seed, n, p_bits, frac):
    g = gen(seed)
    fin = FixedFormat(8, frac)
    x = rand_int(fin, (4, n), g)
    x[1] = x[1] // 8  # narrower rows
    x[2] = fin.max_int  # all equal
    x[3, 0] = fin.max_int
    x[3, 1:] = fin.min_int  # one dominant
    pf = prob_format(p_bits)
    p = int_softmax(x, in_fmt=fin, prob_fmt=pf)
    assert p.dtype == torch.int64 and int(p.min()) >= 0 and int(p.max()) <= pf.max_int
    ref = torch.softmax(fin.to_float(x, torch.float64), dim=-1) * 2**p_bits
    err = (p.to(torch.float64) - ref.clamp(max=pf.max_int)).abs()
    assert float(err.max()) <= softmax_bound(p_bits, n)
    # rounding of n terms whose exact sum is 2^P (saturation can remove one more LSB)
    assert int((p.sum(-1) - 2**p_bits).abs().max()) <= (n + 1) // 2 + 1


def test_softmax_edge_rows():
    # a single token gets all the mass (saturated to 2^bits - 1)
    assert int_softmax(torch.tensor([[37]]), in_fmt=I8).tolist() == [[255]]
    assert int_softmax(torch.tensor([[-128]]), in_fmt=I8, prob_fmt=prob_format(10)).tolist() == [[1023]]
    # uniform row
    assert int_softmax(torch.tensor([[5, 5, 5, 5]]), in_fmt=I8).tolist() == [[64, 64, 64, 64]]
    # shift invariance
    x = torch.tensor([[3, -7, 20, 0]])
    assert torch.equal(int_softmax(x, in_fmt=I8), int_softmax(x - 30, in_fmt=I8))
    # empty input
    assert int_softmax(torch.zeros(0, 3, dtype=torch.int64), in_fmt=I8).shape == (0, 3)
    with pytest.raises(ValueError):
        int_softmax(torch.tensor([[200]]), in_fmt=I8)


# ---------------------------------------------------------------------------------------------
# GELU, sigmoid tables
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fin", [FixedFormat(8, 4), FixedFormat(8, 5), FixedFormat(8, 2)])
@pytest.mark.parametrize("fout", [FixedFormat(8, 4), FixedFormat(8, 5), FixedFormat(16, 10)])
def test_gelu_table_within_half_lsb(fin, fout):
    t = gelu_table(fin, fout)
    assert t.numel() == 256
    xs = torch.arange(fin.min_int, fin.max_int + 1)
    ref = F.gelu(fin.to_float(xs, torch.float64)) * 2**fout.frac
    inside = (ref >= fout.min_int) & (ref <= fout.max_int)
    assert float((t.to(torch.float64) - ref)[inside].abs().max()) <= 0.5 + 1e-9
    assert bool((t[~inside] == ref[~inside].clamp(fout.min_int, fout.max_int).round().to(torch.int64)).all())
    assert torch.equal(int_gelu(xs, in_fmt=fin, out_fmt=fout), t)
    # index mapping: entry i is for input min_int + i (sign bit inverted)
    assert int(int_gelu(torch.tensor([0]), in_fmt=fin, out_fmt=fout)) == int(t[128]) == 0


@pytest.mark.parametrize("fin", [FixedFormat(8, 4), FixedFormat(8, 3), FixedFormat(9, 4)])
@pytest.mark.parametrize("fout", [FixedFormat(8, 8, False), FixedFormat(10, 10, False), FixedFormat(8, 6)])
def test_sigmoid_table_within_half_lsb(fin, fout):
    t = sigmoid_table(fin, fout)
    assert t.numel() == 2**fin.bits
    xs = torch.arange(fin.min_int, fin.max_int + 1)
    ref = torch.sigmoid(fin.to_float(xs, torch.float64)) * 2**fout.frac
    inside = ref <= fout.max_int
    assert float((t.to(torch.float64) - ref)[inside].abs().max()) <= 0.5 + 1e-9
    assert bool((t[~inside] == fout.max_int).all())
    assert torch.equal(int_sigmoid(xs, in_fmt=fin, out_fmt=fout), t)
    assert bool((t[1:] >= t[:-1]).all())


def test_tables_are_deterministic_integers():
    a = gelu_table(FixedFormat(8, 4), FixedFormat(8, 4))
    b = gelu_table(FixedFormat(8, 4), FixedFormat(8, 4))
    assert a.dtype == torch.int64 and torch.equal(a, b)
    with pytest.raises(ValueError):
        gelu_table(FixedFormat(12, 4), FixedFormat(8, 4))


# ---------------------------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------------------------


def float_layernorm(x, g, b, fin, gf, nf, eps):
    return F.layer_norm(
        fin.to_float(x, torch.float64),
        (x.shape[-1],),
        gf.to_float(g, torch.float64),
        b.to(torch.float64) * 2.0 ** -(gf.frac + nf.frac),
        eps,
    )


@pytest.mark.parametrize("channels", [16, 64, 192, 768])
@pytest.mark.parametrize("fin", [FixedFormat(8, 4), FixedFormat(16, 8)])
def test_layernorm_accuracy(channels, fin):
    g = gen(channels + fin.bits)
    rows = 300
    scale = torch.rand(rows, 1, generator=g, dtype=torch.float64) * 2 ** (fin.bits - 3)
    off = torch.randn(rows, 1, generator=g, dtype=torch.float64) * 2 ** (fin.bits - 5)
    x = (torch.randn(rows, channels, generator=g, dtype=torch.float64) * scale + off).round()
    x = x.clamp(fin.min_int, fin.max_int).to(torch.int64)
    gf, of = FixedFormat(8, 6), FixedFormat(8, 4)
    gamma = rand_int(gf, (channels,), g)
    beta = rand_int(FixedFormat(16, 16), (channels,), g)
    y = int_layernorm(x, gamma, beta, in_fmt=fin, gamma_fmt=gf, out_fmt=of)
    ref = float_layernorm(x, gamma, beta, fin, gf, DEFAULT_NORM_FMT, 1e-6) * 2**of.frac
    err = (y.to(torch.float64) - ref.clamp(of.min_int, of.max_int)).abs()
    assert float(err.max()) < 0.65  # rounding 0.5 + < 0.15 LSB from the rsqrt table
    correctly_rounded = of.to_int(ref * 2.0**-of.frac)
    assert int((y - correctly_rounded).abs().max()) <= 1
    assert float((y != correctly_rounded).to(torch.float64).mean()) < 0.02


def test_layernorm_degenerate_rows():
    fin, gf, of = FixedFormat(16, 8), FixedFormat(8, 6), FixedFormat(8, 4)
    gamma = torch.full((8,), 64)
    beta = torch.arange(8) * 1000
    x = torch.full((2, 8), 1234)
    x[1] = fin.min_int
    y = int_layernorm(x, gamma, beta, in_fmt=fin, gamma_fmt=gf, out_fmt=of)
    exp = round_shift(beta, gf.frac + DEFAULT_NORM_FMT.frac - of.frac)
    assert torch.equal(y, exp.expand(2, 8))
    # a single channel: d = 0, output = beta
    y1 = int_layernorm(torch.tensor([[77]]), torch.tensor([64]), torch.tensor([0]), in_fmt=fin, gamma_fmt=gf, out_fmt=of)
    assert y1.tolist() == [[0]]
    # eps = 0 and a constant row: V == 0 is defined as n = 0
    y2 = int_layernorm(x, gamma, beta, in_fmt=fin, gamma_fmt=gf, out_fmt=of, eps=0.0)
    assert torch.equal(y2, exp.expand(2, 8))


@pytest.mark.parametrize("channels,fin", [(192, FixedFormat(8, 4)), (768, FixedFormat(16, 8)), (7, FixedFormat(16, 0))])
def test_layernorm_widths_hold_worst_case(channels, fin):
    p = layernorm_params(channels, fin, 1e-6)
    half = channels // 2
    x = torch.tensor([[fin.max_int] * half + [fin.min_int] * (channels - half)])
    s = int(x.sum())
    d = channels * x - s
    v = int((d * d).sum()) + p.eps_int
    assert -(2 ** (p.sum_bits - 1)) <= s < 2 ** (p.sum_bits - 1)
    xd = torch.tensor([[fin.max_int] + [fin.min_int] * (channels - 1)])
    dmax = int((channels * xd - xd.sum()).abs().max())
    assert dmax < 2 ** (p.dev_bits - 1)
    assert v < 2**p.var_bits
    # normalised value is bounded by sqrt(C - 1) < norm range for these C
    y = int_layernorm(x, torch.tensor([64] * channels), None, in_fmt=fin, gamma_fmt=FixedFormat(8, 6), out_fmt=FixedFormat(16, 8))
    ref = F.layer_norm(fin.to_float(x, torch.float64), (channels,), eps=1e-6) * 256
    assert float((y.to(torch.float64) - ref).abs().max()) < 1.0


def test_rsqrt_table_contents():
    t, r = rsqrt_table(192, 10, 16)
    assert t.numel() == 768 and int(t.max()) < 2**16 and int(t.max()) >= 2**15
    for j in (0, 1, 100, 767):
        assert int(t[j]) == round(2**r * math.sqrt(192) / math.sqrt(256 + j + 0.5))
    t8, _ = rsqrt_table(64, 8, 16)
    assert t8.numel() == 192


# ---------------------------------------------------------------------------------------------
# Token selector pieces
# ---------------------------------------------------------------------------------------------


@FAST
@given(st.integers(0, 2**31), st.sampled_from([1, 2, 3, 4]), st.sampled_from([1, 3, 8]), st.integers(-3, 3))
def test_head_mean_matches_fraction(seed, heads, dh, dfrac):
    g = gen(seed)
    fin = FixedFormat(16, 8)
    of = FixedFormat(8, 8 + dfrac - 4)
    x = rand_int(fin, (5, heads * dh), g)
    y = int_head_mean(x, num_heads=heads, in_frac=fin.frac, out_fmt=of)
    for t in range(5):
        for h in range(heads):
            sl = x[t, h * dh:(h + 1) * dh].tolist()
            exp = sat(rne(Fraction(sum(sl), dh) * Fraction(2) ** (of.frac - fin.frac)), of)
            assert int(y[t, h]) == exp


@FAST
@given(st.integers(0, 2**31), st.integers(0, 9), st.integers(-2, 2))
def test_token_mean_matches_fraction(seed, n, dfrac):
    g = gen(seed)
    fin = FixedFormat(8, 4)
    of = FixedFormat(8, 4 + dfrac)
    x = rand_int(fin, (2, n, 6), g)
    live = torch.rand(2, n, generator=g) < 0.6
    y = int_token_mean(x, in_frac=4, out_fmt=of, live=live)
    for b in range(2):
        rows = [x[b, j].tolist() for j in range(n) if bool(live[b, j])]
        for c in range(6):
            if not rows:
                assert int(y[b, c]) == 0
            else:
                exp = Fraction(sum(r[c] for r in rows), len(rows)) * Fraction(2) ** dfrac
                assert int(y[b, c]) == sat(rne(exp), of)
    # physically removed tokens: zero tokens -> 0
    assert int_token_mean(torch.zeros(0, 6, dtype=torch.int64), in_frac=4, out_fmt=of).tolist() == [0] * 6


def test_keep_prob_matches_fraction():
    g = gen(5)
    wf, df, sf, pf = FixedFormat(8, 8, False), FixedFormat(8, 4), FixedFormat(8, 8, False), FixedFormat(8, 8, False)
    w = rand_int(wf, (40, 3), g)
    w[0] = 0  # zero total weight -> equal weights
    d = rand_int(df, (40, 3), g)
    p = int_keep_prob(w, d, w_fmt=wf, delta_fmt=df, sig_fmt=sf, out_fmt=pf)
    tab = sigmoid_table(df, sf).tolist()
    for t in range(40):
        sig = [tab[v - df.min_int] for v in d[t].tolist()]
        ws = w[t].tolist()
        if sum(ws) == 0:
            exp = rne(Fraction(sum(sig), 3))
        else:
            exp = rne(Fraction(sum(a * b for a, b in zip(ws, sig)), sum(ws)))
        assert int(p[t]) == sat(exp, pf)


def test_keep_decision():
    w = torch.tensor([[255, 0, 10], [0, 0, 0], [1, 1, 1]])
    d = torch.tensor([[-1, 100, 25], [5, 5, 5], [-3, 1, 1]])
    # sums: -255 + 250 = -5 ; 0 ; -1
    assert keep_decision(w, d, 0).tolist() == [False, True, False]
    assert keep_decision(w, d, -5).tolist() == [True, True, True]
    assert keep_decision(w, d, torch.tensor(-1)).tolist() == [False, True, True]
    bits = keep_decision_bits(FixedFormat(8, 8, False), FixedFormat(8, 4), 12)
    worst = 12 * 255 * -128
    assert -(2 ** (bits - 1)) <= worst and 12 * 255 * 127 < 2 ** (bits - 1)


@FAST
@given(st.integers(0, 2**31), st.integers(1, 12))
def test_package_token_matches_fraction(seed, n):
    g = gen(seed)
    xf, pf = FixedFormat(16, 8), FixedFormat(8, 8, False)
    x = rand_int(xf, (n, 5), g)
    p = rand_int(pf, (n,), g)
    pruned = torch.rand(n, generator=g) < 0.5
    y = int_package_token(x, p, pruned=pruned)
    idx = [j for j in range(n) if bool(pruned[j])]
    for c in range(5):
        if not idx:
            exp = 0
        elif sum(int(p[j]) for j in idx) == 0:
            exp = rne(Fraction(sum(int(x[j, c]) for j in idx), len(idx)))
        else:
            exp = rne(Fraction(sum(int(p[j]) * int(x[j, c]) for j in idx), sum(int(p[j]) for j in idx)))
        assert int(y[c]) == exp
        if idx:
            assert min(int(x[j, c]) for j in idx) <= int(y[c]) <= max(int(x[j, c]) for j in idx)


def test_package_token_edge_cases():
    x = torch.tensor([[100, -7], [3, 9], [-20, 20]])
    # nothing pruned -> zeros
    assert int_package_token(x, torch.tensor([5, 5, 5]), pruned=torch.tensor([False] * 3)).tolist() == [0, 0]
    assert int_package_token(x[:0], torch.tensor([], dtype=torch.int64)).tolist() == [0, 0]
    # a single pruned token -> itself (any p, also p = 0)
    assert int_package_token(x[:1], torch.tensor([0])).tolist() == [100, -7]
    assert int_package_token(x[:1], torch.tensor([200])).tolist() == [100, -7]
    # all pruned with zero weights -> plain mean (RNE): (83/3 -> 28, 22/3 -> 7)
    assert int_package_token(x, torch.tensor([0, 0, 0])).tolist() == [28, 7]
    # batched
    xb = torch.stack([x, x])
    pr = torch.tensor([[True, False, True], [False, False, False]])
    yb = int_package_token(xb, torch.tensor([[1, 9, 3], [1, 1, 1]]), pruned=pr)
    # (100 - 60)/4 = 10 ; (-7 + 60)/4 = 13.25 -> 13
    assert yb.tolist() == [[10, 13], [0, 0]]


def test_layernorm_one_pass_variance_identity():
    # hardware may accumulate S = sum x and Q = sum x^2 in one pass: sum (C x - S)^2 == C (C Q - S^2)
    g = gen(11)
    for c, fin in ((192, FixedFormat(16, 8)), (7, FixedFormat(8, 4))):
        x = rand_int(fin, (50, c), g)
        s = x.sum(-1)
        q = (x * x).sum(-1)
        v = ((c * x - s.unsqueeze(-1)) ** 2).sum(-1)
        assert torch.equal(v, c * (c * q - s * s))


def test_float64_matmul_path_is_exact():
    from spvit_fpga.ir.intops import _exact_matmul

    g = gen(9)
    a = rand_int(FixedFormat(8, 0), (3, 5, 3072), g)
    b = rand_int(FixedFormat(8, 0), (3072, 7), g)
    a[0, 0] = -128
    b[:, 0] = -128
    assert torch.equal(_exact_matmul(a, b, use_float64=True), torch.matmul(a, b))
    with pytest.raises(ValueError):
        _exact_matmul(torch.tensor([[2**40]]), torch.tensor([[2**20]]), use_float64=True)
