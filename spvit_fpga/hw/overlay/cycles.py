"""Cycle model of the overlay engine: the cycles of every instruction, for any kept-token counts.

Each unit's cycle formula is the one its RTL header states and its testbench checks exactly
(``rtl/spvit_ov_*.sv``): the functions ``*_cycles`` below are those formulas, and the unit tests
compare the simulated cycles with them.  Around the units:

* the sequencer (``rtl/spvit_ov_ctrl.sv``) spends :data:`CTRL_CYCLES` cycles between one unit's
  ``done`` and the next unit's ``start``;
* the param stream is produced by the weight fetch at the simulated memory's rate (``NP`` ports of
  one beat a cycle each, all together at most ``ddr_bytes_per_cycle``), starting ``ddr_latency``
  cycles after the image starts, and runs ahead of the consumers by at most the port FIFOs; a unit
  that pops a beat before it exists waits for it.  :class:`_Stream` follows every beat.

The GEMM recurrence takes the beat arrival times into account; the other units add their stall
cycles beat by beat.  The model's error against the RTL simulation is measured by
``benchmarks/deit_rtl.py`` and stated beside every figure that uses it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .arch import OverlayConfig
from .program import (Concat, Count, Gemm, HeadMean, LayerNorm, LoadXB, Pixels, Program, Result, Select, Softmax,
                      TokenMean)

__all__ = ["StepCycles", "program_cycles", "counts_for_kept", "gemm_cycles", "layernorm_cycles", "softmax_cycles",
           "selector_cycles", "loadxb_cycles", "pixel_runs", "CTRL_CYCLES", "FETCH_START", "ParamStreamTiming"]

CTRL_CYCLES = 6
BURST_ISSUE = 5  # pop that frees a burst's room -> first beat of that burst at the consumer, besides the DDR latency
"""Cycles from a unit's ``done`` to the next unit's ``start`` (ROM read 2, count operands 1, counts 1, chunks
1, launch 1)."""
FETCH_START = 5
"""Cycles from the image start to the fetch's first AR (controller start pulse, then the fetch's s+4)."""


def _log2(x: int) -> int:
    return x.bit_length() - 1


@dataclass
class StepCycles:
    name: str
    op: str
    cycles: int  # from this instruction's launch to the next one's (unit cycles + CTRL_CYCLES)
    start: int
    stream_beats: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


class _Stream:
    """Arrival of the param-stream beats at the consumers."""

    def __init__(self, cfg: OverlayConfig, total_beats: int) -> None:
        self.period = cfg.stream_bytes / min(float(cfg.stream_bytes), cfg.ddr_bytes_per_cycle)  # cycles a beat
        self.first = FETCH_START + cfg.ddr_latency + 2
        self.fifo = cfg.fifo_beats
        self.burst = min(cfg.max_burst, 4096 // cfg.port_bytes)  # port beats a burst (regions are 4 KiB aligned)
        self.refill = cfg.ddr_latency + BURST_ISSUE
        self.total = total_beats
        self.next = 0  # next beat to pop
        self.pops: list[float] = []  # pop time of every beat so far
        self.last = -math.inf  # arrival of the previous beat

    def arrival(self, j: int) -> float:
        """Arrival of beat ``j`` (called in beat order): no earlier than the DDR rate allows after the
        previous beat (the shared budget holds at most one beat of credit, so a stream held back by a
        full FIFO does not catch up in a burst), nor before the FIFO had room for it."""
        t = max(self.first + j * self.period, self.last + self.period)
        if j >= self.fifo:
            t = max(t, self.pops[j - self.fifo] + 2)  # the FIFO had no room until that beat left
            # a burst is requested only when the FIFO has room for all of it: the first beat of burst
            # m waits for the pop that freed that room, then the read latency
            m0 = (j // self.burst) * self.burst
            g = m0 + self.burst - self.fifo - 1
            if j == m0 and g >= 0:
                t = max(t, self.pops[g] + self.refill)
        return t

    def pop(self, earliest: float) -> float:
        """Pop the next beat no earlier than ``earliest``; returns the pop cycle."""
        a = self.arrival(self.next)
        self.last = a
        t = max(earliest, math.ceil(a))
        self.pops.append(t)
        self.next += 1
        return t

    def pop_many(self, n: int, earliest: float) -> float:
        """Pop ``n`` beats one a cycle from ``earliest`` on; returns the last pop's cycle (or
        ``earliest - 1`` when n is 0)."""
        t = earliest - 1
        for _ in range(n):
            t = self.pop(t + 1)
        return t


ParamStreamTiming = _Stream
"""The param stream's beat arrival model (DDR rate of the ports used, first-beat latency, port FIFO
depth), for other schedules of the same stream (the HLS engine's cycle model)."""


def gemm_cycles(ins: Gemm, rows: int, k_in: int, n_out: int, cfg: OverlayConfig, stream: Optional[_Stream] = None,
                t_start: float = 0.0) -> int:
    """``rtl/spvit_ov_gemm.sv``'s recurrence (start in cycle 0, done in the returned cycle).  With
    ``stream`` the beats are popped at their arrival times (``t_start`` = the start cycle)."""
    L, SB = cfg.lanes, cfg.stream_bytes
    T0 = 6 + _log2(L)
    nb, kc = -(-n_out // L), -(-k_in // L)
    am = ins.w_src == "am"
    wb = 2 if ins.w_bits > 8 else 1
    load = L if am else -(-(L * L * wb) // SB)
    G, H = (0, 4) if am else (2, 2)
    bb = -(-(4 * L) // SB) if ins.bias else 0
    tt = 0
    if ins.table is not None:
        tt = (-(-(1 << ins.table[0].bits) // SB) - 1) * (SB // min(SB, 8)) + 1
    transposed = ins.dst_kind == "am_t"
    drain = T0 + L + 11 if transposed else T0 + 9

    def pop(n: int, earliest: int) -> int:
        """Cycle of the last of n beats popped one a cycle from ``earliest``; without a stream the
        beats never wait."""
        if n == 0:
            return earliest - 1
        if stream is None:
            return earliest + n - 1
        return int(stream.pop_many(n, t_start + earliest) - t_start)

    tiles = [(b, c) for b in range(nb) for c in range(kc)]
    e_prev = i_prev = s_prev = 0
    if tt and stream is not None:
        tbl_beats = -(-(1 << ins.table[0].bits) // SB)
        pop(tbl_beats, 1)
    for idx, (b, c) in enumerate(tiles):
        x = bb if c == 0 else 0
        s = L * -(-rows // L) if (transposed and c == kc - 1) else rows
        if idx == 0:
            after_bias = pop(x, tt + 1) if not am else tt + x
            e = (after_bias + load) if am else pop(load, after_bias + 1)
        else:
            after_bias = (pop(x, e_prev + 1) if not am else e_prev + x)
            begin = max(after_bias + 1, i_prev + G)
            e = (begin + load - 1) if am else pop(load, begin)
        i = e + H if idx == 0 else max(e + H, i_prev + s_prev)
        e_prev, i_prev, s_prev = e, i, s
    return i_prev + s_prev + drain


def loadxb_cycles(words: int, beats: int, beat_bytes: int, lanes: int) -> int:
    """``rtl/spvit_ov_loadxb.sv``: ``words + 3`` when a beat holds whole words (``SB >= 2L``), else
    ``beats + 2`` (1 without words); each cycle without a beat when one is wanted adds one."""
    if words == 0:
        return 1
    return words + 3 if beat_bytes >= 2 * lanes else beats + 2


def layernorm_cycles(ins: LayerNorm, rows: int, cfg: OverlayConfig, blob_beats: int, stream: Optional[_Stream] = None,
                     t_start: float = 0.0) -> int:
    """``rtl/spvit_ov_layernorm.sv``: ``NB + (J + 1)*P + 45 + log2 L`` (``NB + 1`` without rows);
    param-stream stalls delay it cycle for cycle."""
    L = cfg.lanes
    p = ins.channels // L
    stall = 0
    if stream is not None and blob_beats:
        last = stream.pop_many(blob_beats, t_start + 1)
        stall = int(last - t_start) - blob_beats
    j = rows * ins.heads
    base = blob_beats + 1 if j == 0 else blob_beats + (j + 1) * p + 45 + _log2(L)
    return base + stall


def softmax_cycles(ins: Softmax, rows: int, length: int, cfg: OverlayConfig, blob_beats: int, pf_max: int = 8,
                   stream: Optional[_Stream] = None, t_start: float = 0.0) -> int:
    """``rtl/spvit_ov_softmax.sv``: ``LOAD + (R + 2)*W + 17 + 2*log2(SM) + NS``, ``W = ceil(n/SM)``,
    ``NS = ceil((PF_MAX + 1)/2)``, ``LOAD = entries + 1`` (0 without a table), ``LOAD + 1`` without rows."""
    sm = cfg.sm_lanes
    load = ins.table_entries + 1 if ins.blob >= 0 else 0
    if stream is not None and blob_beats:
        # the table's entries are written one a cycle; a beat holds SB/2 entries, so a stall only
        # shows if the stream is slower than that
        last = stream.pop_many(blob_beats, t_start + 1)
        load = max(load, int(last - t_start) + 2)
    if rows == 0:
        return load + 1
    w = -(-length // sm)
    ns = -(-(pf_max + 1) // 2)
    return load + (rows + 2) * w + 17 + 2 * _log2(sm) + ns


def selector_cycles(op: str, *, L: int, x_w: int = 16, div_steps: int = 2, n: int = 0, t: int = 1, heads: int = 1,
                    half: int = 0, dpl: int = 1, same_bank: bool = False, rule: str = "threshold", k: int = 0,
                    table_beats: int = 0) -> int:
    """``rtl/spvit_ov_selector.sv`` (no param-stream stalls; each stall cycle of SELECT's table adds one).
    ``I = ceil(X_W/DIV_STEPS)``, ``LW = log2 L``:

    * HEAD_MEAN: ``N*D/L + 16 + LW + I`` (5 when N = 0)
    * TOKEN_MEAN: ``N*H*ceil(half/L) + 11 + H*half + I + 10`` (``H*half + I + 13`` when N = 0)
    * CONCAT: ``N*H*S + 9``, ``S = dh/L`` slots a row (half < L: 1, or 2 when A and B share a bank)
    * SELECT: ``3 + B + [N > 0](N*(H + same*ceil(H/L)) + 17 + I) + [top-k, k < N](N*ceil(N/L) + 5 + LW)
      + [T > 1]((T-1)*D/L + 8) + D + I + 10``
    """
    it, lw = -(-x_w // div_steps), _log2(L)
    if op == "HEAD_MEAN":
        return 5 if n == 0 else n * dpl + 16 + lw + it
    if op == "TOKEN_MEAN":
        drain = heads * half + it + 10
        return 3 + drain if n == 0 else n * heads * max(1, half // L) + 11 + drain
    if op == "CONCAT":
        slots = 2 * half // L if half >= L else (2 if same_bank else 1)
        return 5 if n == 0 else n * heads * slots + 9
    if op == "SELECT":
        c = 3 + table_beats
        if n > 0:
            c += n * (heads + (-(-heads // L) if same_bank else 0)) + 17 + it
            if rule == "topk" and k < n:
                c += n * -(-n // L) + 5 + lw
        if t > 1:
            c += (t - 1) * dpl + 8
        return c + dpl * L + it + 10
    raise ValueError(op)


def pixel_runs(c: int, h: int, w: int, patch: int, lanes: int, pix: int = 16) -> int:
    """AM word writes of ``rtl/spvit_ov_pixels.sv`` for one image: every beat split into runs that
    stay inside one patch row segment and one word."""
    n = c * h * w
    runs = 0
    for b0 in range(0, n, pix):
        bn, pos = min(pix, n - b0), 0
        while pos < bn:
            rem = (b0 + pos) % (h * w)
            q = rem % w
            col = ((rem // w) % patch) * patch + q % patch
            pos += min(bn - pos, patch - q % patch, lanes - col % lanes)
            runs += 1
    return runs


def _blob_beats(prog: Program, ins: Any) -> int:
    blob = getattr(ins, "blob", -1)
    return prog.stream.blobs[blob].beats if blob >= 0 else 0


def program_cycles(prog: Program, steps: Sequence[dict[str, Any]]) -> list[StepCycles]:
    """Cycles of every instruction for one image's run-time counts (``steps`` from
    :func:`spvit_fpga.hw.overlay.execute.run_engine` or :func:`counts_for_kept`).  Each entry's
    ``cycles`` runs from its launch to the next instruction's launch (the last: to the image's done)."""
    cfg, L = prog.cfg, prog.cfg.lanes
    st = _Stream(cfg, prog.stream.beats)
    sms = [i for i in prog.instructions if isinstance(i, Softmax)]
    pf_max = max((i.prob_fmt.frac for i in sms), default=8)
    dpl = prog.embed_dim // L
    t = 0
    out: list[StepCycles] = []
    for ins, info in zip(prog.instructions, steps):
        nb = _blob_beats(prog, ins)
        t_unit = t + 1  # the unit sees start one cycle after the launch
        if isinstance(ins, LoadXB):
            words = ins.rows * dpl
            last = st.pop_many(nb, t_unit + 1)
            u = max(loadxb_cycles(words, nb, cfg.stream_bytes, L), int(last - t_unit) + 2)
        elif isinstance(ins, Pixels):
            u = pixel_runs(ins.channels, ins.height, ins.width, ins.patch, L) + 3
        elif isinstance(ins, Gemm):
            u = gemm_cycles(ins, info["rows"], info["k_in"], info["n_out"], cfg,
                            st if ins.w_src == "stream" else None, t_unit)
        elif isinstance(ins, LayerNorm):
            u = layernorm_cycles(ins, info["rows"] // ins.heads, cfg, nb, st, t_unit)
        elif isinstance(ins, Softmax):
            u = softmax_cycles(ins, info["rows"], info["length"], cfg, nb, pf_max, st, t_unit)
        elif isinstance(ins, HeadMean):
            u = selector_cycles("HEAD_MEAN", L=L, x_w=prog.x_fmt.bits, n=info["rows"], dpl=dpl)
        elif isinstance(ins, TokenMean):
            u = selector_cycles("TOKEN_MEAN", L=L, x_w=prog.x_fmt.bits, n=info["rows"], heads=ins.heads, half=ins.half)
        elif isinstance(ins, Concat):
            same = prog.tensors[ins.src].bank == prog.tensors[ins.glob].bank
            u = selector_cycles("CONCAT", L=L, x_w=prog.x_fmt.bits, n=info["rows"], heads=ins.heads, half=ins.half,
                                same_bank=same)
        elif isinstance(ins, Select):
            same = prog.tensors[ins.w_tensor].bank == prog.tensors[ins.d_tensor].bank
            stall = 0
            if nb:
                last = st.pop_many(nb, t_unit + 3)
                stall = int(last - (t_unit + 2)) - nb
            u = selector_cycles("SELECT", L=L, x_w=prog.x_fmt.bits, n=info["rows"], t=info["T"], heads=ins.heads,
                                dpl=dpl, same_bank=same, rule=ins.decision, k=ins.topk, table_beats=nb) + max(0, stall)
        elif isinstance(ins, Result):
            u = ins.num_classes + ins.stages + 4
        else:
            raise AssertionError(type(ins))
        cycles = u + CTRL_CYCLES
        out.append(StepCycles(ins.name, ins.op, cycles, t, nb, {k: v for k, v in info.items() if k not in ("name", "op")}))
        t += cycles
    return out


def counts_for_kept(prog: Program, kept: Sequence[int]) -> list[dict[str, Any]]:
    """The run-time counts of every instruction when stage ``s`` keeps ``kept[s]`` patch tokens
    (what :func:`~spvit_fpga.hw.overlay.execute.run_engine` records, without running the model)."""
    regs = {"T": 1 + prog.n_max, "N": prog.n_max}
    out: list[dict[str, Any]] = []
    stage = 0
    for ins in prog.instructions:
        info: dict[str, Any] = {"name": ins.name, "op": ins.op, **regs}
        if isinstance(ins, Gemm):
            info.update(rows=ins.rows.value(regs), k_in=ins.k_in.value(regs), n_out=ins.n_out.value(regs))
        elif isinstance(ins, LayerNorm):
            info["rows"] = ins.rows.value(regs) * ins.heads
        elif isinstance(ins, Softmax):
            info.update(rows=ins.rows.value(regs), length=ins.length.value(regs))
        elif isinstance(ins, (HeadMean, TokenMean, Concat)):
            info["rows"] = regs["N"]
        elif isinstance(ins, Select):
            k = int(kept[stage])
            if not 0 <= k <= regs["N"]:
                raise ValueError(f"stage {stage} cannot keep {k} of {regs['N']} tokens")
            info.update(rows=regs["N"], kept=k)
            regs = {"T": regs["T"] - regs["N"] + k + 1, "N": k}
            stage += 1
        out.append(info)
    return out
