"""Property tests of the fake-quant QAT ops (spvit_fpga.quant.qat_ops).

For every op: on-grid float inputs give exactly ``intops(integers) * 2**-frac`` (torch.equal),
off-grid inputs give the same as their quantised values, and gradients exist and are finite.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spvit_fpga.ir import intops as I
from spvit_fpga.ir.intops import FixedFormat, prob_format
from spvit_fpga.quant import qat_ops as Q

PROP = settings(max_examples=25, deadline=None)
MODES = st.sampled_from(["random", "min", "max", "extremes", "zero"])
SEEDS = st.integers(0, 2**31 - 1)

A8 = FixedFormat(8, 5)
W8 = FixedFormat(8, 7)
R16 = FixedFormat(16, 8)


def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def ints(fmt: FixedFormat, shape, g: torch.Generator, mode: str = "random") -> torch.Tensor:
    if mode == "min":
        return torch.full(shape, fmt.min_int, dtype=torch.int64)
    if mode == "max":
        return torch.full(shape, fmt.max_int, dtype=torch.int64)
    if mode == "zero":
        return torch.zeros(shape, dtype=torch.int64)
    if mode == "extremes":
        pick = torch.randint(0, 2, shape, generator=g).bool()
        return torch.where(pick, torch.tensor(fmt.max_int), torch.tensor(fmt.min_int))
    return torch.randint(fmt.min_int, fmt.max_int + 1, shape, generator=g, dtype=torch.int64)


def on_grid(q: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    return (q.to(torch.float32) * 2.0**-fmt.frac).requires_grad_(True)


def deq(q: torch.Tensor, frac: int) -> torch.Tensor:
    return q.to(torch.float32) * 2.0**-frac


def off_grid(x: torch.Tensor, fmt: FixedFormat, g: torch.Generator) -> torch.Tensor:
    """Perturb by less than half an LSB (and push some values out of range)."""
    noise = (torch.rand(x.shape, generator=g) - 0.5) * 0.98 * fmt.scale
    out = x.detach() + noise
    return out.requires_grad_(True)


def check_grads(y: torch.Tensor, *inputs: torch.Tensor, seed: int = 0) -> None:
    g = gen(seed)
    w = torch.randn(y.shape, generator=g)
    (y * w).sum().backward()
    for t in inputs:
        assert t.grad is not None, "missing gradient"
        assert bool(torch.isfinite(t.grad).all()), "non-finite gradient"


# ---------------------------------------------------------------------------------------------


@PROP
@given(SEEDS, MODES)
def test_fake_quant(seed, mode):
    g = gen(seed)
    q = ints(A8, (3, 17), g, mode)
    x = on_grid(q, A8)
    y = Q.fake_quant(x, A8)
    assert torch.equal(y, deq(q, A8.frac)) and torch.equal(y, x.detach())
    check_grads(y, x)
    xo = off_grid(x, A8, g)
    assert torch.equal(Q.fake_quant(xo, A8), deq(A8.to_int(xo.detach()), A8.frac))


def test_fake_quant_ste_gradient_mask():
    x = torch.tensor([-5.0, -4.0, 0.3, 3.96875, 4.5], requires_grad=True)
    y = Q.fake_quant(x, A8)
    y.sum().backward()
    assert y.tolist() == [-4.0, -4.0, 0.3125, 3.96875, 3.96875]
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


@PROP
@given(SEEDS, MODES, st.integers(1, 40), st.booleans(), st.booleans())
def test_q_linear(seed, mode, fan_in, with_bias, with_res):
    g = gen(seed)
    of = FixedFormat(8, 3)
    xq = ints(A8, (2, 5, fan_in), g, mode)
    wq = ints(W8, (6, fan_in), g, mode)
    bfmt = FixedFormat(32, A8.frac + W8.frac)
    bq = ints(FixedFormat(20, 0), (6,), g, mode) if with_bias else None
    rq = ints(R16, (2, 5, 6), g, mode) if with_res else None
    out_fmt = R16 if with_res else of
    x, w = on_grid(xq, A8), on_grid(wq, W8)
    b = on_grid(bq, bfmt) if with_bias else None
    r = on_grid(rq, R16) if with_res else None
    y = Q.q_linear(x, w, b, in_fmt=A8, w_fmt=W8, out_fmt=out_fmt, residual=r, residual_fmt=R16 if with_res else None)
    ref = I.int_linear(
        xq, wq, bq, shift=A8.frac + W8.frac - out_fmt.frac, out_fmt=out_fmt,
        residual=rq, residual_align=A8.frac + W8.frac - R16.frac,
    )
    assert torch.equal(y, deq(ref, out_fmt.frac))
    check_grads(y, *[t for t in (x, w, b, r) if t is not None])
    # off-grid inputs behave like their quantised values
    xo = off_grid(x, A8, g)
    y2 = Q.q_linear(xo, w, b, in_fmt=A8, w_fmt=W8, out_fmt=out_fmt, residual=r, residual_fmt=R16 if with_res else None)
    assert torch.equal(y2, y.detach())


def test_q_linear_raw_accumulator_float64():
    g = gen(7)
    xq, wq = ints(A8, (4, 768), g, "min"), ints(W8, (10, 768), g, "min")
    x = (xq.to(torch.float64) * 2.0**-A8.frac).requires_grad_(True)
    w = (wq.to(torch.float64) * 2.0**-W8.frac).requires_grad_(True)
    y = Q.q_linear(x, w, None, in_fmt=A8, w_fmt=W8, out_fmt=None)
    acc = I.int_linear(xq, wq, None, shift=0, out_fmt=None)
    assert y.dtype == torch.float64
    assert torch.equal(y, acc.to(torch.float64) * 2.0 ** -(A8.frac + W8.frac))
    check_grads(y, x, w)


@PROP
@given(SEEDS, MODES, st.integers(1, 12), st.sampled_from([8, 10]))
def test_q_attention(seed, mode, n, p_bits):
    g = gen(seed)
    sf = FixedFormat(8, 4)
    pf = prob_format(p_bits)
    qq, kq, vq = (ints(A8, (2, n, 8), g, mode) for _ in range(3))
    q, k, v = on_grid(qq, A8), on_grid(kq, A8), on_grid(vq, A8)
    s = Q.q_attention_scores(q, k, q_fmt=A8, k_fmt=A8, out_fmt=sf)
    s_int = I.int_attention_scores(qq, kq, shift=2 * A8.frac - sf.frac, out_fmt=sf)
    assert torch.equal(s, deq(s_int, sf.frac))
    p = Q.q_softmax(s, in_fmt=sf, prob_fmt=pf)
    p_int = I.int_softmax(s_int, in_fmt=sf, prob_fmt=pf)
    assert torch.equal(p, deq(p_int, pf.frac))
    o = Q.q_attention_context(p, v, p_fmt=pf, v_fmt=A8, out_fmt=A8)
    o_int = I.int_attention_context(p_int, vq, shift=pf.frac, out_fmt=A8)
    assert torch.equal(o, deq(o_int, A8.frac))
    check_grads(o, q, k, v)


@PROP
@given(SEEDS, MODES, st.integers(-2, 10), st.integers(-2, 10))
def test_q_add(seed, mode, fb, fo):
    g = gen(seed)
    bf, of = FixedFormat(8, fb), FixedFormat(16, fo)
    aq, bq = ints(R16, (4, 9), g, mode), ints(bf, (4, 9), g, mode)
    a, b = on_grid(aq, R16), on_grid(bq, bf)
    y = Q.q_add(a, b, a_fmt=R16, b_fmt=bf, out_fmt=of)
    assert torch.equal(y, deq(I.int_add(aq, bq, a_frac=R16.frac, b_frac=fb, out_fmt=of), fo))
    check_grads(y, a, b)


@PROP
@given(SEEDS, MODES, st.integers(1, 30), st.sampled_from([8, 10]), st.integers(2, 6))
def test_q_softmax(seed, mode, n, p_bits, frac):
    g = gen(seed)
    sf, pf = FixedFormat(8, frac), prob_format(p_bits)
    xq = ints(sf, (3, n), g, mode)
    x = on_grid(xq, sf)
    y = Q.q_softmax(x, in_fmt=sf, prob_fmt=pf)
    assert torch.equal(y, deq(I.int_softmax(xq, in_fmt=sf, prob_fmt=pf), pf.frac))
    check_grads(y, x)
    assert torch.equal(Q.q_softmax(off_grid(x, sf, g), in_fmt=sf, prob_fmt=pf), y.detach())


@PROP
@given(SEEDS, MODES, st.sampled_from([FixedFormat(8, 4), FixedFormat(8, 5), FixedFormat(16, 10)]))
def test_q_gelu_sigmoid(seed, mode, of):
    g = gen(seed)
    fin = FixedFormat(8, 4)
    xq = ints(fin, (5, 13), g, mode)
    x = on_grid(xq, fin)
    y = Q.q_gelu(x, in_fmt=fin, out_fmt=of)
    assert torch.equal(y, deq(I.int_gelu(xq, in_fmt=fin, out_fmt=of), of.frac))
    check_grads(y, x)
    x2 = on_grid(xq, fin)
    sf = FixedFormat(8, 8, False)
    z = Q.q_sigmoid(x2, in_fmt=fin, out_fmt=sf)
    assert torch.equal(z, deq(I.int_sigmoid(xq, in_fmt=fin, out_fmt=sf), sf.frac))
    check_grads(z, x2)
    assert torch.equal(Q.q_gelu(off_grid(x, fin, g), in_fmt=fin, out_fmt=of), y.detach())


def test_q_gelu_full_table():
    fin, of = FixedFormat(8, 4), FixedFormat(8, 5)
    xq = torch.arange(-128, 128)
    x = on_grid(xq, fin)
    y = Q.q_gelu(x, in_fmt=fin, out_fmt=of)
    assert torch.equal(y, deq(I.gelu_table(fin, of), of.frac))
    check_grads(y, x)


@PROP
@given(SEEDS, MODES, st.sampled_from([8, 48, 192]), st.sampled_from([FixedFormat(8, 4), R16]))
def test_q_layernorm(seed, mode, channels, fin):
    g = gen(seed)
    gf, of = FixedFormat(8, 6), FixedFormat(8, 4)
    bfmt = FixedFormat(32, gf.frac + I.DEFAULT_NORM_FMT.frac)
    xq = ints(fin, (3, channels), g, mode)
    gq = ints(gf, (channels,), g, "random")
    bq = ints(FixedFormat(18, 0), (channels,), g, "random")
    x, gm, b = on_grid(xq, fin), on_grid(gq, gf), on_grid(bq, bfmt)
    y = Q.q_layernorm(x, gm, b, in_fmt=fin, gamma_fmt=gf, out_fmt=of)
    ref = I.int_layernorm(xq, gq, bq, in_fmt=fin, gamma_fmt=gf, out_fmt=of)
    assert torch.equal(y, deq(ref, of.frac))
    check_grads(y, x, gm, b)
    assert torch.equal(Q.q_layernorm(off_grid(x, fin, g), gm, b, in_fmt=fin, gamma_fmt=gf, out_fmt=of), y.detach())


@PROP
@given(SEEDS, MODES, st.sampled_from([1, 2, 3, 4]), st.integers(0, 6))
def test_q_selector_means(seed, mode, heads, n):
    g = gen(seed)
    of = FixedFormat(8, 4)
    xq = ints(R16, (2, n, heads * 4), g, mode)
    x = on_grid(xq, R16)
    hm = Q.q_head_mean(x, num_heads=heads, in_fmt=R16, out_fmt=of)
    assert torch.equal(hm, deq(I.int_head_mean(xq, num_heads=heads, in_frac=R16.frac, out_fmt=of), of.frac))
    live = torch.rand(2, n, generator=g) < 0.5
    x2 = on_grid(xq, R16)
    tm = Q.q_token_mean(x2, in_fmt=R16, out_fmt=of, live=live)
    assert torch.equal(tm, deq(I.int_token_mean(xq, in_frac=R16.frac, out_fmt=of, live=live), of.frac))
    if n:
        check_grads(hm, x)
        check_grads(tm, x2)


@PROP
@given(SEEDS, MODES, st.sampled_from([1, 3, 6]))
def test_q_keep_prob_and_decision(seed, mode, heads):
    g = gen(seed)
    wf, df, sf, pf = FixedFormat(8, 8, False), FixedFormat(8, 4), FixedFormat(8, 8, False), FixedFormat(8, 8, False)
    wq, dq = ints(wf, (7, heads), g, mode), ints(df, (7, heads), g, mode)
    wq[0] = 0
    w, d = on_grid(wq, wf), on_grid(dq, df)
    p = Q.q_keep_prob(w, d, w_fmt=wf, delta_fmt=df, sig_fmt=sf, out_fmt=pf)
    ref = I.int_keep_prob(wq, dq, w_fmt=wf, delta_fmt=df, sig_fmt=sf, out_fmt=pf)
    assert torch.equal(p, deq(ref, pf.frac))
    check_grads(p, w, d)
    tau = 0.75
    keep = Q.q_keep_decision(w, d, tau, w_fmt=wf, delta_fmt=df)
    assert torch.equal(keep, I.keep_decision(wq, dq, round(tau * 2 ** (wf.frac + df.frac))))


@PROP
@given(SEEDS, MODES, st.integers(0, 9))
def test_q_package_token(seed, mode, n):
    g = gen(seed)
    pf = FixedFormat(8, 8, False)
    xq = ints(R16, (2, n, 6), g, mode)
    pq = ints(pf, (2, n), g, mode)
    pruned = torch.rand(2, n, generator=g) < 0.5
    x, p = on_grid(xq, R16), on_grid(pq, pf)
    y = Q.q_package_token(x, p, x_fmt=R16, p_fmt=pf, pruned=pruned)
    assert torch.equal(y, deq(I.int_package_token(xq, pq, pruned=pruned), R16.frac))
    if n:
        check_grads(y, x, p)


def test_q_package_token_zero_weights_gradients_finite():
    x = torch.randn(4, 5, requires_grad=True)
    p = torch.zeros(4, requires_grad=True)
    y = Q.q_package_token(x, p, x_fmt=R16, p_fmt=FixedFormat(8, 8, False))
    assert torch.equal(y, deq(I.int_package_token(R16.to_int(x.detach()), torch.zeros(4, dtype=torch.int64)), 8))
    check_grads(y, x, p)


def test_q_ops_keep_dtype_and_no_grad_inputs():
    x = torch.randn(3, 8, dtype=torch.float64)
    y = Q.q_gelu(x, in_fmt=FixedFormat(8, 4), out_fmt=FixedFormat(8, 4))
    assert y.dtype == torch.float64 and not y.requires_grad
    with pytest.raises(ValueError):
        Q.q_linear(x, torch.randn(2, 8), None, in_fmt=A8, w_fmt=W8, out_fmt=A8, residual=torch.zeros(3, 2))


def test_surrogate_gradients_are_float_derivatives():
    fin = FixedFormat(8, 4)
    xq = torch.arange(-40, 40)
    x = on_grid(xq, fin)
    Q.q_gelu(x, in_fmt=fin, out_fmt=FixedFormat(16, 10)).sum().backward()
    xr = x.detach().clone().requires_grad_(True)
    torch.nn.functional.gelu(xr).sum().backward()
    assert torch.allclose(x.grad, xr.grad)
    # linear: STE gradient equals the float linear's gradient when nothing saturates
    g = gen(2)
    xi, wi = ints(A8, (3, 6), g, "random") // 4, ints(W8, (2, 6), g, "random") // 4
    x1, w1 = on_grid(xi, A8), on_grid(wi, W8)
    Q.q_linear(x1, w1, None, in_fmt=A8, w_fmt=W8, out_fmt=FixedFormat(16, 8)).sum().backward()
    x2, w2 = on_grid(xi, A8), on_grid(wi, W8)
    torch.nn.functional.linear(x2, w2).sum().backward()
    assert torch.equal(x1.grad, x2.grad) and torch.equal(w1.grad, w2.grad)


def test_block_chain_matches_integer_pipeline():
    """A pre-norm transformer block + selector pieces chained in QAT == the integer chain."""
    g = gen(21)
    n, c, heads = 9, 16, 2
    dh = c // heads
    res, act, wf, sf = R16, FixedFormat(8, 4), FixedFormat(8, 6), FixedFormat(8, 3)
    gf, pf = FixedFormat(8, 6), prob_format(8)
    xq = ints(res, (n, c), g)
    gq, bq = ints(gf, (c,), g), ints(FixedFormat(16, 0), (c,), g)
    wqkv, bqkv = ints(wf, (3 * c, c), g), ints(FixedFormat(16, 0), (3 * c,), g)
    wo, bo = ints(wf, (c, c), g), ints(FixedFormat(16, 0), (c,), g)
    # integer chain
    h = I.int_layernorm(xq, gq, bq, in_fmt=res, gamma_fmt=gf, out_fmt=act)
    qkv = I.int_linear(h, wqkv, bqkv, shift=act.frac + wf.frac - act.frac, out_fmt=act)
    q_, k_, v_ = (t.reshape(n, heads, dh).transpose(0, 1) for t in qkv.split(c, dim=-1))
    s = I.int_attention_scores(q_, k_, shift=2 * act.frac - sf.frac, out_fmt=sf)
    p = I.int_softmax(s, in_fmt=sf, prob_fmt=pf)
    o = I.int_attention_context(p, v_, shift=pf.frac, out_fmt=act).transpose(0, 1).reshape(n, c)
    y_int = I.int_linear(o, wo, bo, shift=act.frac + wf.frac - res.frac, out_fmt=res,
                         residual=xq, residual_align=act.frac + wf.frac - res.frac)
    # QAT chain on floats
    bfmt = FixedFormat(32, act.frac + wf.frac)
    x = on_grid(xq, res)
    gm, b = on_grid(gq, gf), on_grid(bq, FixedFormat(32, gf.frac + I.DEFAULT_NORM_FMT.frac))
    w1, b1, w2, b2 = on_grid(wqkv, wf), on_grid(bqkv, bfmt), on_grid(wo, wf), on_grid(bo, bfmt)
    hf = Q.q_layernorm(x, gm, b, in_fmt=res, gamma_fmt=gf, out_fmt=act)
    qkvf = Q.q_linear(hf, w1, b1, in_fmt=act, w_fmt=wf, out_fmt=act)
    qf, kf, vf = (t.reshape(n, heads, dh).transpose(0, 1) for t in qkvf.split(c, dim=-1))
    sfl = Q.q_attention_scores(qf, kf, q_fmt=act, k_fmt=act, out_fmt=sf)
    pfl = Q.q_softmax(sfl, in_fmt=sf, prob_fmt=pf)
    of = Q.q_attention_context(pfl, vf, p_fmt=pf, v_fmt=act, out_fmt=act).transpose(0, 1).reshape(n, c)
    yf = Q.q_linear(of, w2, b2, in_fmt=act, w_fmt=wf, out_fmt=res, residual=x, residual_fmt=res)
    assert torch.equal(yf, deq(y_int, res.frac))
    # selector pieces on the block output
    u = Q.q_head_mean(yf, num_heads=heads, in_fmt=res, out_fmt=act)
    assert torch.equal(u, deq(I.int_head_mean(y_int, num_heads=heads, in_frac=res.frac, out_fmt=act), act.frac))
    w_h = Q.q_sigmoid(u, in_fmt=act, out_fmt=pf)
    pk = Q.q_keep_prob(w_h, u, w_fmt=pf, delta_fmt=act, sig_fmt=pf, out_fmt=pf)
    keep = Q.q_keep_decision(w_h, u, 0.0, w_fmt=pf, delta_fmt=act)
    pkg = Q.q_package_token(yf, pk, x_fmt=res, p_fmt=pf, pruned=~keep)
    w_int = I.int_sigmoid(I.int_head_mean(y_int, num_heads=heads, in_frac=res.frac, out_fmt=act), in_fmt=act, out_fmt=pf)
    u_int = I.int_head_mean(y_int, num_heads=heads, in_frac=res.frac, out_fmt=act)
    pk_int = I.int_keep_prob(w_int, u_int, w_fmt=pf, delta_fmt=act, sig_fmt=pf, out_fmt=pf)
    keep_int = I.keep_decision(w_int, u_int, 0)
    assert torch.equal(keep, keep_int)
    assert torch.equal(pkg, deq(I.int_package_token(y_int, pk_int, pruned=~keep_int), res.frac))
    check_grads(pkg.sum() + yf.sum(), x, gm, b, w1, b1, w2, b2)
