"""Test vectors and models for the overlay GEMM unit ``rtl/spvit_ov_gemm.sv``.

* The packed-DSP arithmetic of ``rtl/spvit_ov_dsp.sv`` as integers (:func:`pack_pair`,
  :func:`dsp_unpack`, vectorised :func:`dsp_unpack_np`) for the exhaustive exactness proof and
  the element's cocotb check.
* :func:`gemm_case`: one GEMM instruction as the unit sees it -- its configuration ports, the
  words of the buffers it reads (with stale data wherever the instruction must not look), the
  param-stream beats of its blob (written by :mod:`spvit_fpga.hw.overlay.layout`, as in the
  engine), and the expected buffer images after it (from :func:`spvit_fpga.intops.int_linear`
  and :func:`~spvit_fpga.intops.table_lookup`, exactly what
  :meth:`spvit_fpga.hw.overlay.execute._Engine.gemm` computes).
* :func:`gemm_cycles`: the exact cycle count of an instruction (the recurrence of the module
  header) when the param stream never stalls.

Everything here is plain Python / numpy / torch (no simulator imports): the pytest side builds
the vectors, the cocotb testbench ``rtl_sim/tb_ov_gemm.py`` only replays them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from spvit_fpga.ir import intops
from spvit_fpga.hw.overlay.layout import ParamStream
from spvit_fpga.ir.intops import FixedFormat

__all__ = ["PACK_SHIFT", "W_BITS", "pack_pair", "dsp_unpack", "dsp_unpack_np", "packable", "GemmParams",
           "gemm_params", "gemm_case", "gemm_cycles", "DST_KINDS"]

PACK_SHIFT = 18
W_BITS = 9  # weight field width of the array (8-bit weights are sign-extended)
DST_KINDS = {"am": 0, "am_t": 1, "xb": 2, "result": 3}


# --------------------------------------------------------------------------------------------
# packed DSP arithmetic (rtl/spvit_ov_dsp.sv, rtl/spvit_ov_gemm_array.sv)
# --------------------------------------------------------------------------------------------


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def packable(w1: int, w2: int, shift: int = PACK_SHIFT) -> bool:
    """The odd-row field ``h = w2 - (w1 < 0)`` fits the 9-bit weight field (so the A operand is
    ``shift + 9`` bits): true for every pair of 8-bit weights and for 9-bit weights in
    [-255, 255]; false only for ``w2 = -256`` with ``w1 < 0``."""
    h = w2 - (1 if w1 < 0 else 0)
    return -(1 << (W_BITS - 1)) <= h < (1 << (W_BITS - 1))


def pack_pair(w1: int, w2: int, shift: int = PACK_SHIFT) -> int:
    """The A-operand bit pattern of a DSP (``shift + 9`` bits): ``{h[8:0], sext(w1)[shift-1:0]}``
    with ``h = w2 - (w1 < 0)``; as a signed number it equals ``w1 + w2 * 2**shift``."""
    if not packable(w1, w2, shift):
        raise ValueError(f"weights ({w1}, {w2}) do not fit the packed field")
    h = w2 - (1 if w1 < 0 else 0)
    return ((h & ((1 << W_BITS) - 1)) << shift) | (w1 & ((1 << shift) - 1))


def dsp_unpack(a_bits: int, x: int, shift: int = PACK_SHIFT) -> Tuple[int, int]:
    """(lo, hi) of the DSP for activation ``x`` and A pattern ``a_bits``: ``P = x * a``,
    ``lo = sext(P[shift-1:0])``, ``hi = (P >> shift) + P[shift-1]``."""
    a = _signed(a_bits, shift + W_BITS)
    p = x * a
    lo = _signed(p, shift)
    hi = (p >> shift) + ((p >> (shift - 1)) & 1)
    return lo, hi


def dsp_unpack_np(w1: np.ndarray, w2: np.ndarray, x: np.ndarray, shift: int = PACK_SHIFT) -> Tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`pack_pair` + :func:`dsp_unpack` (int64 throughout; broadcasting)."""
    w1, w2, x = (np.asarray(v, dtype=np.int64) for v in (w1, w2, x))
    h = w2 - (w1 < 0)
    a_bits = ((h & ((1 << W_BITS) - 1)) << shift) | (w1 & ((1 << shift) - 1))
    aw = shift + W_BITS
    a = np.where(a_bits >> (aw - 1) != 0, a_bits - (1 << aw), a_bits)
    p = x * a
    lo_f = p & ((1 << shift) - 1)
    lo = np.where(lo_f >> (shift - 1) != 0, lo_f - (1 << shift), lo_f)
    hi = (p >> shift) + ((p >> (shift - 1)) & 1)
    return lo, hi


