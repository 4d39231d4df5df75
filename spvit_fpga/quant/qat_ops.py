"""Fake-quant autograd versions of the integer operators, for quantisation-aware training.

Every function here

* quantises each float input onto its fixed-point grid (round half to even, saturate; exact and
  an identity when the input is already on the grid),
* runs the integer definition from :mod:`spvit_fpga.ir.intops`,
* returns ``integer_result * 2**-frac`` as a float tensor of the input's dtype (float32 by
  default).  The value is exact whenever ``|integer_result| < 2**24`` (float32); wider results
  (raw classifier accumulators) are correctly rounded to float32; pass float64 inputs when an
  exact value of a wide accumulator is needed.

Backward passes use a float surrogate of the same op, differentiated with autograd:

* input quantisers are straight-through: gradient 1 inside the representable range, 0 where
  the input saturates (the derivative of the clamp); rounding is ignored;
* linear layers, matrix products and adds pass the float op's gradient (weights and bias also
  straight-through);
* nonlinearities (softmax, GELU, sigmoid, LayerNorm, the weighted averages) use the float op's
  derivative evaluated at the quantised input;
* output saturation is the derivative of a clamp: 0 where the float surrogate lies outside the
  output range.

So the forward pass is exactly what the hardware computes and the gradient is the usual STE.

:class:`spvit_fpga.quant.QuantSPViT` uses these for the integer nonlinearities (LayerNorm,
softmax, GELU / sigmoid tables, the selector's means, keep probability and package token) and the
position embedding's quantiser; its linear layers, attention products and plain requantisations
run through the Brevitas layers of :mod:`spvit_fpga.quant.brevitas_layers`, which give the same
integers as :func:`q_linear` / :func:`q_matmul` (tests/test_brevitas_qat.py).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from ..ir import intops
from ..ir.intops import (
    DEFAULT_ACC_BITS,
    DEFAULT_EXP_FRAC,
    DEFAULT_NORM_FMT,
    DEFAULT_PROB_BITS,
    DEFAULT_RSQRT_MANT_BITS,
    DEFAULT_RSQRT_TABLE_BITS,
    FixedFormat,
    prob_format,
    tau_to_int,  # re-exported: the contract's threshold rounding moved to intops
)

__all__ = [
    "fake_quant",
    "ste_quant",
    "q_linear",
    "q_matmul",
    "q_attention_scores",
    "q_attention_context",
    "q_add",
    "q_softmax",
    "q_gelu",
    "q_sigmoid",
    "q_layernorm",
    "q_head_mean",
    "q_token_mean",
    "q_keep_prob",
    "q_keep_decision",
    "q_package_token",
    "tau_to_int",
]


# --------------------------------------------------------------------------------------------
# Generic machinery
# --------------------------------------------------------------------------------------------


def _float_dtype(*tensors: Optional[torch.Tensor]) -> torch.dtype:
    for t in tensors:
        if t is not None and torch.is_floating_point(t):
            return t.dtype
    return torch.float32


class _IntegerForward(torch.autograd.Function):
    """Forward: ``forward_fn(*inputs)`` (the exact integer op, dequantised).
    Backward: vector-Jacobian product of ``surrogate_fn(*inputs)`` (a float op)."""

    @staticmethod
    def forward(ctx, forward_fn: Callable, surrogate_fn: Callable, *inputs):  # type: ignore[override]
        ctx.surrogate_fn = surrogate_fn
        ctx.save_for_backward(*inputs)
        with torch.no_grad():
            return forward_fn(*inputs)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        inputs = ctx.saved_tensors
        needs = ctx.needs_input_grad[2:]
        with torch.enable_grad():
            leaves = []
            args = []
            for t, need in zip(inputs, needs):
                if t is not None and need:
                    t = t.detach().requires_grad_(True)
                    leaves.append(t)
                args.append(t)
            if not leaves:
                return (None, None) + tuple(None for _ in inputs)
            y = ctx.surrogate_fn(*args)
            grads = torch.autograd.grad(y, leaves, grad_out, allow_unused=True)
        out = []
        it = iter(grads)
        for t, need in zip(inputs, needs):
            if t is not None and need:
                g = next(it)
                out.append(torch.zeros_like(t) if g is None else g)
            else:
                out.append(None)
        return (None, None) + tuple(out)


def _apply(forward_fn: Callable, surrogate_fn: Callable, *inputs) -> torch.Tensor:
    return _IntegerForward.apply(forward_fn, surrogate_fn, *inputs)


def _q(x: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    """Integer code of a float (or integer) tensor on ``fmt``."""
    return fmt.to_int(x)


def _deq(q: torch.Tensor, frac: int, dtype: torch.dtype) -> torch.Tensor:
    return q.to(dtype) * (2.0 ** (-frac))


def ste_quant(x: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    """Differentiable surrogate of the quantiser (for building surrogates): value on the grid
    (up to float rounding), gradient 1 inside the range and 0 where it saturates."""
    xc = torch.clamp(x, fmt.min_value, fmt.max_value)
    with torch.no_grad():
        grid = _deq(fmt.to_int(x), fmt.frac, x.dtype)
    return xc + (grid - xc).detach()


def _clamp_fmt(y: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    return torch.clamp(y, fmt.min_value, fmt.max_value)


# --------------------------------------------------------------------------------------------
# Quantiser
# --------------------------------------------------------------------------------------------


def fake_quant(x: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    """``fmt.to_int(x) * 2**-frac`` (round half even, saturate); straight-through gradient,
    zero where ``x`` is outside ``[fmt.min_value, fmt.max_value]``."""
    dtype = _float_dtype(x)
    return _apply(
        lambda t: _deq(_q(t, fmt), fmt.frac, dtype),
        lambda t: torch.clamp(t, fmt.min_value, fmt.max_value),
        x,
    )


# --------------------------------------------------------------------------------------------
# Linear layers, products, residual add
# --------------------------------------------------------------------------------------------


def q_linear(
    x: torch.Tensor,
    w: torch.Tensor,
    b: Optional[torch.Tensor] = None,
    *,
    in_fmt: FixedFormat,
    w_fmt: FixedFormat,
    out_fmt: Optional[FixedFormat],
    bias_bits: int = DEFAULT_ACC_BITS,
    residual: Optional[torch.Tensor] = None,
    residual_fmt: Optional[FixedFormat] = None,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_linear`.

    ``x`` -> ``in_fmt``, ``w`` -> ``w_fmt`` (per tensor), ``b`` -> (``bias_bits``, frac
    ``f_x + f_w``), optional ``residual`` -> ``residual_fmt`` added in the accumulator (fused
    epilogue).  ``shift = f_x + f_w - f_out``.  ``out_fmt=None`` returns the accumulator
    (frac ``f_x + f_w``; use float64 inputs for exact wide values).
    """
    acc_frac = in_fmt.frac + w_fmt.frac
    b_fmt = FixedFormat(bias_bits, acc_frac, True)
    if residual is not None and residual_fmt is None:
        raise ValueError("residual_fmt is required with residual")
    out_frac = acc_frac if out_fmt is None else out_fmt.frac
    shift = acc_frac - out_frac
    align = acc_frac - residual_fmt.frac if residual is not None else 0
    dtype = _float_dtype(x, w)

    def fwd(x_, w_, b_, r_):
        y = intops.int_linear(
            _q(x_, in_fmt),
            _q(w_, w_fmt),
            None if b_ is None else _q(b_, b_fmt),
            shift=shift,
            out_fmt=out_fmt,
            residual=None if r_ is None else _q(r_, residual_fmt),
            residual_align=align,
        )
        return _deq(y, out_frac, dtype)

    def sur(x_, w_, b_, r_):
        y = F.linear(ste_quant(x_, in_fmt), ste_quant(w_, w_fmt), None if b_ is None else ste_quant(b_, b_fmt))
        if r_ is not None:
            y = y + ste_quant(r_, residual_fmt)
        return y if out_fmt is None else _clamp_fmt(y, out_fmt)

    return _apply(fwd, sur, x, w, b, residual)


