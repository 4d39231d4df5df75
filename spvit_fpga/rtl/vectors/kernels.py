"""Test vectors for the RTL kernels: random and edge-case inputs with the expected outputs
computed by :mod:`spvit_fpga.ir.intops` (the integer contract).

Each ``<kernel>_vectors`` function returns ``(parameters, vectors)``: the Verilog parameters of
the build and a JSON-serialisable dict for the cocotb testbench (``rtl_sim/tb_<kernel>.py``),
which only drives inputs and compares integers.  Table contents (GELU, exp, rsqrt) come from the
intops table builders and are written as ``$readmemh`` files by :func:`spvit_fpga.rtl.runner.write_memh`.
"""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ...ir import intops
from ...ir.intops import FixedFormat
from .. import pack as rtlpack
from ..bits import pack
from ..runner import sv_string, sv_unsigned, write_memh

Params = Dict[str, Any]
Vectors = Dict[str, Any]


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def _range(bits: int, signed: bool) -> Tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


# --------------------------------------------------------------------------------------------
# requant
# --------------------------------------------------------------------------------------------


def requant_edge_inputs(in_w: int, in_signed: bool, shift: int, out_fmt: FixedFormat) -> List[int]:
    """Inputs that hit every branch of round-half-even and saturation."""
    lo, hi = _range(in_w, in_signed)
    vals = {lo, hi, 0, 1, -1, lo + 1, hi - 1}
    if shift > 0:
        half = 1 << (shift - 1)
        for k in (-5, -4, -3, -2, -1, 0, 1, 2, 3, 4):
            base = k << shift
            for off in (half - 1, half, half + 1, 0, (1 << shift) - 1):
                vals.add(base + off)
    # values that land exactly on / just beyond the output range after the shift
    for edge in (out_fmt.min_int, out_fmt.max_int):
        for d in (-1, 0, 1):
            target = edge + d
            v = target << shift if shift >= 0 else target >> (-shift)
            for off in ((-(1 << (shift - 1)), 0, (1 << (shift - 1)) - 1, 1 << (shift - 1)) if shift > 0 else (0,)):
                vals.add(v + off)
    return sorted(v for v in vals if lo <= v <= hi)


def requant_var_vectors(
    *, seed: int = 0, in_w: int = 24, sh_min: int = -6, sh_max: int = 30, out_w: int = 12,
    out_signed: bool = True, count: int = 800,
) -> Tuple[Params, Vectors]:
    """(x, sh) pairs over the whole shift range, with ties and saturation edges for each shift."""
    rng = random.Random(seed)
    out_fmt = FixedFormat(out_w, 0, out_signed)
    pairs: List[Tuple[int, int]] = []
    for sh in range(sh_min, sh_max + 1):
        pairs += [(x, sh) for x in requant_edge_inputs(in_w, True, sh, out_fmt)]
    lo, hi = _range(in_w, True)
    while len(pairs) < count:
        bits = rng.randint(1, in_w - 1)
        x = rng.getrandbits(bits) * rng.choice((1, -1))
        pairs.append((min(max(x, lo), hi), rng.randint(sh_min, sh_max)))
    x = [a for a, _ in pairs]
    sh = [b for _, b in pairs]
    y = intops.requantize(_t(x), _t(sh), out_fmt).tolist()
    params = dict(IN_W=in_w, SH_W=8, SH_MIN=sh_min, SH_MAX=sh_max, OUT_W=out_w, OUT_SIGNED=int(out_signed))
    return params, dict(params=params, x=x, sh=sh, y=y)


