"""Test vectors for spvit_attention (rtl/spvit_attention.sv): frames of q, k, v tokens and the
context tokens that spvit_fpga.ir.reference._attention computes between its linears, i.e.
intops.int_attention_scores -> intops.int_softmax -> intops.int_attention_context per head.

Same conventions as :mod:`spvit_fpga.rtl.vectors.kernels`: the builder returns ``(parameters, vectors)``; the
vectors are ``{"params", "inputs": {port: [[data, last, user], ...]}, "outputs": {...},
"lanes": {port: [width, count, signed]}, "frames": [T, ...]}`` for
:func:`rtl_sim.streams.drive_and_check`.
"""
from __future__ import annotations

import random
from typing import List, Sequence, Tuple, Union

import torch

from ...ir import intops
from ...ir.intops import FixedFormat

from ..bits import pack
from ..runner import sv_string, write_memh
from .kernels import Params, Vectors

FrameSpec = Union[int, Tuple[int, str]]
"""A frame: its token count (random q, k, v over the full range), or ``(T, kind)`` with kind
``random``, ``min`` (every q, k, v = min: the largest positive score, saturated), ``max`` (every
value = max), ``split`` (q = max, k alternating max / min: scores saturated both ways, the exp
table's far tail; v alternating min / max) or ``peak`` (random, key token T/2 equal to query
token 0: one dominant score)."""


def attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, heads: int, score_shift: int,
    score_fmt: FixedFormat, prob_fmt: FixedFormat, exp_frac: int, ctx_shift: int, ctx_fmt: FixedFormat,
) -> torch.Tensor:
    """Context tokens [T, C] of one frame (q, k, v: [T, C] integers), as reference._attention."""
    t, c = q.shape
    dh = c // heads

    def split(a: torch.Tensor) -> torch.Tensor:  # [T, C] -> [H, T, DH]
        return a.reshape(t, heads, dh).transpose(0, 1)

    s = intops.int_attention_scores(split(q), split(k), shift=score_shift, out_fmt=score_fmt)
    p = intops.int_softmax(s, in_fmt=score_fmt, prob_fmt=prob_fmt, exp_frac=exp_frac)
    o = intops.int_attention_context(p, split(v), shift=ctx_shift, out_fmt=ctx_fmt)
    return o.transpose(0, 1).reshape(t, c)


