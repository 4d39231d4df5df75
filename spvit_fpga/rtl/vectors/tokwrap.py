"""Test vectors for the token-stream wrappers of the selector / LayerNorm kernels
(``spvit_layernorm_tok``, ``spvit_head_mean_tok``, ``spvit_keep_prob_tok``,
``spvit_token_select_tok``, ``spvit_global_concat``; rtl/DATAFLOW.md "Token streams").

Expected values come from :mod:`spvit_fpga.ir.intops` with the formats (and, for the LayerNorm, the
gamma / beta / rsqrt constants) of the embedded default model (``spvit_fpga/default_model/ir``:
``blocks[0].norm1``, ``blocks[1].selector``) unless a builder is asked for other formats.  Same
conventions as :mod:`spvit_fpga.rtl.vectors.kernels`: each builder returns ``(parameters, vectors)`` with
``vectors = {"params", "inputs": {port: [[data, last, user], ...]}, "outputs": {...},
"lanes": {port: [width, count, signed]}}`` for :func:`rtl_sim.streams.drive_and_check`; tuser is
the token kind (0 class, 1 patch, 2 package) and is checked too.  Every builder streams several
frames back to back, with 1-token frames and frames of the maximum length among them.
"""
from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ...ir import intops
from ...ir.intops import FixedFormat
from ...nn.defaults import DEFAULT_IR_DIR
from .. import pack as rtlpack
from ..bits import pack
from ..runner import sv_string, sv_unsigned, write_memh
from .kernels import KIND_CLASS, KIND_PATCH, KIND_PKG, Params, Vectors, _token_select_frame, table_memfile

MODEL_IR = DEFAULT_IR_DIR


@functools.lru_cache(maxsize=None)
def model_ir(path: str = str(MODEL_IR)):
    """The embedded default model's IR (loaded once)."""
    from ...ir.graph import load_ir

    return load_ir(Path(path))


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def _frame_kinds(lengths: Sequence[int], rng: random.Random) -> List[Tuple[int, int]]:
    """(kind, last) per token of frames of the given lengths: class first, then patches, the
    last one or two sometimes package tokens."""
    out = []
    for n in lengths:
        n_pkg = rng.randint(0, min(2, n - 1)) if n > 1 else 0
        for j in range(n):
            kind = KIND_CLASS if j == 0 else (KIND_PKG if j >= n - n_pkg else KIND_PATCH)
            out.append((kind, int(j == n - 1)))
    return out


def _beats(rows: Sequence[Sequence[int]], width: int, kinds: Sequence[Tuple[int, int]]) -> list:
    return [[pack(r, width), last, kind] for r, (kind, last) in zip(rows, kinds)]


# --------------------------------------------------------------------------------------------
# LayerNorm on a token stream
# --------------------------------------------------------------------------------------------