def requant_vectors(
    *,
    seed: int = 0,
    lanes: int = 4,
    in_w: int = 32,
    in_signed: bool = True,
    shift: int = 9,
    out_w: int = 8,
    out_signed: bool = True,
    count: int = 600,
) -> Tuple[Params, Vectors]:
    """Edge inputs (ties of both parities, saturation boundaries, range limits) and random
    values of every magnitude through intops.requantize; LANES values a beat."""
    rng = random.Random(seed)
    out_fmt = FixedFormat(out_w, 0, out_signed)
    lo, hi = _range(in_w, in_signed)
    xs = requant_edge_inputs(in_w, in_signed, shift, out_fmt)
    # random values at every magnitude (uniform over bit lengths, not over the range)
    while len(xs) < count:
        bits = rng.randint(1, in_w - (1 if in_signed else 0))
        v = rng.getrandbits(bits)
        if in_signed and rng.random() < 0.5:
            v = -v - rng.randint(0, 1)
        xs.append(min(max(v, lo), hi))
    while len(xs) % lanes:
        xs.append(0)
    y = intops.requantize(_t(xs), shift, out_fmt).tolist()
    params = dict(LANES=lanes, IN_W=in_w, IN_SIGNED=int(in_signed), SHIFT=shift, OUT_W=out_w, OUT_SIGNED=int(out_signed))
    return params, dict(params=params, x=xs, y=y)


# --------------------------------------------------------------------------------------------
# tables (GELU, sigmoid)
# --------------------------------------------------------------------------------------------


def table_contents(kind: str, in_fmt: FixedFormat, out_fmt: FixedFormat) -> List[int]:
    """Entries of an intops function table (entry ``i`` for input ``min_int + i``)."""
    builders = {"gelu": intops.gelu_table, "sigmoid": intops.sigmoid_table}
    return builders[kind](in_fmt, out_fmt).tolist()


def table_memfile(kind: str, in_fmt: FixedFormat, out_fmt: FixedFormat):
    return write_memh(table_contents(kind, in_fmt, out_fmt), out_fmt.bits, name=f"{kind}_table")


def table_vectors(
    *,
    kind: str = "gelu",
    in_fmt: FixedFormat = FixedFormat(8, 5),
    out_fmt: FixedFormat = FixedFormat(8, 5),
    lanes: int = 2,
    seed: int = 0,
    repeats: int = 2,
) -> Tuple[Params, Vectors]:
    """Every table input (shuffled, ``repeats`` times) through ``int_gelu``/``int_sigmoid``."""
    rng = random.Random(seed)
    xs: List[int] = []
    for _ in range(repeats):
        block = list(range(in_fmt.min_int, in_fmt.max_int + 1))
        rng.shuffle(block)
        xs += block
    while len(xs) % lanes:
        xs.append(in_fmt.min_int)
    fn = {"gelu": intops.int_gelu, "sigmoid": intops.int_sigmoid}[kind]
    y = fn(_t(xs), in_fmt=in_fmt, out_fmt=out_fmt).tolist()
    params = dict(
        LANES=lanes,
        IN_W=in_fmt.bits,
        IN_SIGNED=int(in_fmt.signed),
        OUT_W=out_fmt.bits,
        INIT_FILE=sv_string(table_memfile(kind, in_fmt, out_fmt)),
    )
    return params, dict(params={**params, "OUT_SIGNED": int(out_fmt.signed)}, x=xs, y=y)


# --------------------------------------------------------------------------------------------
# divider
# --------------------------------------------------------------------------------------------


