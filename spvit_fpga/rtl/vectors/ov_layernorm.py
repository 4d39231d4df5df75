"""Test vectors of the overlay LayerNorm unit (``rtl/spvit_ov_layernorm.sv``).

An instruction reads ``rows`` residual rows of XB (``heads`` sub-rows of ``C = P*L`` channels
each), pops the LayerNorm blob that :meth:`spvit_fpga.hw.overlay.layout.ParamStream.add_layernorm`
writes, and writes every sub-row normalised (``intops.int_layernorm_normalize``, then
``intops.requantize(gamma*n + beta, out_shift, out_fmt)``) to AM.  :func:`layernorm_vectors`
builds a run of such instructions for one build of the unit (the Verilog parameters cover every
case: widths are maxima) and the expected AM contents; :func:`ov_layernorm_cycles` is the unit's
cycle formula (the module header's), for the cost model and the bench.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from spvit_fpga.ir import intops
from spvit_fpga.hw.overlay.layout import ParamStream
from spvit_fpga.ir.intops import FixedFormat, LayerNormParams

__all__ = ["LNCase", "ov_layernorm_cycles", "layernorm_blob_beats", "ir_cases", "synthetic_case", "layernorm_vectors",
           "DEFAULT_IR"]

DEFAULT_IR = Path(__file__).resolve().parents[2] / "default_model" / "ir"
X_W = 16  # residual lanes


def ov_layernorm_cycles(rows: int, heads: int, words: int, lanes: int, beat_bytes: int, mant_bits: int = 10) -> int:
    """Cycles from ``start`` to ``done`` of one instruction with a param stream that never stalls
    (``rtl/spvit_ov_layernorm.sv``: ``NB + (J + 1)*P + 45 + log2(L)``, ``J = rows*heads``, or
    ``NB + 1`` without rows)."""
    c = words * lanes
    nb = layernorm_blob_beats(c, beat_bytes, mant_bits)
    j = rows * heads
    if j == 0:
        return nb + 1
    return nb + (j + 1) * words + 45 + (lanes.bit_length() - 1)


def layernorm_blob_beats(channels: int, beat_bytes: int, mant_bits: int = 10) -> int:
    """Beats of a LayerNorm blob: rsqrt table (2 bytes an entry), gamma (2 bytes), beta (4 bytes),
    each part padded to whole beats."""
    nt = 3 << (mant_bits - 2)

    def beats(n: int) -> int:
        return -(-n // beat_bytes)

    return beats(2 * nt) + beats(2 * channels) + beats(4 * channels)


@dataclass
class LNCase:
    """One LAYERNORM instruction: ``x`` is ``[rows, heads*C]`` (residual integers)."""

    name: str
    x: np.ndarray
    heads: int
    params: LayerNormParams
    gamma: np.ndarray
    beta: np.ndarray
    out_shift: int
    out_fmt: FixedFormat
    note: str = ""

    @property
    def channels(self) -> int:
        return self.params.channels

    def expected(self) -> np.ndarray:
        """``[rows*heads, C]`` outputs (intops, exactly as the functional model computes them)."""
        c = self.channels
        xs = torch.as_tensor(self.x.reshape(-1, c), dtype=torch.int64)
        if xs.numel() == 0:
            return np.zeros((0, c), dtype=np.int64)
        n = intops.int_layernorm_normalize(xs, self.params)
        acc = torch.as_tensor(self.gamma, dtype=torch.int64) * n + torch.as_tensor(self.beta, dtype=torch.int64)
        return intops.requantize(acc, self.out_shift, self.out_fmt).numpy()


def _rows(rng: np.random.Generator, kinds: Sequence[str], width: int, fmt: FixedFormat) -> np.ndarray:
    """Rows of residual integers: ``const`` (all equal: V = eps_int), ``zero``, ``onehot`` (one
    channel 1: small V, negative k), ``alt`` (alternating extremes: largest V), ``lo`` (all the
    minimum), ``full`` (uniform over the format), ``small`` (a narrow spread around a centre)."""
    lo, hi = fmt.min_int, fmt.max_int
    out = []
    for kind in kinds:
        if kind == "const":
            r = np.full(width, int(rng.integers(lo, hi + 1)))
        elif kind == "zero":
            r = np.zeros(width, dtype=np.int64)
        elif kind == "onehot":
            r = np.zeros(width, dtype=np.int64)
            r[int(rng.integers(0, width))] = 1
        elif kind == "alt":
            r = np.array([lo, hi] * (width // 2) + [lo] * (width % 2))
        elif kind == "lo":
            r = np.full(width, lo)
        elif kind == "full":
            r = rng.integers(lo, hi + 1, width)
        elif kind == "small":
            centre = int(rng.integers(lo // 2, hi // 2 + 1))
            spread = 1 << int(rng.integers(0, fmt.bits - 2))
            r = np.clip(centre + rng.integers(-spread, spread + 1, width), lo, hi)
        else:
            raise ValueError(kind)
        out.append(np.asarray(r, dtype=np.int64))
    return np.stack(out) if out else np.zeros((0, width), dtype=np.int64)


def ir_cases(rng: np.random.Generator, ir_dir: Path = DEFAULT_IR) -> List[LNCase]:
    """Cases with the formats, gamma, beta, eps and table of real LayerNorms of the micro model's IR
    (a block's norm1: one row of D channels; a selector's per-head norm: ``heads`` sub-rows)."""
    from spvit_fpga.ir.graph import load_ir

    ir = load_ir(ir_dir)
    cases = []
    b0 = ir.blocks[0].norm1
    cases.append(LNCase(
        name=f"micro {b0.name}", x=_rows(rng, ["full", "small", "alt", "const", "onehot", "small"], b0.channels, b0.in_fmt),
        heads=1, params=b0.params(), gamma=np.asarray(b0.gamma), beta=np.asarray(b0.beta), out_shift=b0.out_shift,
        out_fmt=b0.out_fmt))
    sel = ir.selectors[0]
    sn = sel.norm
    h = sel.num_heads
    cases.append(LNCase(
        name=f"micro {sn.name} ({h} heads)",
        x=_rows(rng, ["small", "full", "lo", "small", "onehot"], h * sn.channels, sn.in_fmt),
        heads=h, params=sn.params(), gamma=np.asarray(sn.gamma), beta=np.asarray(sn.beta), out_shift=sn.out_shift,
        out_fmt=sn.out_fmt))
    fn = ir.norm
    cases.append(LNCase(
        name=f"micro {fn.name} (one row)", x=_rows(rng, ["small"], fn.channels, fn.in_fmt), heads=1,
        params=fn.params(), gamma=np.asarray(fn.gamma), beta=np.asarray(fn.beta), out_shift=fn.out_shift,
        out_fmt=fn.out_fmt))
    return cases


def synthetic_case(rng: np.random.Generator, name: str, *, channels: int, heads: int, kinds: Sequence[str],
                   in_fmt: FixedFormat = FixedFormat(16, 12), gamma_fmt: FixedFormat = FixedFormat(8, 6),
                   out_fmt: FixedFormat = FixedFormat(8, 5), eps: float = 1e-6,
                   norm_fmt: FixedFormat = intops.DEFAULT_NORM_FMT, beta_bits: int = 20,
                   beta_extremes: bool = False) -> LNCase:
    """A DeiT-like or edge case with random gamma (``gamma_fmt``) and beta (``beta_bits`` signed;
    with ``beta_extremes`` two channels at the 32-bit limits, so the output saturates)."""
    p = intops.layernorm_params(channels, in_fmt, eps, norm_fmt=norm_fmt)
    gamma = rng.integers(gamma_fmt.min_int, gamma_fmt.max_int + 1, channels)
    beta = rng.integers(-(1 << (beta_bits - 1)), 1 << (beta_bits - 1), channels)
    if beta_extremes:
        beta[0], beta[1] = (1 << 31) - 1, -(1 << 31)
    out_shift = gamma_fmt.frac + norm_fmt.frac - out_fmt.frac
    x = _rows(rng, list(kinds) * 1, heads * channels, in_fmt) if kinds else np.zeros((0, heads * channels), np.int64)
    return LNCase(name=name, x=x, heads=heads, params=p, gamma=gamma, beta=beta, out_shift=out_shift, out_fmt=out_fmt)


def default_cases(seed: int = 0, *, big: bool = True) -> List[LNCase]:
    """The cases of the bench: micro (real IR), DeiT-like (C = 64 with 1 and 6 sub-rows, and the
    DeiT-S norm over 384 channels), one-word sub-rows (P = 1), V = 0 rows (eps = 0), saturating
    and unsigned outputs, a left shift out (out_shift < 0), a narrower norm format, no rows."""
    rng = np.random.default_rng(seed)
    cases = ir_cases(rng)
    cases.append(synthetic_case(rng, "DeiT-like C=64 heads=6", channels=64, heads=6,
                                kinds=["full", "small", "alt"], in_fmt=FixedFormat(16, 11)))
    cases.append(synthetic_case(rng, "DeiT-like C=64 heads=1", channels=64, heads=1,
                                kinds=["small", "const", "full", "small"], beta_extremes=True))
    if big:
        cases.append(synthetic_case(rng, "DeiT-S norm C=384", channels=384, heads=1, kinds=["small", "alt"],
                                    in_fmt=FixedFormat(16, 10)))
    cases.append(synthetic_case(rng, "one word a sub-row (P=1, heads=4)", channels=8, heads=4,
                                kinds=["full", "small", "onehot", "const", "small", "alt"]))
    cases.append(synthetic_case(rng, "eps=0: V=0 rows, unsigned out", channels=16, heads=2, eps=0.0,
                                kinds=["zero", "const", "onehot", "small"], out_fmt=FixedFormat(8, 4, False),
                                beta_extremes=True))
    cases.append(synthetic_case(rng, "left-shift out, 6-bit out, norm (12, 8)", channels=24, heads=1,
                                kinds=["small", "full", "alt"], in_fmt=FixedFormat(12, 6), gamma_fmt=FixedFormat(8, 0),
                                out_fmt=FixedFormat(6, 10), norm_fmt=FixedFormat(12, 8), beta_bits=10))
    cases.append(synthetic_case(rng, "no rows", channels=16, heads=1, kinds=[]))
    return cases


def _pack(values: Sequence[int], width: int) -> int:
    mask = (1 << width) - 1
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & mask) << (i * width)
    return out


def layernorm_vectors(cases: Sequence[LNCase], *, lanes: int = 8, beat_bytes: int = 32, seed: int = 0,
                      idle: float = 0.0, corrupt_blob: bool = False, back_to_back: bool = False,
                      region: int = 400) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(parameters, vectors)`` of one build of ``spvit_ov_layernorm`` running ``cases`` in order.

    Per instruction: the configuration, the blob's beats (from :class:`ParamStream`), the XB
    words it reads, the AM region it may write (prefilled with random bytes: a word outside the
    sub-rows must keep them) and the expected AM words; ``cycles`` is the formula's count.
    ``idle`` is the bench's probability of an idle param-stream cycle (0: the cycle count is
    checked).  ``corrupt_blob`` changes one gamma in the first blob after the expectations were
    computed (the bench must then fail).  ``back_to_back``: the bench runs the instructions as one
    program, each starting in its predecessor's done cycle; instruction ``k`` then uses the
    addresses ``k*region ..`` of XB and AM."""
    rnd = random.Random(seed)
    L, sb = lanes, beat_bytes
    mant = {c.params.mant_bits for c in cases}
    if len(mant) != 1:
        raise ValueError("one build has one table size (mant_bits)")
    m_bits = mant.pop()
    norm_w = max(c.params.norm_fmt.bits for c in cases)
    var_w = max(c.params.var_bits for c in cases)
    k_min = -((m_bits - 1) // 2)  # ceil((1 - M) / 2)
    k_max = -(-(var_w - m_bits) // 2)  # ceil((VAR_W - M) / 2)
    rnf = [c.params.rsqrt_shift - c.params.norm_fmt.frac for c in cases]
    params: Dict[str, Any] = dict(
        L=L, X_W=X_W, SB=sb,
        P_MAX=max(c.channels // L for c in cases),
        SUM_W=max(c.params.sum_bits for c in cases),
        DEV_W=max(c.params.dev_bits for c in cases),
        VAR_W=var_w, M=m_bits, T_W=16, NORM_W=norm_w,
        SH_MIN=min(rnf) + k_min, SH_MAX=max(rnf) + k_max,
        OSH_MIN=min(0, min(c.out_shift for c in cases)), OSH_MAX=max(c.out_shift for c in cases),
        ROW_W=12, H_W=4, XB_AW=12, AM_AW=12,
    )
    instrs = []
    for n, case in enumerate(cases):
        c = case.channels
        if c % L:
            raise ValueError(f"{case.name}: {c} channels is not a multiple of L = {L}")
        p = c // L
        rows = case.x.shape[0]
        j = rows * case.heads
        ps = ParamStream(sb)
        ps.add_layernorm(np.asarray(case.params.table), np.asarray(case.gamma), np.asarray(case.beta))
        data = ps.stream_bytes()
        beats = [int.from_bytes(data[i:i + sb], "little") for i in range(0, len(data), sb)]
        assert len(beats) == layernorm_blob_beats(c, sb, m_bits)
        y = case.expected()
        off = n * region if back_to_back else 0
        src_base = off + rnd.randrange(0, 40)
        dst_base = off + rnd.randrange(0, 40)
        stride = p + rnd.choice((0, 0, 1, 3))
        xb = {}
        flat = case.x.reshape(j, c) if j else np.zeros((0, c), np.int64)
        for s in range(j):
            for w in range(p):
                xb[src_base + s * p + w] = _pack(flat[s, w * L:(w + 1) * L], X_W)
        # AM: the region of the instruction (plus a word either side) prefilled; expected = written words
        top = dst_base + max(j, 1) * stride + 1
        am_init = {a: rnd.getrandbits(8 * L) for a in range(max(0, dst_base - 1), top + 1)}
        expect = dict(am_init)
        for s in range(j):
            for w in range(p):
                expect[dst_base + s * stride + w] = _pack(y[s, w * L:(w + 1) * L], 8)
        if corrupt_blob and n == 0:
            # gamma of channel 5 negated: the normalised outputs of that channel change
            gamma = np.asarray(case.gamma).copy()
            gamma[5] = -gamma[5] - 1
            ps2 = ParamStream(sb)
            ps2.add_layernorm(np.asarray(case.params.table), gamma, np.asarray(case.beta))
            data = ps2.stream_bytes()
            beats = [int.from_bytes(data[i:i + sb], "little") for i in range(0, len(data), sb)]
        pr = case.params
        cfg = dict(
            cfg_rows=rows, cfg_heads=case.heads, cfg_p=p, cfg_src_base=src_base, cfg_dst_base=dst_base,
            cfg_dst_stride=stride, cfg_eps=pr.eps_int, cfg_rsqrt_shift=pr.rsqrt_shift & 0xFF,
            cfg_norm_bits=pr.norm_fmt.bits, cfg_norm_frac=pr.norm_fmt.frac & 0xFF,
            cfg_out_shift=case.out_shift & 0xFF, cfg_out_bits=case.out_fmt.bits, cfg_out_signed=int(case.out_fmt.signed),
        )
        instrs.append(dict(
            name=case.name, cfg=cfg, blob=beats, xb={str(k): v for k, v in xb.items()},
            am_init={str(k): v for k, v in am_init.items()}, expect={str(k): v for k, v in expect.items()},
            cycles=ov_layernorm_cycles(rows, case.heads, p, L, sb, m_bits),
        ))
        if pr.eps_int >= 1 << var_w:
            raise ValueError(f"{case.name}: eps_int does not fit VAR_W")
    vec = dict(params=params, lanes=L, out_bits=8, instructions=instrs, idle=idle, seed=seed,
               check_cycles=(idle == 0.0), back_to_back=back_to_back)
    return params, vec