def layernorm_tok_vectors(
    *,
    seed: int = 0,
    source: str = "norm1",
    random_affine: bool = False,
    random_tokens: int = 14,
    lanes: int = 1,
    overlap: bool = False,
    gb_packed: bool = False,
) -> Tuple[Params, Vectors]:
    """Tokens through reference.py ``_layernorm`` (int_layernorm_normalize with the op's params,
    then requantize(gamma * n + beta, out_shift, out_fmt)) for the model's LayerNorm ``source``
    (``norm1`` = blocks[0].norm1 over the embedding, ``selector`` = blocks[1].selector.norm over
    a head), with its gamma / beta, or random ones with beta at the BETA_W limits (output
    saturation) when ``random_affine``.  Tokens: constant, zero, one non-zero LSB, one spike
    channel (large |n|: saturation), alternating extremes, all minimum, random of several
    scales; frames of 1, 5, 1, 3, ... tokens back to back.  ``lanes`` / ``overlap`` /
    ``gb_packed``: the wrapper's LANES (channels a cycle into the kernel), OVERLAP and GB_PACKED
    (GB_FILE one {beta, gamma} a line, or the ``lanes`` pairs of a beat a line)."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    ir = model_ir()
    op = ir.blocks[0].norm1 if source == "norm1" else ir.blocks[1].selector.norm
    c, in_fmt, out_fmt = op.channels, op.in_fmt, op.out_fmt
    lp = op.params()
    lo, hi = in_fmt.min_int, in_fmt.max_int
    gamma, beta = _t(op.gamma.tolist()), _t(op.beta.tolist())
    beta_w = op.beta_fmt.bits
    if random_affine:
        gamma = torch.randint(op.gamma_fmt.min_int, op.gamma_fmt.max_int + 1, (c,), generator=g)
        beta = torch.randint(-(1 << 17), 1 << 17, (c,), generator=g)
        beta[0], beta[1] = (1 << (beta_w - 1)) - 1, -(1 << (beta_w - 1))
        gamma[2], gamma[3] = op.gamma_fmt.max_int, op.gamma_fmt.min_int
    tokens: List[List[int]] = [
        [37] * c,
        [0] * c,
        [0] * (c - 1) + [1],
        [hi] + [0] * (c - 1),
        [0, lo] + [0] * (c - 2),
        [lo, hi] * (c // 2) + [lo] * (c % 2),
        [lo] * c,
        [hi] * c,
    ]
    for _ in range(random_tokens):
        scale = 1 << rng.randint(0, in_fmt.bits - 1)
        centre = rng.randint(lo // 2, hi // 2)
        tokens.append([min(max(centre + rng.randint(-scale, scale), lo), hi) for _ in range(c)])
    x = _t(tokens)
    n = intops.int_layernorm_normalize(x, lp)
    y = intops.requantize(gamma * n + beta, op.out_shift, out_fmt).tolist()
    lengths = [1, 5, 1, 3]
    while sum(lengths) < len(tokens):
        lengths.append(rng.randint(1, 6))
    lengths[-1] -= sum(lengths) - len(tokens)
    kinds = _frame_kinds([m for m in lengths if m > 0], rng)
    gmask, bmask = (1 << op.gamma_fmt.bits) - 1, (1 << beta_w) - 1
    gb_words = [((int(b) & bmask) << op.gamma_fmt.bits) | (int(gm) & gmask) for gm, b in zip(gamma, beta)]
    gb_w = beta_w + op.gamma_fmt.bits
    if gb_packed:
        beats = [pack(gb_words[b:b + lanes], gb_w) for b in range(0, c, lanes)]
        gb_file = write_memh(beats, lanes * gb_w, name=f"ln_gb_c{c}_x{lanes}")
    else:
        gb_file = write_memh(gb_words, gb_w, name=f"ln_gb_c{c}")
    params = rtlpack.layernorm_params(lp, g_w=op.gamma_fmt.bits, beta_w=beta_w, out_shift=op.out_shift,
                                      out_w=out_fmt.bits, out_signed=out_fmt.signed)
    params.update(
        EPS_INT=sv_unsigned(lp.eps_int, 64),
        RSQRT_FILE=sv_string(write_memh(lp.table, lp.table_bits, name=f"rsqrt_c{c}")),
        GB_FILE=sv_string(gb_file),
        USER_W=2,
        LANES=lanes,
        OVERLAP=int(overlap),
        GB_PACKED=int(gb_packed),
    )
    p = c // lanes
    if overlap:
        full_rate = (len(tokens) - 1) * max(p, 5) + 2 * p + 9
    else:
        full_rate = len(tokens) * (2 * p + 6) + 3
    vec = dict(
        params=params,
        inputs={"s_axis": _beats(tokens, in_fmt.bits, kinds)},
        outputs={"m_axis": _beats(y, out_fmt.bits, kinds)},
        lanes={"m_axis": [out_fmt.bits, c, int(out_fmt.signed)]},
        full_rate_cycles=full_rate,         # the module header's formula (P = C / LANES)
        cycles_per_beat=2 * p + 8,          # drive_and_check's hang budget (2P + 6 a token, 2 beats)
    )
    return params, vec


# --------------------------------------------------------------------------------------------
# head mean on a token stream
# --------------------------------------------------------------------------------------------


def head_mean_tok_vectors(
    *,
    seed: int = 0,
    lanes: int = 8,
    div_steps: int = 3,
    random_tokens: int = 30,
) -> Tuple[Params, Vectors]:
    """Tokens through intops.int_head_mean with the model selector's formats (embedding width,
    heads, in_fmt -> head_mean_fmt; UP < 0): all min / all max (saturation), zeros, +-1 LSB,
    one large channel per head, exact .5 ties, random tokens of several spreads."""
    rng = random.Random(seed)
    s = model_ir().blocks[1].selector
    heads, dh = s.num_heads, s.head_dim
    c = heads * dh
    in_fmt, out_fmt = s.in_fmt, s.head_mean_fmt
    lo, hi = in_fmt.min_int, in_fmt.max_int
    toks: List[List[int]] = [
        [lo] * c,
        [hi] * c,
        [0] * c,
        [1] + [0] * (c - 1),
        [-1] + [0] * (c - 1),
        [hi if ch % dh == 0 else 0 for ch in range(c)],
        [lo if ch % dh == dh - 1 else 0 for ch in range(c)],
    ]
    up = out_fmt.frac - in_fmt.frac
    den = dh << max(0, -up)
    for k in (-3, -2, 1, 2):                          # head sums at (k + 1/2) * den: RNE ties
        target = k * den + den // 2
        q = target // dh
        head = [target - (dh - 1) * q] + [q] * (dh - 1)
        if all(lo <= v <= hi for v in head):
            toks.append(head * heads)
    for _ in range(random_tokens):
        spread = rng.choice((4, 512, 1 << (in_fmt.bits - 1)))
        centre = rng.randint(lo // 8, hi // 8)
        toks.append([min(max(centre + rng.randint(-spread, spread), lo), hi) for _ in range(c)])
    u = intops.int_head_mean(_t(toks), num_heads=heads, in_frac=in_fmt.frac, out_fmt=out_fmt).tolist()
    lengths = [1, 4, 1]
    while sum(lengths) < len(toks):
        lengths.append(rng.randint(1, 7))
    lengths[-1] -= sum(lengths) - len(toks)
    kinds = _frame_kinds([m for m in lengths if m > 0], rng)
    params = dict(C=c, H=heads, LANES=lanes, IN_W=in_fmt.bits, UP=up, OUT_W=out_fmt.bits,
                  OUT_SIGNED=int(out_fmt.signed), DIV_STEPS=div_steps, USER_W=2)
    d = -(-(in_fmt.bits + max(up, 0)) // div_steps) + 1      # divider pass
    per_token = max(c // lanes, heads * max(dh // lanes, d))
    vec = dict(
        params=params,
        inputs={"s_axis": _beats(toks, in_fmt.bits, kinds)},
        outputs={"m_axis": _beats(u, out_fmt.bits, kinds)},
        lanes={"m_axis": [out_fmt.bits, heads, int(out_fmt.signed)]},
        full_rate_cycles=len(toks) * per_token + d,
    )
    return params, vec


# --------------------------------------------------------------------------------------------
# keep probability on a token stream
# --------------------------------------------------------------------------------------------


def keep_prob_tok_vectors(*, seed: int = 0, div_steps: int = 3, random_tokens: int = 60) -> Tuple[Params, Vectors]:
    """Per-token {delta[H], w[H]} through intops.int_keep_prob with the model selector's formats
    (w_fmt, sigma in/out, keep_prob_fmt): all weights 0 (equal-weights fallback), one weight,
    all max, deltas at both table ends, random and sparse weights; kinds / tlast carried."""
    rng = random.Random(seed)
    s = model_ir().blocks[1].selector
    heads = s.num_heads
    w_fmt, d_fmt, sig_fmt, out_fmt = s.w_fmt, s.sigma.in_fmt, s.sigma.out_fmt, s.keep_prob_fmt
    wlo, whi, dlo, dhi = w_fmt.min_int, w_fmt.max_int, d_fmt.min_int, d_fmt.max_int
    toks = [
        ([0] * heads, [0] * heads),
        ([0] * heads, [dhi] * heads),
        ([0] * heads, [dlo] * heads),
        ([whi] * heads, [dhi] * heads),
        ([whi] * heads, [dlo] * heads),
        ([1] + [0] * (heads - 1), [dhi] + [dlo] * (heads - 1)),
        ([0] * (heads - 1) + [whi], [rng.randint(dlo, dhi) for _ in range(heads)]),
    ]
    for _ in range(random_tokens):
        sparse = rng.random() < 0.3
        w = [0 if sparse and rng.random() < 0.7 else rng.randint(wlo, whi) for _ in range(heads)]
        toks.append((w, [rng.randint(dlo, dhi) for _ in range(heads)]))
    p = intops.int_keep_prob(_t([t[0] for t in toks]), _t([t[1] for t in toks]), w_fmt=w_fmt, delta_fmt=d_fmt,
                             sig_fmt=sig_fmt, out_fmt=out_fmt).tolist()
    lengths = [1, 6, 1]
    while sum(lengths) < len(toks):
        lengths.append(rng.randint(1, 9))
    lengths[-1] -= sum(lengths) - len(toks)
    kinds = _frame_kinds([m for m in lengths if m > 0], rng)
    x_beats = [[pack(w, w_fmt.bits) | (pack(d, d_fmt.bits) << (heads * w_fmt.bits)), last, kind]
               for (w, d), (kind, last) in zip(toks, kinds)]
    y_beats = [[pj, last, kind] for pj, (kind, last) in zip(p, kinds)]
    params = dict(H=heads, W_W=w_fmt.bits, D_W=d_fmt.bits, SIG_W=sig_fmt.bits, UP=out_fmt.frac - sig_fmt.frac,
                  OUT_W=out_fmt.bits, DIV_STEPS=div_steps,
                  SIG_FILE=sv_string(table_memfile("sigmoid", d_fmt, sig_fmt)), USER_W=2)
    d = -(-(sig_fmt.bits + max(out_fmt.frac - sig_fmt.frac, 0)) // div_steps) + 1
    return params, dict(params=params, inputs={"s_axis": x_beats}, outputs={"m_axis": y_beats},
                        full_rate_cycles=len(toks) * d + 2)


# --------------------------------------------------------------------------------------------
# token select on token streams
# --------------------------------------------------------------------------------------------


def token_select_tok_vectors(
    *,
    seed: int = 0,
    channels: int = 64,
    lanes: int = 16,
    n_max: int = 10,
    pkg_max: int = 2,
    p_bits: int = 8,
    div_steps: int = 2,
) -> Tuple[Params, Vectors]:
    """Frames through intops.keep_decision + intops.int_package_token at the model selector's
    threshold tau (blocks[1].selector: heads, w / delta formats, residual format): random frames,
    nothing pruned, everything pruned, a 1-token frame (class only: package 0), one patch token
    kept / pruned, z == tau ties, pruned with p = 0 (equal-weight mean), N_MAX patch + PKG_MAX
    package tokens at the value extremes.  ``groups`` holds each frame with its n_kept; the
    ``inputs`` / ``outputs`` are all frames back to back."""
    g = torch.Generator().manual_seed(seed)
    s = model_ir().blocks[1].selector
    heads, tau = s.num_heads, int(s.tau)
    x_fmt, w_fmt, d_fmt = s.in_fmt, s.w_fmt, s.sigma.in_fmt
    c, x_w = channels, x_fmt.bits
    lo, hi = x_fmt.min_int, x_fmt.max_int
    z_w = intops.keep_decision_bits(w_fmt, d_fmt, heads)
    if not (w_fmt.bits == 8 and d_fmt.bits == 8):
        raise ValueError("the model's w / delta formats changed: _token_select_frame packs 8-bit lanes")

    def toks(n, a=lo, b=hi):
        return torch.randint(a, b + 1, (n, c), generator=g)

    def sel(n):
        w = torch.randint(0, w_fmt.max_int + 1, (n, heads), generator=g)
        d = torch.randint(d_fmt.min_int, d_fmt.max_int + 1, (n, heads), generator=g)
        p = torch.randint(0, 1 << p_bits, (n,), generator=g)
        return w, d, p

    zeros = lambda *shape: torch.zeros(*shape, dtype=torch.int64)  # noqa: E731
    full = lambda shape, v: torch.full(shape, v, dtype=torch.int64)  # noqa: E731
    frames = []  # (name, cls, patches, pkgs, w, delta, p)
    for n, n_pkg in ((n_max, 1), (6, 0), (3, 2)):
        w, d, p = sel(n)
        frames.append(("random", toks(1)[0], toks(n), toks(n_pkg), w, d, p))
    frames.append(("class only", toks(1)[0], toks(0), toks(0), zeros(0, heads), zeros(0, heads), zeros(0)))
    w, d, p = sel(5)
    frames.append(("nothing pruned", toks(1)[0], toks(5), toks(1), full((5, heads), w_fmt.max_int),
                   full((5, heads), d_fmt.max_int), p))
    w, d, p = sel(6)
    frames.append(("everything pruned", toks(1)[0], toks(6), toks(2), full((6, heads), w_fmt.max_int),
                   full((6, heads), d_fmt.min_int), p))
    frames.append(("one patch, kept", toks(1)[0], toks(1), toks(0), full((1, heads), 200), full((1, heads), 100),
                   sel(1)[2]))
    frames.append(("one patch, pruned", toks(1)[0], toks(1), toks(0), zeros(1, heads), zeros(1, heads), sel(1)[2]))
    # z == tau ties (kept), tau - w0 (pruned), tau + w0 (kept), from w_0 * delta_0 with w_0 | tau
    w0 = next(v for v in range(w_fmt.max_int, 0, -1)
              if tau % v == 0 and d_fmt.min_int <= tau // v - 1 and tau // v + 1 <= d_fmt.max_int)
    wt, dt = zeros(4, heads), zeros(4, heads)
    wt[:, 0] = w0
    dt[:, 0] = _t([tau // w0, tau // w0 - 1, tau // w0, tau // w0 + 1])
    frames.append(("z == tau ties", toks(1)[0], toks(4), toks(1), wt, dt, sel(4)[2]))
    w, _, _ = sel(5)
    frames.append(("pruned with p = 0", toks(1)[0], toks(5), toks(0), w, full((5, heads), d_fmt.min_int), zeros(5)))
    ext = torch.tensor([[lo if (i + j) % 3 else hi for j in range(c)] for i in range(n_max)])
    frames.append(("maximum frame, extremes", full((c,), hi), ext, toks(pkg_max), full((n_max, heads), w_fmt.max_int),
                   full((n_max, heads), d_fmt.min_int), full((n_max,), (1 << p_bits) - 1)))
    w, d, p = sel(n_max)
    frames.append(("maximum frame, random", toks(1)[0], toks(n_max), toks(pkg_max), w, d, p))
    frames.append(("class only, minimum", full((c,), lo), toks(0), toks(0), zeros(0, heads), zeros(0, heads), zeros(0)))

    groups = []
    all_in: Dict[str, list] = {"s_axis": [], "s_axis_sel": []}
    all_out: List[list] = []
    for name, x_cls, x_patch, x_pkg, w, d, p in frames:
        tb, sb, ob, kept = _token_select_frame(x_cls, x_patch, x_pkg, w, d, p, tau, c, x_w, heads)
        inputs = {"s_axis": tb}
        if sb:
            inputs["s_axis_sel"] = sb
        all_in["s_axis"] += tb
        all_in["s_axis_sel"] += sb
        all_out += ob
        groups.append(dict(name=name, n_kept=kept, inputs=inputs, outputs={"m_axis": ob},
                           lanes={"m_axis": [x_w, c, 1]}))
    params = dict(C=c, LANES=lanes, X_W=x_w, N_MAX=n_max, PKG_MAX=pkg_max, H=heads, W_W=w_fmt.bits, D_W=d_fmt.bits,
                  Z_W=z_w, P_W=p_bits, DIV_STEPS=div_steps, TAU=tau)
    vec = dict(params=params, inputs=all_in, outputs={"m_axis": all_out}, lanes={"m_axis": [x_w, c, 1]},
               groups=groups, n_kept=groups[-1]["n_kept"],
               full_rate_cycles=sum(token_select_tok_frame_cycles(g, params) for g in groups) + 2)
    return params, vec


def token_select_tok_frame_cycles(group: Dict[str, Any], params: Params) -> int:
    """Full-rate cycles of one frame of spvit_token_select_tok (its header; back to back)."""
    b = params["C"] // params["LANES"]
    t = len(group["inputs"]["s_axis"])
    k = len(group["outputs"]["m_axis"]) - 1                  # tokens emitted before the package
    div = b * (-(-params["X_W"] // params["DIV_STEPS"]) + 1) + 2
    return t * b + max(k * b + (t - k) + b, div) + 1


# --------------------------------------------------------------------------------------------
# global feature + concatenation (selector)
# --------------------------------------------------------------------------------------------


def global_concat_vectors(
    *,
    seed: int = 0,
    head_dim: Optional[int] = None,
    heads: Optional[int] = None,
    f_fmt: Optional[FixedFormat] = None,
    up: int = 0,
    n_max: int = 12,
    lanes: Optional[int] = None,
    div_steps: int = 3,
    random_frames: int = 5,
    buffers: int = 1,
) -> Tuple[Params, Vectors]:
    """Frames of f [n, H, DH] (sub-token stream: token-major, one head a beat) through reference.py
    ``_select``'s ``g = int_token_mean(f[..., DH/2:].transpose(0, 1))``, ``z = cat(f[..., :DH/2],
    g)``, with g in ``FixedFormat(F_W, f.frac + up)``.  Defaults: the model selector's head_dim,
    heads and in_fc output format (up = 0), LANES = DH/2.  Frames: 1 token, N_MAX tokens all max /
    all min (and mixed: saturation-free extremes), two tokens whose sums are odd (.5 ties), random
    frames of random lengths and spreads.  ``buffers``: the module's FRAMES (2: frame i+1 is
    received while frame i is replayed; full-rate cycles from global_concat_pingpong_cycles)."""
    rng = random.Random(seed)
    s = model_ir().blocks[1].selector
    dh = head_dim or s.head_dim
    nh = heads or s.num_heads
    f_fmt = f_fmt or s.in_fc.activation.out_fmt
    half = dh // 2
    lanes = lanes or half
    g_fmt = FixedFormat(f_fmt.bits, f_fmt.frac + up, f_fmt.signed)
    lo, hi = f_fmt.min_int, f_fmt.max_int

    def rand_frame(n: int, spread: int) -> torch.Tensor:
        centre = rng.randint(lo, hi)
        return _t([[[min(max(centre + rng.randint(-spread, spread), lo), hi) for _ in range(dh)]
                    for _ in range(nh)] for _ in range(n)])

    frames: List[torch.Tensor] = [
        rand_frame(1, 1 << f_fmt.bits),
        torch.full((n_max, nh, dh), hi, dtype=torch.int64),
        rand_frame(1, 3),
        torch.full((n_max, nh, dh), lo, dtype=torch.int64),
        torch.stack([rand_frame(1, 40)[0], rand_frame(1, 40)[0]]),
        _t([[[(hi if (j + h + ch) % 2 else lo) for ch in range(dh)] for h in range(nh)] for j in range(3)]),
    ]
    odd = rand_frame(1, 20)[0]
    frames.append(torch.stack([odd, (odd + 1).clamp(lo, hi)]))
    for _ in range(random_frames):
        frames.append(rand_frame(rng.randint(1, n_max), rng.choice((2, 16, 1 << f_fmt.bits))))
    frames.append(rand_frame(n_max, 1 << f_fmt.bits))
    x_beats, z_beats = [], []
    bps = half // lanes                                        # token-mean beats a sub-token
    n_groups = nh * half // lanes                              # token-mean output beats
    d = -(-(f_fmt.bits + max(up, 0)) // div_steps) + 1
    cycles = 1
    for f in frames:
        cycles += f.shape[0] * nh * (bps + 1) + n_groups * d + 2
        n = f.shape[0]
        gm = intops.int_token_mean(f[..., half:].transpose(0, 1), in_frac=f_fmt.frac, out_fmt=g_fmt)  # [H, DH/2]
        z = torch.cat([f[..., :half], gm[None].expand(n, nh, half)], dim=-1)
        kind = rng.choice((KIND_PATCH, KIND_PATCH, KIND_CLASS, KIND_PKG))
        for j in range(n):
            for h in range(nh):
                last = int(j == n - 1 and h == nh - 1)
                x_beats.append([pack(f[j, h].tolist(), f_fmt.bits), last, kind])
                z_beats.append([pack(z[j, h].tolist(), f_fmt.bits), last, kind])
    if buffers == 2:
        cycles = global_concat_pingpong_cycles([f.shape[0] for f in frames], nh, bps, d)
    params = dict(DH=dh, H=nh, F_W=f_fmt.bits, N_MAX=n_max, UP=up, LANES=lanes, DIV_STEPS=div_steps, USER_W=2,
                  FRAMES=buffers)
    vec = dict(params=params, inputs={"s_axis": x_beats}, outputs={"m_axis": z_beats},
               lanes={"m_axis": [f_fmt.bits, dh, int(f_fmt.signed)]}, frames=len(frames),
               full_rate_cycles=cycles)
    return params, vec


def global_concat_pingpong_cycles(tokens: Sequence[int], heads: int, s: int, d: int) -> int:
    """Full-rate cycles of spvit_global_concat with FRAMES = 2 (its header's recurrence), frames of
    ``tokens[i]`` tokens back to back; S = DH/(2*LANES) token-mean beats a sub-token, G = H*S
    mean groups, D the divider interval."""
    g = heads * s
    e: List[int] = []   # last token-mean input beat of frame i
    m: List[int] = []   # last mean of frame i taken
    r: List[int] = []   # last replay issue of frame i
    for i, n in enumerate(tokens):
        a = max(e[i - 1] if i else 0, r[i - 2] + 1 if i >= 2 else 0)   # first input beat
        first = max(a + 1, m[i - 1] - d + 1 if i else 0)                 # token mean back in ACC
        e.append(first + n * heads * s - 1)
        m.append(max(e[i] + 1, m[i - 1] if i else 0) + g * d)
        r.append(max(m[i] + 1, r[i - 1] + 1 if i else 0) + n * heads - 1)
    return r[-1] + 2