def q_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    a_fmt: FixedFormat,
    b_fmt: FixedFormat,
    out_fmt: FixedFormat,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_matmul` (``a @ b``), ``shift = f_a + f_b - f_out``."""
    shift = a_fmt.frac + b_fmt.frac - out_fmt.frac
    dtype = _float_dtype(a, b)

    def fwd(a_, b_):
        y = intops.int_matmul(_q(a_, a_fmt), _q(b_, b_fmt), shift=shift, out_fmt=out_fmt)
        return _deq(y, out_fmt.frac, dtype)

    def sur(a_, b_):
        return _clamp_fmt(torch.matmul(ste_quant(a_, a_fmt), ste_quant(b_, b_fmt)), out_fmt)

    return _apply(fwd, sur, a, b)


def q_attention_scores(
    q: torch.Tensor, k: torch.Tensor, *, q_fmt: FixedFormat, k_fmt: FixedFormat, out_fmt: FixedFormat
) -> torch.Tensor:
    """Fake-quant scores ``Q @ K^T`` (1/sqrt(d) already folded into Q's projection)."""
    return q_matmul(q, k.transpose(-1, -2), a_fmt=q_fmt, b_fmt=k_fmt, out_fmt=out_fmt)


def q_attention_context(
    p: torch.Tensor, v: torch.Tensor, *, p_fmt: FixedFormat, v_fmt: FixedFormat, out_fmt: FixedFormat
) -> torch.Tensor:
    """Fake-quant ``P @ V`` with unsigned probabilities ``P`` in ``p_fmt``."""
    return q_matmul(p, v, a_fmt=p_fmt, b_fmt=v_fmt, out_fmt=out_fmt)


def q_add(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    a_fmt: FixedFormat,
    b_fmt: FixedFormat,
    out_fmt: FixedFormat,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_add` (residual add with alignment and saturation)."""
    dtype = _float_dtype(a, b)

    def fwd(a_, b_):
        y = intops.int_add(_q(a_, a_fmt), _q(b_, b_fmt), a_frac=a_fmt.frac, b_frac=b_fmt.frac, out_fmt=out_fmt)
        return _deq(y, out_fmt.frac, dtype)

    def sur(a_, b_):
        return _clamp_fmt(ste_quant(a_, a_fmt) + ste_quant(b_, b_fmt), out_fmt)

    return _apply(fwd, sur, a, b)


# --------------------------------------------------------------------------------------------
# Nonlinearities
# --------------------------------------------------------------------------------------------


def q_softmax(
    x: torch.Tensor,
    *,
    in_fmt: FixedFormat,
    prob_fmt: FixedFormat = prob_format(DEFAULT_PROB_BITS),
    exp_frac: int = DEFAULT_EXP_FRAC,
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_softmax` over the last dim; float softmax gradient.

    ``mask`` (optional, broadcastable to ``x``): entries where ``mask > 0.5`` take part (see
    :func:`intops.int_softmax`).  A float mask may carry straight-through gradients of keep
    decisions: the surrogate multiplies the exponentials by it, as the float model's
    ``masked_softmax`` does (DynamicViT style).
    """
    dtype = _float_dtype(x)
    if mask is None:

        def fwd(x_):
            p = intops.int_softmax(_q(x_, in_fmt), in_fmt=in_fmt, prob_fmt=prob_fmt, exp_frac=exp_frac)
            return _deq(p, prob_fmt.frac, dtype)

        def sur(x_):
            return _clamp_fmt(torch.softmax(ste_quant(x_, in_fmt), dim=-1), prob_fmt)

        return _apply(fwd, sur, x)

    mask_f = mask if torch.is_floating_point(mask) else mask.to(dtype)

    def fwd_m(x_, m_):
        p = intops.int_softmax(_q(x_, in_fmt), in_fmt=in_fmt, prob_fmt=prob_fmt, exp_frac=exp_frac, mask=m_ > 0.5)
        return _deq(p, prob_fmt.frac, dtype)

    def sur_m(x_, m_):
        xq = ste_quant(x_, in_fmt)
        allowed = torch.broadcast_to(m_ > 0.5, xq.shape)
        top = xq.masked_fill(~allowed, float("-inf")).amax(-1, keepdim=True).detach()
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
        e = torch.exp((xq - top).clamp(max=0.0)) * m_
        return _clamp_fmt(e / e.sum(-1, keepdim=True).clamp(min=torch.finfo(e.dtype).tiny), prob_fmt)

    return _apply(fwd_m, sur_m, x, mask_f)