# --------------------------------------------------------------------------------------------
# build parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GemmParams:
    L: int = 8
    PACK: int = 2
    SB: int = 32
    ACC_W: int = 32
    X_W: int = 16
    T_MAX: int = 24
    AM_AW: int = 10
    XB_AW: int = 10
    RS_AW: int = 3
    CNT_W: int = 6
    TBL_BITS: int = 8
    TBL_G: int = 8

    def as_dict(self) -> Dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


def gemm_params(**kw: int) -> GemmParams:
    return GemmParams(**kw)


# --------------------------------------------------------------------------------------------
# cycle formula
# --------------------------------------------------------------------------------------------


def gemm_cycles(p: GemmParams, *, rows: int, kc: int, nb: int, w_am: bool, w16: bool = False, bias: bool = False,
                table_in_bits: Optional[int] = None, dst: str = "am") -> int:
    """Cycles from the cycle the instruction is taken (0) to its ``done`` cycle when the param
    stream is never empty: the recurrence in the header of ``rtl/spvit_ov_gemm.sv``.  Tile k's
    last element is loaded in cycle ``E_k`` (``LOAD`` = stream beats or L AM rows, started no
    earlier than ``G`` cycles after the previous tile's issue and after a block's bias beats) and
    it issues from ``I_k`` (``H`` cycles after ``E_k``, and after the previous tile's slots)."""
    L, SB = p.L, p.SB
    lg = L.bit_length() - 1
    t0 = 6 + lg
    ew = t0 + 9
    tb = -(-(L * L * (2 if w16 else 1)) // SB)
    bb = -(-(4 * L) // SB)
    tt = 0
    if table_in_bits is not None:
        tt = (-(-(1 << table_in_bits) // SB) - 1) * (SB // p.TBL_G) + 1
    rp = L * -(-rows // L)
    load, gap, ready = (L, 0, 4) if w_am else (tb, 2, 2)
    e = i = s_prev = 0
    for k in range(nb * kc):
        c = k % kc
        x = bb if (bias and c == 0) else 0
        if k == 0:
            ls = 1 + tt + x
        else:
            ls = max(e + x + 1, i + gap)
        e = ls + load - 1
        i = e + ready if k == 0 else max(e + ready, i + s_prev)
        s_prev = rp if (dst == "am_t" and c == kc - 1) else rows
    drain = t0 + L + 11 if dst == "am_t" else ew
    return i + s_prev + drain


# --------------------------------------------------------------------------------------------
# one instruction
# --------------------------------------------------------------------------------------------


def _rand(rng: np.random.Generator, lo: int, hi: int, shape) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)


def _extremes(rng: np.random.Generator, a: np.ndarray, lo: int, hi: int, frac: float = 0.3) -> np.ndarray:
    """Overwrite about ``frac`` of ``a`` with the range ends (and 0, -1 where they are in range)."""
    picks = [v for v in (lo, hi, lo + 1, hi - 1, 0, -1) if lo <= v <= hi]
    mask = rng.random(a.shape) < frac
    a = a.copy()
    a[mask] = rng.choice(picks, size=int(mask.sum()))
    return a


def _word(lanes: Sequence[int], width: int) -> int:
    m = (1 << width) - 1
    out = 0
    for i, v in enumerate(lanes):
        out |= (int(v) & m) << (i * width)
    return out


def gemm_case(p: GemmParams, *, name: str, rows: int, k_in: int, n_out: int, seed: int,
              w_src: str = "stream", act_signed: bool = True, w_bits: int = 8,
              bias: bool = True, table: Optional[str] = None, table_in: Optional[FixedFormat] = None,
              table_out: Optional[FixedFormat] = None, shift: int = 8,
              out_fmt: Optional[FixedFormat] = FixedFormat(8, 0), residual_align: Optional[int] = None,
              x_fmt: FixedFormat = FixedFormat(16, 0), dst: str = "am", act_base: int = 5, act_stride: Optional[int] = None,
              w_base: int = 3, w_stride: Optional[int] = None, dst_base: int = 7, dst_stride: Optional[int] = None,
              bias_scale: int = 1 << 12, extreme: float = 0.15) -> Dict[str, Any]:
    """One GEMM instruction: configuration, buffer images before / after, param-stream beats,
    expected cycles (no stream stalls).  ``w_src``: ``"stream"`` (layout.add_gemm blob, with
    ``bias`` and an optional ``table`` ("gelu" / "sigmoid")) or ``"am"`` (W rows from AM, stale
    lanes beyond ``k_in`` and stale rows beyond ``n_out``).  ``dst``: ``am``, ``am_t``, ``xb``
    (``residual_align`` not None: fused residual from the destination words) or ``result``."""
    L = p.L
    rng = np.random.default_rng(seed)
    kc, nb = -(-k_in // L), -(-n_out // L)
    a_lo, a_hi = (-128, 127) if act_signed else (0, 255)
    if w_bits == 8:
        w_lo, w_hi = -128, 127
    elif w_bits == 9:
        w_lo, w_hi = (-255, 255) if p.PACK == 2 else (-256, 255)
    else:
        raise ValueError("w_bits must be 8 or 9")
    if w_src == "am" and w_bits != 8:
        raise ValueError("weights from AM are 8-bit lanes")

    # -- activation tensor in AM (stale lanes beyond k_in, stale words around) --------------
    act_stride = act_stride if act_stride is not None else kc + 1
    x = _extremes(rng, _rand(rng, a_lo, a_hi, (rows, k_in)), a_lo, a_hi, extreme)
    act_words = act_base + rows * act_stride + 2
    act_img = _rand(rng, -128, 127, (act_words, L))  # stale everywhere first
    for r in range(rows):
        for k in range(k_in):
            act_img[act_base + r * act_stride + k // L, k % L] = x[r, k]
    act_img = act_img & 0xFF

    # -- weights ----------------------------------------------------------------------------
    w = _extremes(rng, _rand(rng, w_lo, w_hi, (n_out, k_in)), w_lo, w_hi, extreme)
    b = _rand(rng, -bias_scale, bias_scale, (n_out,)) if bias else np.zeros(n_out, dtype=np.int64)
    tbl = None
    t_in = t_out = None
    if table is not None:
        t_in = table_in if table_in is not None else out_fmt
        t_out = table_out if table_out is not None else FixedFormat(8, 5)
        assert out_fmt is not None and t_in.bits == out_fmt.bits and t_in.signed == out_fmt.signed
        tbl = (intops.gelu_table if table == "gelu" else intops.sigmoid_table)(t_in, t_out).numpy()
    beats: List[int] = []
    w_img = None
    if w_src == "stream":
        ps = ParamStream(p.SB)
        ps.add_gemm(w, b, tbl, L, w16=w_bits > 8)
        data = ps.stream_bytes()
        beats = [int.from_bytes(data[i:i + p.SB], "little") for i in range(0, len(data), p.SB)]
    else:
        w_stride = w_stride if w_stride is not None else kc + 2
        w_words = w_base + nb * L * w_stride + kc + 2
        w_img = _rand(rng, -128, 127, (w_words, L))  # stale lanes and rows
        for n in range(n_out):
            for k in range(k_in):
                w_img[w_base + n * w_stride + k // L, k % L] = w[n, k]
        w_img = w_img & 0xFF

    # -- residual and destination images -----------------------------------------------------
    res = None
    xb_img = None
    if dst == "xb":
        if n_out % L:
            raise ValueError("the XB destination needs n_out a multiple of L (whole residual rows)")
        dst_stride = dst_stride if dst_stride is not None else nb
        xb_words = dst_base + rows * dst_stride + 2
        xl, xh = x_fmt.min_int, x_fmt.max_int
        xb_img = _rand(rng, xl, xh, (xb_words, L))
        if residual_align is not None:
            res = np.zeros((rows, n_out), dtype=np.int64)
            for r in range(rows):
                for n in range(n_out):
                    res[r, n] = xb_img[dst_base + r * dst_stride + n // L, n % L]
            res = _extremes(rng, res, xl, xh, extreme)
            for r in range(rows):
                for n in range(n_out):
                    xb_img[dst_base + r * dst_stride + n // L, n % L] = res[r, n]
    y = intops.int_linear(torch.as_tensor(x), torch.as_tensor(w), torch.as_tensor(b) if bias else None, shift=shift,
                          out_fmt=out_fmt, residual=None if res is None else torch.as_tensor(res),
                          residual_align=residual_align or 0)
    acc = intops.int_linear(torch.as_tensor(x), torch.as_tensor(w), torch.as_tensor(b) if bias else None, shift=0,
                            out_fmt=None)
    if res is not None:
        a = residual_align
        acc = acc + torch.as_tensor(res) * (1 << a) if a >= 0 else acc * (1 << -a) + torch.as_tensor(res)
    amax = int(acc.abs().max())
    if amax >= 1 << (p.ACC_W - 1):
        raise ValueError(f"case {name}: accumulator {amax} exceeds ACC_W = {p.ACC_W}")
    if tbl is not None:
        y = intops.table_lookup(y, torch.as_tensor(tbl), t_in)
    y = y.numpy().astype(np.int64)

    # -- destination images: stale contents, then the instruction's writes --------------------
    def words(img: Optional[np.ndarray], width: int) -> Optional[List[int]]:
        return None if img is None else [_word(row, width) for row in img]

    init_am = final_am = init_xb = final_xb = init_res = final_res = None
    if dst in ("am", "am_t"):
        if dst == "am":
            dst_stride = dst_stride if dst_stride is not None else nb + 1
            size = dst_base + rows * dst_stride + 2
        else:
            dst_stride = dst_stride if dst_stride is not None else -(-rows // L) + 1
            size = dst_base + nb * L * dst_stride + 2
        init = _rand(rng, 0, 255, (size, L))
        final = init.copy()
        for r in range(rows):
            for n in range(n_out):
                if dst == "am":
                    final[dst_base + r * dst_stride + n // L, n % L] = y[r, n] & 0xFF
                else:
                    final[dst_base + n * dst_stride + r // L, r % L] = y[r, n] & 0xFF
        init_am, final_am = words(init, 8), words(final, 8)
    elif dst == "xb":
        final = xb_img.copy()
        for r in range(rows):
            for n in range(n_out):
                final[dst_base + r * dst_stride + n // L, n % L] = y[r, n]
        init_xb, final_xb = words(xb_img, p.X_W), words(final, p.X_W)
    elif dst == "result":
        if rows != 1:
            raise ValueError("the result destination has one row")
        dst_stride = 0
        init = _rand(rng, -(1 << 31), (1 << 31) - 1, (1 << p.RS_AW, L))
        final = init.copy()
        for n in range(n_out):
            final[dst_base + n // L, n % L] = y[0, n]
        init_res, final_res = words(init, 32), words(final, 32)
    else:
        raise ValueError(dst)

    n_last, k_last = n_out - (nb - 1) * L, k_in - (kc - 1) * L
    if out_fmt is None:
        shift_cfg, out_bits, out_signed = 0, 16, True
    else:
        shift_cfg, out_bits, out_signed = shift, out_fmt.bits, out_fmt.signed
    cfg = dict(
        cfg_rows=rows, cfg_kc=kc, cfg_nb=nb, cfg_n_last=n_last, cfg_k_last=k_last,
        cfg_act_base=act_base, cfg_act_stride=act_stride, cfg_act_signed=int(act_signed),
        cfg_w_am=int(w_src == "am"), cfg_w_base=w_base if w_src == "am" else 0,
        cfg_w_stride=(w_stride or 0) if w_src == "am" else 0, cfg_w16=int(w_bits > 8),
        cfg_bias=int(bias and w_src == "stream"), cfg_table=int(tbl is not None),
        cfg_table_in_bits=t_in.bits if t_in is not None else 0,
        cfg_table_out_signed=int(t_out.signed) if t_out is not None else 0,
        cfg_shift=shift_cfg & 0x7F, cfg_res=int(res is not None), cfg_res_align=(residual_align or 0) & 0x3F,
        cfg_raw=int(out_fmt is None), cfg_out_bits=out_bits, cfg_out_signed=int(out_signed),
        cfg_dst=DST_KINDS[dst], cfg_dst_base=dst_base, cfg_dst_stride=dst_stride or 0,
    )
    cycles = gemm_cycles(p, rows=rows, kc=kc, nb=nb, w_am=w_src == "am", w16=w_bits > 8,
                         bias=bool(cfg["cfg_bias"]), table_in_bits=t_in.bits if tbl is not None else None, dst=dst)
    return dict(
        name=name, cfg=cfg, cycles=cycles, beats=beats,
        act=words(act_img, 8), w=words(w_img, 8),
        am_init=init_am, am_final=final_am, xb_init=init_xb, xb_final=final_xb, res_init=init_res, res_final=final_res,
    )