def divider_vectors(
    *,
    seed: int = 0,
    num_w: int = 24,
    signed: bool = True,
    den_w: int = 12,
    q_w: int = 14,
    steps: int = 3,
    count: int = 400,
) -> Tuple[Params, Vectors]:
    """Random and edge-case (num, den) with ``|num| < den * 2**q_w``; y = int_rounded_div."""
    rng = random.Random(seed)
    nlo, nhi = _range(num_w, signed)
    dmax = (1 << den_w) - 1

    def ok(n: int, d: int) -> bool:
        return 1 <= d <= dmax and nlo <= n <= nhi and abs(n) < d << q_w

    pairs: List[Tuple[int, int]] = []
    for d in (1, 2, 3, 4, 7, 8, dmax - 1, dmax, 1 << (den_w - 1)):
        lim = min((d << q_w) - 1, nhi)
        cands = [0, 1, lim, lim - 1, d // 2, d, (d + 1) // 2, 3 * d // 2, d * 5 // 2]
        if signed:
            cands += [-c for c in cands] + [max(nlo, -lim)]
        pairs += [(n, d) for n in cands if ok(n, d)]
    # exact ties x.5 with even and odd integer parts, both signs
    for _ in range(60):
        d = 2 * rng.randint(1, dmax // 2)
        k = rng.randint(0, min((d << q_w) - 1, nhi) // d - 1)
        n = k * d + d // 2
        if signed and rng.random() < 0.5:
            n = -n
        if ok(n, d):
            pairs.append((n, d))
    while len(pairs) < count:
        d = rng.choice([rng.randint(1, dmax), rng.randint(1, 16)])
        lim = min((d << q_w) - 1, nhi)
        n = rng.randint(-lim if signed else 0, lim)
        if ok(n, d):
            pairs.append((n, d))
    rng.shuffle(pairs)
    num = [n for n, _ in pairs]
    den = [d for _, d in pairs]
    y = intops.int_rounded_div(_t(num), _t(den)).tolist()
    params = dict(NUM_W=num_w, SIGNED=int(signed), DEN_W=den_w, Q_W=q_w, STEPS=steps, USER_W=8)
    out_w = q_w + (2 if signed else 1)
    user = [rng.randrange(256) for _ in pairs]
    last = [int(rng.random() < 0.2) for _ in pairs]
    return params, dict(params={**params, "OUT_W": out_w}, num=num, den=den, y=y, user=user, last=last)


# --------------------------------------------------------------------------------------------
# GEMM (int_linear with requantising epilogue)
# --------------------------------------------------------------------------------------------


def _gemm_layer_beats(x, w, b, r, pe: int, simd: int, fmt: Dict[str, Any], last_token_flag: bool = True):
    """Beats of one layer: tokens n, output groups g, input beats kb (the order spvit_gemm eats)."""
    n_tok, k = x.shape
    m = w.shape[0]
    beats = {"s_axis_x": [], "s_axis_w": [], "s_axis_b": [], "s_axis_r": []}
    for n in range(n_tok):
        for g in range(m // pe):
            for kb in range(k // simd):
                xs = x[n, kb * simd:(kb + 1) * simd].tolist()
                ws = [int(w[g * pe + p, kb * simd + s_]) for p in range(pe) for s_ in range(simd)]
                last = int(kb == k // simd - 1)
                user = int(last and g == m // pe - 1 and last_token_flag)
                beats["s_axis_x"].append([pack(xs, fmt["X_W"]), last, user])
                beats["s_axis_w"].append([pack(ws, fmt["W_W"]), 0, 0])
            if b is not None:
                beats["s_axis_b"].append([pack(b[g * pe:(g + 1) * pe].tolist(), fmt["BIAS_W"]), 0, 0])
            if r is not None:
                beats["s_axis_r"].append([pack(r[n, g * pe:(g + 1) * pe].tolist(), fmt["RES_W"]), 0, 0])
    return beats


def gemm_vectors(
    *,
    seed: int = 0,
    pe: int = 4,
    simd: int = 8,
    x_signed: bool = True,
    has_bias: bool = True,
    has_res: bool = False,
    res_w: int = 16,
    res_align: int = 0,
    shift: int = 8,
    out_w: int = 8,
    out_signed: bool = True,
    table: Optional[str] = "gelu",
    table_fmt: Tuple[int, int] = (8, 4),   # (bits, frac) of the table output; input frac 4
    layers: Sequence[Tuple[int, int, int]] = ((5, 64, 12), (3, 16, 8), (2, 8, 4)),
    w_bits: int = 8,
    bias_bits: int = 32,
    acc_bits: int = 32,
) -> Tuple[Params, Vectors]:
    """Several layers ``(tokens, K, M)`` in one stream (K is a run-time quantity), plus an
    extreme layer (all -128 / 127 / max-magnitude activations and weights) and a layer whose
    outputs are all exact .5 ties before rounding.  Expected: intops.int_linear (+ int_gelu).
    ``res_align`` may be negative (the accumulator is shifted instead, intops §2.1)."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    x_w, w_w, acc_w, bias_w = 8, w_bits, acc_bits, bias_bits
    xlo, xhi = _range(x_w, x_signed)
    wlo, whi = _range(w_w, True)
    out_fmt = FixedFormat(out_w, 4, out_signed)
    tfmt = FixedFormat(table_fmt[0], table_fmt[1], True) if table else None
    params: Params = dict(
        PE=pe, SIMD=simd, X_W=x_w, X_SIGNED=int(x_signed), W_W=w_w, W_SIGNED=1, ACC_W=acc_w,
        HAS_BIAS=int(has_bias), BIAS_W=bias_w, HAS_RES=int(has_res), RES_W=res_w,
        RES_ALIGN=res_align, SHIFT=shift, OUT_W=out_w, OUT_SIGNED=int(out_signed),
        HAS_TABLE=int(table is not None),
    )
    if table:
        params["TABLE_W"] = tfmt.bits
        params["TABLE_FILE"] = sv_string(table_memfile(table, out_fmt, tfmt))
    y_w = tfmt.bits if table else out_w
    y_signed = tfmt.signed if table else out_signed

    cases = []
    for (n_tok, k, m) in layers:
        x = torch.randint(xlo, xhi + 1, (n_tok, k), generator=g)
        w = torch.randint(wlo, whi + 1, (m, k), generator=g)
        cases.append((x, w))
    # extremes: the largest accumulations of both signs
    k, m = 64, 2 * pe
    x = torch.stack([torch.full((k,), xlo), torch.full((k,), xhi), torch.randint(xlo, xhi + 1, (k,), generator=g)])
    w = torch.stack([torch.full((k,), wlo), torch.full((k,), whi)] * pe)
    cases.append((x, w))
    layers_out = []
    for x, w in cases:
        m, k = w.shape
        if has_bias:
            b = torch.randint(-(1 << (shift + 6)), 1 << (shift + 6), (m,), generator=g)
            b[0] = (1 << (bias_w - 1)) - 1 if rng.random() < 0.5 else 12345
            b[-1] = -(1 << (bias_w - 1)) if rng.random() < 0.5 else -54321
        else:
            b = None
        r = torch.randint(-(1 << (res_w - 1)), 1 << (res_w - 1), (x.shape[0], m), generator=g) if has_res else None
        layers_out.append((x, w, b, r))
    # ties: one token, bias chosen so every pre-rounding value is (2t+1) * 2^(shift-1)
    # (with a negative res_align: (2t+1) * 2^(shift-1-res_align), the residual a multiple of
    # 2^-res_align)
    if has_bias and shift > 0:
        k, m = simd, 2 * pe
        x = torch.randint(xlo, xhi + 1, (1, k), generator=g)
        w = torch.randint(wlo, whi + 1, (m, k), generator=g)
        t = torch.arange(m) - m // 2
        if has_res and res_align < 0:
            kk = torch.randint(-50, 50, (1, m), generator=g)
            r = kk << (-res_align)
            b = (2 * t + 1) * (1 << (shift - 1)) - (x @ w.T)[0] - kk[0]
        else:
            r = torch.randint(-(1 << (res_w - 1)), 1 << (res_w - 1), (1, m), generator=g) if has_res else None
            dot = (x @ w.T)[0] + ((r[0] << res_align) if has_res else 0)
            b = (2 * t + 1) * (1 << (shift - 1)) - dot
        layers_out.append((x, w, b, r))

    inputs: Dict[str, List] = {"s_axis_x": [], "s_axis_w": [], "s_axis_b": [], "s_axis_r": []}
    outputs: List = []
    for x, w, b, r in layers_out:
        y = intops.int_linear(x, w, b, shift=shift, out_fmt=out_fmt, residual=r, residual_align=res_align)
        if table == "gelu":
            y = intops.int_gelu(y, in_fmt=out_fmt, out_fmt=tfmt)
        beats = _gemm_layer_beats(x, w, b, r, pe, simd, params)
        for key in inputs:
            inputs[key] += beats[key]
        m = w.shape[0]
        for n in range(x.shape[0]):
            for gi in range(m // pe):
                outputs.append([pack(y[n, gi * pe:(gi + 1) * pe].tolist(), y_w), int(gi == m // pe - 1), 0])
    inputs = {k_: v for k_, v in inputs.items() if v}
    vec = dict(
        params=params,
        inputs=inputs,
        outputs={"m_axis": outputs},
        lanes={"m_axis": [y_w, pe, int(y_signed)]},
    )
    return params, vec


# --------------------------------------------------------------------------------------------
# softmax
# --------------------------------------------------------------------------------------------


def softmax_vectors(
    *,
    seed: int = 0,
    in_fmt: FixedFormat = FixedFormat(8, 4),
    p_bits: int = 8,
    n_max: int = 64,
    div_steps: int = 3,
    random_rows: int = 12,
) -> Tuple[Params, Vectors]:
    """Rows of length 1..n_max (random and edge-case) through intops.int_softmax."""
    rng = random.Random(seed)
    lo, hi = in_fmt.min_int, in_fmt.max_int
    rows: List[List[int]] = [
        [rng.randint(lo, hi)],                      # one element: 2^P saturates to 2^P - 1
        [hi, lo],                                   # all mass on one element
        [5, 5],                                     # exact halves
        [0] * 3,                                    # thirds
        [lo] * n_max,                               # longest row, all equal
        [hi] + [lo] * (n_max - 1),                  # largest k everywhere else (table tail)
        [rng.randint(lo, hi) for _ in range(n_max)],
        [rng.choice((hi, hi - 1, hi - 16)) for _ in range(7)],
    ]
    for _ in range(random_rows):
        n = rng.randint(1, n_max)
        centre = rng.randint(lo, hi)
        spread = rng.choice((2, 8, 32, 255))
        rows.append([min(max(centre + rng.randint(-spread, spread), lo), hi) for _ in range(n)])
    x_beats, y_beats = [], []
    for row in rows:
        p = intops.int_softmax(_t(row), in_fmt=in_fmt, prob_fmt=intops.prob_format(p_bits)).tolist()
        for j, (xv, pv) in enumerate(zip(row, p)):
            last = int(j == len(row) - 1)
            x_beats.append([xv & ((1 << in_fmt.bits) - 1), last, 0])
            y_beats.append([pv, last, 0])
    table = intops.exp_table(in_fmt).tolist()
    params = dict(
        IN_W=in_fmt.bits,
        N_MAX=n_max,
        P_W=p_bits,
        EXP_W=16,
        EXP_DEPTH=len(table),
        EXP_FILE=sv_string(write_memh(table, 16, name="exp_table")),
        DIV_STEPS=div_steps,
    )
    vec = dict(params=params, inputs={"s_axis": x_beats}, outputs={"m_axis": y_beats}, rows=len(rows))
    return params, vec


# --------------------------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------------------------


def layernorm_vectors(
    *,
    seed: int = 0,
    channels: int = 64,
    in_fmt: FixedFormat = FixedFormat(16, 8),
    gamma_fmt: FixedFormat = FixedFormat(8, 6),
    out_fmt: FixedFormat = FixedFormat(8, 4),
    eps: float = 1e-6,
    random_tokens: int = 8,
    lanes: int = 1,
    overlap: bool = False,
) -> Tuple[Params, Vectors]:
    """Tokens through intops.int_layernorm: constant tokens (V = eps_int, or 0 with eps = 0),
    a single non-zero channel (small V: negative k), alternating extremes (largest V), random
    tokens of several scales; per-token random gamma / beta (some beta at the 32-bit limits).
    ``lanes`` channels a beat (x, {beta, gamma} and y beats of ``lanes`` values), ``overlap`` the
    kernel's OVERLAP (receive of the next token during the normalise pass)."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    c = channels
    lp = intops.layernorm_params(c, in_fmt, eps)
    norm = intops.DEFAULT_NORM_FMT
    lo, hi = in_fmt.min_int, in_fmt.max_int
    tokens: List[torch.Tensor] = [
        torch.full((c,), 37),
        torch.zeros(c, dtype=torch.int64),
        torch.tensor([0] * (c - 1) + [1]),
        torch.tensor([lo, hi] * (c // 2) + [lo] * (c % 2)),
        torch.full((c,), lo),
        torch.randint(lo, hi + 1, (c,), generator=g),
    ]
    for _ in range(random_tokens):
        scale = 1 << rng.randint(0, in_fmt.bits - 1)
        centre = rng.randint(lo // 2, hi // 2)
        t = torch.randint(-scale, scale + 1, (c,), generator=g) + centre
        tokens.append(t.clamp(lo, hi))
    beta_bits = 32
    x_beats, gb_beats, y_beats = [], [], []
    for i, x in enumerate(tokens):
        gamma = torch.randint(gamma_fmt.min_int, gamma_fmt.max_int + 1, (c,), generator=g)
        beta = torch.randint(-(1 << 19), 1 << 19, (c,), generator=g)
        if i == 0:
            beta[0], beta[1] = (1 << (beta_bits - 1)) - 1, -(1 << (beta_bits - 1))
        y = intops.int_layernorm(
            x, gamma, beta, in_fmt=in_fmt, gamma_fmt=gamma_fmt, out_fmt=out_fmt, eps=eps
        ).tolist()
        gb = [(int(beta[ch]) & ((1 << beta_bits) - 1)) << gamma_fmt.bits | (int(gamma[ch]) & ((1 << gamma_fmt.bits) - 1))
              for ch in range(c)]
        for b in range(c // lanes):
            last = int(b == c // lanes - 1)
            ch = slice(b * lanes, (b + 1) * lanes)
            x_beats.append([pack(x[ch].tolist(), in_fmt.bits), last, 0])
            gb_beats.append([pack(gb[ch], beta_bits + gamma_fmt.bits), 0, 0])
            y_beats.append([pack(y[ch], out_fmt.bits), last, 0])
    assert lp.norm_fmt == norm
    params = rtlpack.layernorm_params(lp, g_w=gamma_fmt.bits, beta_w=beta_bits,
                                      out_shift=gamma_fmt.frac + norm.frac - out_fmt.frac,
                                      out_w=out_fmt.bits, out_signed=out_fmt.signed)
    params.update(
        EPS_INT=sv_unsigned(lp.eps_int, 64),
        RSQRT_FILE=sv_string(write_memh(lp.table, lp.table_bits, name=f"rsqrt_c{c}")),
        LANES=lanes,
        OVERLAP=int(overlap),
    )
    vec = dict(
        params=params,
        inputs={"s_axis": x_beats, "s_axis_gb": gb_beats},
        outputs={"m_axis": y_beats},
        lanes={"m_axis": [out_fmt.bits, lanes, int(out_fmt.signed)]},
        full_rate_cycles=layernorm_cycles(len(tokens), c, lanes, overlap) + 1,  # + the taking cycle
    )
    return params, vec


def layernorm_cycles(tokens: int, channels: int, lanes: int = 1, overlap: bool = False) -> int:
    """spvit_layernorm's header formula: cycles from the first input beat to the last output beat
    of ``tokens`` tokens at full rate (P = C / LANES beats a token)."""
    p = channels // lanes
    if not overlap:
        return tokens * (2 * p + 6)
    return (tokens - 1) * max(p, 5) + 2 * p + 6


# --------------------------------------------------------------------------------------------
# token select / package token
# --------------------------------------------------------------------------------------------

KIND_CLASS, KIND_PATCH, KIND_PKG = 0, 1, 2


def _token_select_frame(x_cls, x_patch, x_pkg, w, delta, p, tau, lanes, x_w, heads, w_w=8, d_w=8):
    """Beats of one frame and its expected output (intops.keep_decision, int_package_token)."""
    c = x_cls.shape[-1]
    bpt = c // lanes
    tokens = [(x_cls, KIND_CLASS)] + [(t, KIND_PATCH) for t in x_patch] + [(t, KIND_PKG) for t in x_pkg]
    tok_beats = []
    for i, (t, kind) in enumerate(tokens):
        for b in range(bpt):
            last = int(i == len(tokens) - 1 and b == bpt - 1)
            tok_beats.append([pack(t[b * lanes:(b + 1) * lanes].tolist(), x_w), last, kind])
    sel_beats = []
    for j in range(len(x_patch)):
        word = pack(w[j].tolist(), w_w) | pack(delta[j].tolist(), d_w) << (heads * w_w)
        word |= int(p[j]) << (heads * (w_w + d_w))
        sel_beats.append([word, 0, 0])
    n = len(x_patch)
    if n:
        keep = intops.keep_decision(w, delta, tau)
        pkg = intops.int_package_token(x_patch, p, pruned=~keep)
    else:
        keep = torch.zeros(0, dtype=torch.bool)
        pkg = torch.zeros(c, dtype=torch.int64)
    out_tokens = [(x_cls, KIND_CLASS)] + [(x_patch[j], KIND_PATCH) for j in range(n) if keep[j]]
    out_tokens += [(t, KIND_PKG) for t in x_pkg] + [(pkg, KIND_PKG)]
    out_beats = []
    for i, (t, kind) in enumerate(out_tokens):
        for b in range(bpt):
            last = int(i == len(out_tokens) - 1 and b == bpt - 1)
            out_beats.append([pack(t[b * lanes:(b + 1) * lanes].tolist(), x_w), last, kind])
    return tok_beats, sel_beats, out_beats, int(keep.sum())


def token_select_vectors(
    *,
    seed: int = 0,
    channels: int = 16,
    lanes: int = 4,
    x_fmt: FixedFormat = FixedFormat(16, 8),
    n_max: int = 12,
    pkg_max: int = 2,
    heads: int = 4,
    p_bits: int = 8,
    div_steps: int = 2,
) -> Tuple[Params, Vectors]:
    """Frames with every edge case of docs/integer_arithmetic.md section 5.7: nothing pruned,
    everything pruned, zero patch tokens, one patch token (pruned), all pruned weights p = 0
    (equal-weight mean), z == tau ties (kept), all head weights 0, N_MAX tokens at the value
    extremes with p = 255, and random frames with several thresholds tau."""
    g = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    c, x_w = channels, x_fmt.bits
    tau = 0
    lo, hi = x_fmt.min_int, x_fmt.max_int
    delta_fmt = FixedFormat(8, 4)
    w_fmt = intops.prob_format(8)
    z_w = intops.keep_decision_bits(w_fmt, delta_fmt, heads)

    def rand_tokens(n, a=lo, b=hi):
        return torch.randint(a, b + 1, (n, c), generator=g)

    def rand_sel(n):
        w = torch.randint(0, 256, (n, heads), generator=g)
        d = torch.randint(-128, 128, (n, heads), generator=g)
        p = torch.randint(0, 1 << p_bits, (n,), generator=g)
        return w, d, p

    frames = []  # (tau, x_cls, x_patch, x_pkg, w, delta, p, name)
    k = 0
    if n_max < 4:
        raise ValueError("token_select_vectors needs n_max >= 4")
    for n in (n_max, min(5, n_max)):                                    # random, several tau
        w, d, p = rand_sel(n)
        z = (w * d).sum(-1)
        for t in (int(z.median()), int(z.min()), int(z.max()) + 1):
            n_pkg = k % (pkg_max + 1)                                   # 0, 1, 2, ... earlier packages
            k += 1
            frames.append((t, rand_tokens(1)[0], rand_tokens(n), rand_tokens(n_pkg), w, d, p, "random"))
    tau = 100
    n4, n5, n6 = (min(n, n_max) for n in (4, 5, 6))
    pk1, pk2 = min(1, pkg_max), min(2, pkg_max)
    zeros = lambda *shape: torch.zeros(*shape, dtype=torch.int64)  # noqa: E731
    w, d, p = rand_sel(n4)
    frames.append((tau, rand_tokens(1)[0], rand_tokens(n4), rand_tokens(pk1), torch.full_like(w, 255),
                   torch.full_like(d, 127), p, "nothing pruned"))
    w, d, p = rand_sel(n6)
    frames.append((tau, rand_tokens(1)[0], rand_tokens(n6), rand_tokens(pk2), torch.full_like(w, 255),
                   torch.full_like(d, -128), p, "everything pruned"))
    frames.append((tau, rand_tokens(1)[0], rand_tokens(0), rand_tokens(pk2), zeros(0, heads), zeros(0, heads),
                   zeros(0), "no patch tokens"))
    frames.append((tau, rand_tokens(1)[0], rand_tokens(1), rand_tokens(0), zeros(1, heads), zeros(1, heads),
                   torch.tensor([rng.randint(0, 255)]), "one token, pruned"))
    wz, dz, _ = rand_sel(n5)
    frames.append((tau, rand_tokens(1)[0], rand_tokens(n5), rand_tokens(pk1), wz, -dz.abs() - 1, zeros(n5),
                   "pruned with p = 0"))
    wt, dt = zeros(n4, heads), zeros(n4, heads)
    wt[:, 0] = 1
    dt[:, 0] = torch.tensor([tau, tau - 1, tau, tau + 1][:n4])
    frames.append((tau, rand_tokens(1)[0], rand_tokens(n4), rand_tokens(0), wt, dt, rand_sel(n4)[2], "z == tau ties"))
    frames.append((0, rand_tokens(1)[0], rand_tokens(3), rand_tokens(0), zeros(3, heads), rand_sel(3)[1],
                   rand_sel(3)[2], "all w = 0, tau = 0: keep"))
    frames.append((1, rand_tokens(1)[0], rand_tokens(3), rand_tokens(pk1), zeros(3, heads), rand_sel(3)[1],
                   rand_sel(3)[2], "all w = 0, tau = 1: prune"))
    # exact .5 ties in the package token: two pruned tokens whose channel sums are odd
    # (weighted with p = 1, 1 and 3, 3; equal-weight with p = 0, 0), both parities of the quotient
    for pv, name in ((1, "package ties, p = 1"), (3, "package ties, p = 3"), (0, "package ties, p = 0")):
        x1 = torch.randint(lo // 2, hi // 2, (c,), generator=g)
        x2 = x1 + 2 * torch.randint(-100, 100, (c,), generator=g) + 1
        frames.append((tau, rand_tokens(1)[0], torch.stack([x1, x2.clamp(lo, hi)]), rand_tokens(0),
                       zeros(2, heads), zeros(2, heads), torch.full((2,), pv), name))
    ext = torch.tensor([[lo if (i + j) % 3 else hi for j in range(c)] for i in range(n_max)])
    frames.append((tau, torch.full((c,), hi), ext, rand_tokens(pkg_max), torch.full((n_max, heads), 255),
                   torch.full((n_max, heads), -128), torch.full((n_max,), (1 << p_bits) - 1), "extremes"))
    frames.append((tau, torch.full((c,), lo), torch.full((n_max, c), lo), rand_tokens(0), torch.full((n_max, heads), 255),
                   torch.full((n_max, heads), -128), torch.full((n_max,), (1 << p_bits) - 1), "all minimum"))

    groups = []
    for tau_f, x_cls, x_patch, x_pkg, w, d, p, name in frames:
        tb, sb, ob, kept = _token_select_frame(x_cls, x_patch, x_pkg, w, d, p, tau_f, lanes, x_w, heads)
        inputs = {"s_axis": tb}
        if sb:
            inputs["s_axis_sel"] = sb
        groups.append(dict(name=name, tau=tau_f, n_kept=kept, inputs=inputs, outputs={"m_axis": ob},
                           lanes={"m_axis": [x_w, lanes, 1]}))
    params = dict(C=c, LANES=lanes, X_W=x_w, N_MAX=n_max, PKG_MAX=pkg_max, H=heads, W_W=8, D_W=8,
                  Z_W=z_w, P_W=p_bits, DIV_STEPS=div_steps)
    return params, dict(params=params, groups=groups)