def q_gelu(x: torch.Tensor, *, in_fmt: FixedFormat, out_fmt: FixedFormat) -> torch.Tensor:
    """Fake-quant :func:`intops.int_gelu` (table); exact-erf GELU gradient."""
    dtype = _float_dtype(x)

    def fwd(x_):
        return _deq(intops.int_gelu(_q(x_, in_fmt), in_fmt=in_fmt, out_fmt=out_fmt), out_fmt.frac, dtype)

    def sur(x_):
        return _clamp_fmt(F.gelu(ste_quant(x_, in_fmt)), out_fmt)

    return _apply(fwd, sur, x)


def q_sigmoid(x: torch.Tensor, *, in_fmt: FixedFormat, out_fmt: FixedFormat) -> torch.Tensor:
    """Fake-quant :func:`intops.int_sigmoid` (table); sigmoid gradient."""
    dtype = _float_dtype(x)

    def fwd(x_):
        return _deq(intops.int_sigmoid(_q(x_, in_fmt), in_fmt=in_fmt, out_fmt=out_fmt), out_fmt.frac, dtype)

    def sur(x_):
        return _clamp_fmt(torch.sigmoid(ste_quant(x_, in_fmt)), out_fmt)

    return _apply(fwd, sur, x)


def q_layernorm(
    x: torch.Tensor,
    gamma: torch.Tensor,
    beta: Optional[torch.Tensor],
    *,
    in_fmt: FixedFormat,
    gamma_fmt: FixedFormat,
    out_fmt: FixedFormat,
    eps: float = 1e-6,
    mant_bits: int = DEFAULT_RSQRT_MANT_BITS,
    table_bits: int = DEFAULT_RSQRT_TABLE_BITS,
    norm_fmt: FixedFormat = DEFAULT_NORM_FMT,
    beta_bits: int = DEFAULT_ACC_BITS,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_layernorm` over the last dim.

    ``gamma`` -> ``gamma_fmt``; ``beta`` -> (``beta_bits``, frac ``f_g + f_norm``).  Gradient of
    ``F.layer_norm`` at the quantised input/parameters.
    """
    b_fmt = FixedFormat(beta_bits, gamma_fmt.frac + norm_fmt.frac, True)
    dtype = _float_dtype(x)
    c = x.shape[-1]

    def fwd(x_, g_, b_):
        y = intops.int_layernorm(
            _q(x_, in_fmt),
            _q(g_, gamma_fmt),
            None if b_ is None else _q(b_, b_fmt),
            in_fmt=in_fmt,
            gamma_fmt=gamma_fmt,
            out_fmt=out_fmt,
            eps=eps,
            mant_bits=mant_bits,
            table_bits=table_bits,
            norm_fmt=norm_fmt,
        )
        return _deq(y, out_fmt.frac, dtype)

    def sur(x_, g_, b_):
        y = F.layer_norm(
            ste_quant(x_, in_fmt),
            (c,),
            ste_quant(g_, gamma_fmt),
            None if b_ is None else ste_quant(b_, b_fmt),
            eps,
        )
        return _clamp_fmt(y, out_fmt)

    return _apply(fwd, sur, x, gamma, beta)


# --------------------------------------------------------------------------------------------
# Token selector pieces
# --------------------------------------------------------------------------------------------


def q_head_mean(x: torch.Tensor, *, num_heads: int, in_fmt: FixedFormat, out_fmt: FixedFormat) -> torch.Tensor:
    """Fake-quant :func:`intops.int_head_mean`: (..., C) -> (..., H)."""
    dtype = _float_dtype(x)

    def fwd(x_):
        y = intops.int_head_mean(_q(x_, in_fmt), num_heads=num_heads, in_frac=in_fmt.frac, out_fmt=out_fmt)
        return _deq(y, out_fmt.frac, dtype)

    def sur(x_):
        xq = ste_quant(x_, in_fmt)
        return _clamp_fmt(xq.reshape(*xq.shape[:-1], num_heads, -1).mean(dim=-1), out_fmt)

    return _apply(fwd, sur, x)


def q_token_mean(
    x: torch.Tensor,
    *,
    in_fmt: FixedFormat,
    out_fmt: FixedFormat,
    live: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_token_mean`: mean over live tokens, (..., N, C) -> (..., C);
    zero live tokens give 0."""
    dtype = _float_dtype(x)
    if live is None:
        live = torch.ones(x.shape[:-1], dtype=dtype, device=x.device)
    # A float mask in {0, 1} may carry straight-through gradients of earlier keep decisions;
    # the surrogate weights the tokens by it (as the float selector does).  The forward uses
    # ``mask > 0.5`` (straight-through values are 1 +- float rounding, or 0 +- rounding).
    live_f = live if torch.is_floating_point(live) else live.to(dtype)

    def fwd(x_, l_):
        y = intops.int_token_mean(_q(x_, in_fmt), in_frac=in_fmt.frac, out_fmt=out_fmt, live=l_ > 0.5)
        return _deq(y, out_fmt.frac, dtype)

    def sur(x_, l_):
        xq = ste_quant(x_, in_fmt) * l_.unsqueeze(-1)
        cnt = l_.sum(dim=-1, keepdim=True).clamp(min=1.0)
        return _clamp_fmt(xq.sum(dim=-2) / cnt, out_fmt)

    return _apply(fwd, sur, x, live_f)


def q_keep_prob(
    w: torch.Tensor,
    delta: torch.Tensor,
    *,
    w_fmt: FixedFormat,
    delta_fmt: FixedFormat,
    sig_fmt: FixedFormat,
    out_fmt: FixedFormat,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_keep_prob`: ``sum_h w_h sigmoid(delta_h) / sum_h w_h``."""
    dtype = _float_dtype(w, delta)

    def fwd(w_, d_):
        y = intops.int_keep_prob(
            _q(w_, w_fmt), _q(d_, delta_fmt), w_fmt=w_fmt, delta_fmt=delta_fmt, sig_fmt=sig_fmt, out_fmt=out_fmt
        )
        return _deq(y, out_fmt.frac, dtype)

    def sur(w_, d_):
        wq = ste_quant(w_, w_fmt)
        sig = _clamp_fmt(torch.sigmoid(ste_quant(d_, delta_fmt)), sig_fmt)
        wsum = wq.sum(dim=-1)
        weighted = (wq * sig).sum(dim=-1) / wsum.clamp(min=w_fmt.scale)
        uniform = sig.mean(dim=-1)
        return _clamp_fmt(torch.where(wsum > 0, weighted, uniform), out_fmt)

    return _apply(fwd, sur, w, delta)


def q_keep_decision(
    w: torch.Tensor,
    delta: torch.Tensor,
    tau: torch.Tensor | float,
    *,
    w_fmt: FixedFormat,
    delta_fmt: FixedFormat,
) -> torch.Tensor:
    """:func:`intops.keep_decision` on quantised inputs (bool, no gradient).  ``tau`` is a real
    threshold; the integer threshold is ``ceil(tau * 2**(f_w + f_d))`` so that the decision is
    exactly ``score >= tau`` for the real score ``z * 2**-(f_w + f_d)`` (see
    :func:`tau_to_int`)."""
    with torch.no_grad():
        tau_int = tau_to_int(tau, w_fmt.frac + delta_fmt.frac)
        return intops.keep_decision(_q(w, w_fmt), _q(delta, delta_fmt), tau_int)


def q_package_token(
    x: torch.Tensor,
    p: torch.Tensor,
    *,
    x_fmt: FixedFormat,
    p_fmt: FixedFormat,
    pruned: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Fake-quant :func:`intops.int_package_token`: ``sum_j p_j x_j / sum_j p_j`` over pruned
    tokens (..., N, C) -> (..., C) in ``x_fmt``; equal weights if ``sum p == 0``; zeros if
    nothing is pruned."""
    dtype = _float_dtype(x, p)
    if pruned is None:
        pruned = torch.ones(x.shape[:-1], dtype=dtype, device=x.device)
    # A float ``pruned`` in {0, 1} may carry straight-through gradients of the keep decisions
    # (``alive - keep``); the surrogate multiplies the weights by it, like the float model.
    # The forward uses ``pruned > 0.5``.
    pruned_f = pruned if torch.is_floating_point(pruned) else pruned.to(dtype)

    def fwd(x_, p_, m_):
        y = intops.int_package_token(_q(x_, x_fmt), _q(p_, p_fmt), pruned=m_ > 0.5)
        return _deq(y, x_fmt.frac, dtype)

    def sur(x_, p_, m_):
        m = m_
        xq = ste_quant(x_, x_fmt)
        pq = ste_quant(p_, p_fmt) * m
        psum = pq.sum(dim=-1, keepdim=True)
        cnt = m.sum(dim=-1, keepdim=True)
        weighted = (pq.unsqueeze(-1) * xq).sum(dim=-2) / psum.clamp(min=p_fmt.scale)
        uniform = (m.unsqueeze(-1) * xq).sum(dim=-2) / cnt.clamp(min=1.0)
        out = torch.where(psum > 0, weighted, uniform)
        return torch.where(cnt > 0, out, torch.zeros_like(out))

    return _apply(fwd, sur, x, p, pruned_f)
