"""Test vectors of the overlay softmax unit (``rtl/spvit_ov_softmax.sv``).

An instruction reads ``rows`` score rows of ``n`` int8 values from AM, pops the exp table that
:meth:`spvit_fpga.hw.overlay.layout.ParamStream.add_table16` writes (unless it keeps the previous
one), and writes ``intops.int_softmax`` of every row to AM (unsigned 8-bit lanes, lanes beyond
``n`` untouched).  :func:`softmax_vectors` builds a run of instructions for one build of the unit;
:func:`ov_softmax_cycles` is the unit's cycle formula (the module header's).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from spvit_fpga.ir import intops
from spvit_fpga.hw.overlay.layout import ParamStream
from spvit_fpga.ir.intops import FixedFormat

__all__ = ["SMCase", "ov_softmax_cycles", "softmax_blob_beats", "softmax_vectors", "default_cases", "DEFAULT_IR",
           "reference_softmax"]

DEFAULT_IR = Path(__file__).resolve().parents[2] / "default_model" / "ir"


def ov_softmax_cycles(rows: int, length: int, entries: int, sm_lanes: int, pf_max: int = 8,
                      load_table: bool = True) -> int:
    """Cycles from ``start`` to ``done`` with a param stream that never stalls
    (``rtl/spvit_ov_softmax.sv``: ``LOAD + (R + 2)*W + 17 + 2*log2(SM) + NS``, ``W = ceil(n/SM)``,
    ``NS = ceil((PF_MAX + 1)/2)``, ``LOAD = entries + 1`` or 0; ``LOAD + 1`` without rows)."""
    load = entries + 1 if load_table else 0
    if rows == 0:
        return load + 1
    w = -(-length // sm_lanes)
    ns = -(-(pf_max + 1) // 2)
    return load + (rows + 2) * w + 17 + 2 * (sm_lanes.bit_length() - 1) + ns


def softmax_blob_beats(entries: int, beat_bytes: int) -> int:
    return -(-2 * entries // beat_bytes)


def reference_softmax(x: np.ndarray, table: np.ndarray, prob_fmt: FixedFormat) -> np.ndarray:
    """intops.int_softmax's steps with an explicit table (``k = min(m - x, len(table) - 1)``), for
    tables shorter than the score range (the clamp); equals intops.int_softmax with its own table."""
    xt = torch.as_tensor(x, dtype=torch.int64)
    t = torch.as_tensor(table, dtype=torch.int64)
    m = xt.max(dim=-1, keepdim=True).values
    e = t[(m - xt).clamp(max=t.numel() - 1)]
    s = e.sum(dim=-1, keepdim=True)
    return intops.saturate(intops.int_rounded_div(e * (1 << prob_fmt.frac), s), prob_fmt).numpy()


@dataclass
class SMCase:
    """One SOFTMAX instruction: ``x`` is ``[rows, n]`` (score integers in ``in_fmt``)."""

    name: str
    x: np.ndarray
    in_fmt: FixedFormat
    prob_fmt: FixedFormat
    exp_frac: int = intops.DEFAULT_EXP_FRAC
    table: Optional[np.ndarray] = None  # None: intops.exp_table(in_fmt, exp_frac)
    load_table: bool = True

    def exp_table(self) -> np.ndarray:
        if self.table is not None:
            return np.asarray(self.table, dtype=np.int64)
        return intops.exp_table(self.in_fmt, self.exp_frac).numpy()

    def expected(self) -> np.ndarray:
        if self.x.size == 0:
            return np.zeros_like(self.x)
        if self.table is None:
            return intops.int_softmax(torch.as_tensor(self.x, dtype=torch.int64), in_fmt=self.in_fmt,
                                      prob_fmt=self.prob_fmt, exp_frac=self.exp_frac).numpy()
        return reference_softmax(self.x, self.exp_table(), self.prob_fmt)


def _rows(rng: np.random.Generator, n: int, count: int, fmt: FixedFormat, kinds: Sequence[str]) -> np.ndarray:
    lo, hi = fmt.min_int, fmt.max_int
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "full":
            r = rng.integers(lo, hi + 1, n)
        elif kind == "equal":
            r = np.full(n, int(rng.integers(lo, hi + 1)))
        elif kind == "peak":  # one maximum, the rest at the minimum: the table's tail
            r = np.full(n, lo)
            r[int(rng.integers(0, n))] = hi
        elif kind == "near":  # a few values near the top: ties in the division
            r = rng.choice([hi, hi - 1, hi - 8], n)
        elif kind == "spread":
            centre = int(rng.integers(lo, hi + 1))
            r = np.clip(centre + rng.integers(-16, 17, n), lo, hi)
        else:
            raise ValueError(kind)
        out.append(np.asarray(r, dtype=np.int64))
    return np.stack(out) if out else np.zeros((0, n), dtype=np.int64)


def ir_cases(rng: np.random.Generator, ir_dir: Path = DEFAULT_IR) -> List[SMCase]:
    """Score rows with the formats and exp table of the micro model's attention (blocks 0 and 3:
    two score formats), T = 1 + 64 tokens, and a pruned length."""
    from spvit_fpga.ir.graph import load_ir

    ir = load_ir(ir_dir)
    cases = []
    for b, n, rows in ((ir.blocks[0], 65, 6), (ir.blocks[3], 37, 5)):
        a = b.attn
        assert np.array_equal(np.asarray(a.exp_table), intops.exp_table(a.score_fmt, a.exp_frac).numpy())
        cases.append(SMCase(name=f"micro {a.name} (n={n})", x=_rows(rng, n, rows, a.score_fmt,
                                                                     ["full", "spread", "peak", "equal", "near"]),
                            in_fmt=a.score_fmt, prob_fmt=a.prob_fmt, exp_frac=a.exp_frac,
                            table=np.asarray(a.exp_table)))
    return cases


def default_cases(seed: int = 0, *, t_max: int = 200, big: bool = True) -> List[SMCase]:
    """The bench's cases: micro (real IR), DeiT-like T = 197 rows, short rows (1, 2, SM, SM + 1
    elements...), all-equal and single-peak rows, unsigned scores, other probability formats and
    exp fractions, a table shorter than the score range (the clamp k = entries - 1), an
    instruction that keeps the previous table, and one without rows."""
    rng = np.random.default_rng(seed)
    s8 = FixedFormat(8, 3)
    p8 = intops.prob_format(8)
    cases = ir_cases(rng)
    if big:
        cases.append(SMCase("DeiT-like T=197", _rows(rng, 197, 3, FixedFormat(8, 2), ["full", "spread", "peak"]),
                            FixedFormat(8, 2), p8))
    for n in (1, 2, 7, 8, 9, 16, 17):
        cases.append(SMCase(f"short rows n={n}", _rows(rng, n, 3, s8, ["full", "equal", "peak", "near"]), s8, p8))
    cases.append(SMCase("keeps the table (no blob), n=12", _rows(rng, 12, 4, s8, ["full", "near"]), s8, p8,
                        load_table=False))
    cases.append(SMCase("unsigned scores", _rows(rng, 30, 4, FixedFormat(8, 4, False), ["full", "spread", "peak"]),
                        FixedFormat(8, 4, False), p8))
    cases.append(SMCase("prob (8, 7), exp_frac 12", _rows(rng, 21, 4, s8, ["full", "equal", "peak"]), s8,
                        FixedFormat(8, 7, False), exp_frac=12))
    cases.append(SMCase("prob (6, 6), 6-bit scores", _rows(rng, 10, 3, FixedFormat(6, 1), ["full", "spread"]),
                        FixedFormat(6, 1), intops.prob_format(6)))
    short = intops.exp_table(s8).numpy()[:40]
    cases.append(SMCase("table of 40 entries (clamp)", _rows(rng, 20, 4, s8, ["full", "peak", "spread"]), s8, p8,
                        table=short))
    cases.append(SMCase("no rows", np.zeros((0, 5), dtype=np.int64), s8, p8))
    return cases


def _pack8(values: Sequence[int]) -> int:
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & 0xFF) << (8 * i)
    return out


def softmax_vectors(cases: Sequence[SMCase], *, lanes: int = 8, beat_bytes: int = 32, sm_lanes: int = 8,
                    seed: int = 0, idle: float = 0.0, pf_max: int = 8, t_max: Optional[int] = None,
                    corrupt_table: bool = False, back_to_back: bool = False,
                    region: int = 200) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(parameters, vectors)`` of one build of ``spvit_ov_softmax`` running ``cases`` in order
    (per instruction: configuration, blob beats, the score words, the prefilled probability region
    and its expected words, the formula's cycle count).  ``corrupt_table`` changes one table entry
    in the first blob after the expectations were computed (the bench must then fail).
    ``back_to_back``: the bench runs the instructions as one program, each starting in its
    predecessor's done cycle; instruction ``k`` then uses the AM addresses ``k*region ..``."""
    rnd = random.Random(seed)
    L = lanes
    t_max = t_max or max(max((c.x.shape[1] for c in cases), default=1), 1)
    depth = max(len(c.exp_table()) for c in cases)
    params: Dict[str, Any] = dict(L=L, SB=beat_bytes, SM=sm_lanes, T_MAX=t_max, EXP_DEPTH=max(depth, 2),
                                  PF_MAX=pf_max, ROW_W=12, AM_AW=12)
    instrs = []
    table_loaded = False
    for idx, case in enumerate(cases):
        rows, n = case.x.shape
        if n > t_max:
            raise ValueError(f"{case.name}: rows of {n} exceed T_MAX = {t_max}")
        if case.prob_fmt.frac > pf_max or case.prob_fmt.bits > 8:
            raise ValueError(f"{case.name}: probability format {case.prob_fmt} beyond the build")
        table = case.exp_table()
        if not case.load_table and not table_loaded:
            raise ValueError(f"{case.name}: keeps a table, but none was loaded before")
        beats: List[int] = []
        if case.load_table:
            ps = ParamStream(beat_bytes)
            ps.add_table16(table)
            data = ps.stream_bytes()
            if corrupt_table and idx == 0:
                bad = table.copy()
                bad[1] = bad[1] // 2
                ps2 = ParamStream(beat_bytes)
                ps2.add_table16(bad)
                data = ps2.stream_bytes()
            beats = [int.from_bytes(data[i:i + beat_bytes], "little") for i in range(0, len(data), beat_bytes)]
            assert len(beats) == softmax_blob_beats(len(table), beat_bytes)
            table_loaded = True
        y = case.expected()
        wpr = -(-n // L)
        off = idx * region if back_to_back else 0
        src_base, dst_base = off + rnd.randrange(0, 30), off + rnd.randrange(0, 30)
        src_stride = wpr + rnd.choice((0, 1, 2))
        dst_stride = wpr + rnd.choice((0, 0, 1))
        am_src = {}
        for r in range(rows):
            for w in range(wpr):
                vals = list(case.x[r, w * L:(w + 1) * L])
                vals += [rnd.randrange(256) for _ in range(L - len(vals))]  # garbage beyond n
                am_src[src_base + r * src_stride + w] = _pack8(vals)
        top = dst_base + max(rows, 1) * dst_stride + 1
        init = {a: rnd.getrandbits(8 * L) for a in range(max(0, dst_base - 1), top + 1)}
        expect = dict(init)
        for r in range(rows):
            for w in range(wpr):
                a = dst_base + r * dst_stride + w
                word = init[a]
                for ln in range(L):
                    j = w * L + ln
                    if j < n:
                        word = (word & ~(0xFF << (8 * ln))) | (int(y[r, j]) << (8 * ln))
                expect[a] = word
        cfg = dict(cfg_rows=rows, cfg_len=n, cfg_src_base=src_base, cfg_src_stride=src_stride, cfg_dst_base=dst_base,
                   cfg_dst_stride=dst_stride, cfg_in_signed=int(case.in_fmt.signed), cfg_entries=len(table),
                   cfg_load_table=int(case.load_table), cfg_prob_bits=case.prob_fmt.bits,
                   cfg_prob_frac=case.prob_fmt.frac)
        instrs.append(dict(name=case.name, cfg=cfg, blob=beats, src={str(k): v for k, v in am_src.items()},
                           am_init={str(k): v for k, v in init.items()}, expect={str(k): v for k, v in expect.items()},
                           cycles=ov_softmax_cycles(rows, n, len(table), sm_lanes, pf_max, case.load_table)))
    vec = dict(params=params, lanes=L, instructions=instrs, idle=idle, seed=seed, check_cycles=(idle == 0.0),
               back_to_back=back_to_back)
    return params, vec