def _frame(kind: str, t: int, c: int, fmts, g: torch.Generator) -> List[torch.Tensor]:
    out = []
    for name, f in zip("qkv", fmts):
        lo, hi = f.min_int, f.max_int
        if kind == "random" or kind == "peak":
            a = torch.randint(lo, hi + 1, (t, c), generator=g)
            if kind == "peak" and name == "k":
                a[t // 2] = out[0][0].clamp(lo, hi)  # q_0 . k_{T/2} ~ |q_0|^2: a dominant score
        elif kind == "min":
            a = torch.full((t, c), lo)
        elif kind == "max":
            a = torch.full((t, c), hi)
        elif kind == "split":
            if name == "q":
                a = torch.full((t, c), hi)
            else:
                a = torch.tensor([[hi if j % 2 == 0 else lo] * c for j in range(t)])
                if name == "v":
                    a = lo + hi - a
        else:
            raise ValueError(f"unknown frame kind {kind!r}")
        out.append(a.to(torch.int64))
    return out


def attention_vectors(
    *,
    seed: int = 0,
    channels: int = 8,
    heads: int = 2,
    simd: int = 2,
    t_max: int = 5,
    frames: Sequence[FrameSpec] = (1, 2, 5, (5, "min"), (5, "max"), (5, "split"), (1, "min"), 3, (4, "peak"), 5),
    q_fmt: FixedFormat = FixedFormat(8, 5),
    k_fmt: FixedFormat = FixedFormat(8, 5),
    v_fmt: FixedFormat = FixedFormat(8, 5),
    score_fmt: FixedFormat = FixedFormat(8, 2),
    prob_bits: int = 8,
    ctx_fmt: FixedFormat = FixedFormat(8, 6),
    exp_frac: int = intops.DEFAULT_EXP_FRAC,
    div_steps: int = 3,
    qp: int = 1,
    buffers: int = 1,
) -> Tuple[Params, Vectors]:
    """Frames back to back (token counts / kinds in ``frames``); shifts from the formats as
    ``spvit_fpga.ir.graph.AttentionOp`` computes them (score: f_q + f_k - f_s; context: f_p + f_v -
    f_ctx); accumulator widths from intops.accumulator_bits; q tokens get random kinds (tuser)
    which the context tokens must carry, k and v tokens other random kinds (ignored); ``qp`` is
    the module's QP (query rows in parallel), ``buffers`` its FRAMES (1, or 2: ping-pong frame
    buffers)."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    dh = channels // heads
    assert channels == heads * dh and dh % simd == 0
    prob_fmt = intops.prob_format(prob_bits)
    score_shift = q_fmt.frac + k_fmt.frac - score_fmt.frac
    ctx_shift = prob_fmt.frac + v_fmt.frac - ctx_fmt.frac
    table = intops.exp_table(score_fmt, exp_frac).tolist()
    exp_w = max(1, max(table).bit_length())
    params: Params = dict(
        C=channels, H=heads, DH=dh, T_MAX=t_max, Q_W=q_fmt.bits, K_W=k_fmt.bits, V_W=v_fmt.bits,
        SIMD=simd,
        SCORE_ACC_W=intops.accumulator_bits(q_fmt.bits, k_fmt.bits, dh),
        SCORE_SHIFT=score_shift, SCORE_W=score_fmt.bits, P_W=prob_bits, EXP_W=exp_w,
        EXP_DEPTH=len(table), EXP_FILE=sv_string(write_memh(table, exp_w, name="exp_table")),
        DIV_STEPS=div_steps,
        CTX_ACC_W=intops.accumulator_bits(prob_bits, v_fmt.bits, t_max, in_signed=False),
        CTX_SHIFT=ctx_shift, CTX_W=ctx_fmt.bits, QP=qp, FRAMES=buffers,
    )
    ins = {"s_axis_q": [], "s_axis_k": [], "s_axis_v": []}
    outs = []
    lengths = []
    for spec in frames:
        t, kind = (spec, "random") if isinstance(spec, int) else spec
        assert 1 <= t <= t_max
        q, k, v = _frame(kind, t, channels, (q_fmt, k_fmt, v_fmt), g)
        ctx = attention_reference(
            q, k, v, heads=heads, score_shift=score_shift, score_fmt=score_fmt, prob_fmt=prob_fmt,
            exp_frac=exp_frac, ctx_shift=ctx_shift, ctx_fmt=ctx_fmt,
        )
        kinds = [rng.randrange(3) for _ in range(t)]
        for i in range(t):
            last = int(i == t - 1)
            ins["s_axis_q"].append([pack(q[i].tolist(), q_fmt.bits), last, kinds[i]])
            ins["s_axis_k"].append([pack(k[i].tolist(), k_fmt.bits), last, rng.randrange(3)])
            ins["s_axis_v"].append([pack(v[i].tolist(), v_fmt.bits), last, rng.randrange(3)])
            outs.append([pack(ctx[i].tolist(), ctx_fmt.bits), last, kinds[i]])
        lengths.append(t)
    vec: Vectors = dict(
        params=params,
        inputs=ins,
        outputs={"m_axis": outs},
        lanes={"m_axis": [ctx_fmt.bits, channels, 1]},
        frames=lengths,
    )
    return params, vec


def micro_model_vectors(*, seed: int = 1, frames: Sequence[FrameSpec] = (66, 20), t_max: int = 66,
                        simd: int = 8, div_steps: int = 3, qp: int = 1,
                        buffers: int = 1) -> Tuple[Params, Vectors]:
    """The embedded micro model's first attention (spvit_fpga/default_model/ir blocks[0].attn):
    its q / k / v / score / probability / context formats and exp_frac, C = 64, H = 2."""
    from ...ir.graph import load_ir
    from ...nn.defaults import DEFAULT_DIR

    attn = load_ir(DEFAULT_DIR / "ir").blocks[0].attn
    params, vec = attention_vectors(
        seed=seed, channels=attn.num_heads * attn.head_dim, heads=attn.num_heads, simd=simd, t_max=t_max,
        frames=frames, q_fmt=attn.q.out_fmt, k_fmt=attn.k.out_fmt, v_fmt=attn.v.out_fmt,
        score_fmt=attn.score_fmt, prob_bits=attn.prob_fmt.bits, ctx_fmt=attn.context_fmt,
        exp_frac=attn.exp_frac, div_steps=div_steps, qp=qp, buffers=buffers,
    )
    # the same shifts as the IR's AttentionOp properties
    assert params["SCORE_SHIFT"] == attn.score_shift and params["CTX_SHIFT"] == attn.context_shift
    assert attn.prob_fmt == intops.prob_format(attn.prob_fmt.bits)
    return params, vec
