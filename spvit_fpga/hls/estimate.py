"""Cycle estimates of the generated HLS design, as a function of the kept tokens.

The HLS design runs the overlay engine's layer program (:mod:`spvit_fpga.hw.overlay`), so it shares
the engine's sequencing and DDR model:

* **sequencing** -- the instructions and their run-time counts for a kept-token schedule
  (:func:`~spvit_fpga.hw.overlay.cycles.counts_for_kept`, or the counts an image really had);
* **DDR** -- the param stream's beat arrivals (:data:`~spvit_fpga.hw.overlay.cycles.ParamStreamTiming`:
  the ports actually used, one port beat a cycle each, all together at most the board's peak x 0.8,
  first beat after the read latency, FIFOs of 512 beats a port).  Calibrated against the RTL
  simulation of the same fetch (``rtl/spvit_ov_fetch.sv``, issue 10); the Vitis m_axi adapter is
  assumed to reach the same rate (not measured here: no vendor tools).

Where the HLS schedule differs from the RTL's, the formulas are the HLS units' own:

* **trip counts** (:func:`unit_trips`) -- the iterations of every pipelined loop of
  ``hls/spvit_ov_*.h`` for an instruction.  Exact: the C-simulation counts the iterations of every
  loop (``SPVIT_TRIP``) and ``tests/test_hls_estimate.py`` compares them with these formulas on
  real images.
* **pipeline depths** (:data:`DEPTH`) -- cycles to fill and drain each loop (10-50, not 3).
  *Assumed* from the operators in each loop body (memory read 2, DSP 4, adder tree log2 L, a
  pipelined divider one stage a quotient bit); not calibrated, because only Vitis HLS reports
  them.  ``docs/hls_backend.md`` lists them kernel by kernel so they can be compared with a
  csynth report.
* **overlap** -- a unit's loops run one after the other, except the dataflow regions (LayerNorm's
  three processes, softmax's three passes: the longest trip count plus the depths of the chain);
  GEMM tiles of stream weights hide the next tile's load when R >= its beats, tiles of AM weights
  (QK^T, AV) do not (L load slots first); a beat that has not arrived stalls the GEMM loop.
* **dispatch** -- :data:`DISPATCH` cycles an instruction (ROM read, decode, counts, call).

Every figure is cycles at the board clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from ..hw.overlay.cycles import FETCH_START, ParamStreamTiming, counts_for_kept, program_cycles
from ..hw.overlay.program import (Concat, Gemm, HeadMean, LayerNorm, LoadXB, Pixels, Program, Result, Select, Softmax,
                                  TokenMean)
from .plan import HlsPlan, gemm_slots

__all__ = ["DEPTH", "DISPATCH", "HlsStep", "unit_trips", "hls_program_cycles", "hls_summary", "estimates",
           "latency_table"]

DISPATCH = 5
"""Cycles between two instructions: program ROM read 1, decode 1, counts 1, call and return 2."""

DEPTH = {
    # pipeline depth (fill + drain) of each pipelined loop, assumed (see the module docstring);
    # "+LG": plus log2 L, "+LS": plus log2 SM, "+DIV": plus the divider's quotient bits
    "gemm_table": 4,
    "gemm_slots": 16,  # +LG: act read 2, unpack 1, DSP A/B-M-P 4, two adder trees LG+1, accumulate 2, epilogue 6, write 1
    "skip": 3,
    "ln_load": 3,
    "ln_sums": 8,  # +LG: XB read 2, squares (DSP) 4, lane trees LG, accumulate 1, FIFO 1
    "ln_scalar": 22,  # C*Q 4, S^2 4, C*(CQ - S^2) 4, eps 1, bit length 2, shift 2, table read 2, C*t / S*t 3
    "ln_norm": 18,  # FIFO 1, gamma/beta read 2, d*t (DSP) 4, requantise 3, g*n + b (DSP) 4, requantise 3, write 1
    "sm_table": 3,
    "sm_max": 5,  # +LS: AM read 2, max tree LS, running max 1, FIFO 1
    "sm_exp": 6,  # +LS: table read 2, sum tree LS, running sum 1, FIFO 1
    "sm_div": 5,  # +DIV: FIFO 1, shift 1, divider (16 + PF_MAX quotient bits), saturate 1, write 1
    "load_xb": 3,
    "pixels": 6,
    "head_mean": 6,  # +DIV
    "token_sum": 5,
    "token_div": 4,  # +DIV
    "concat_g": 3,
    "concat": 4,
    "sig_load": 2,
    "scores": 8,  # +DIV: two reads 2, table read 2, products (DSP) 3, divider, writes 1
    "rank": 5,  # +LG: compare tree
    "count": 3,
    "columns": 6,  # XB read 2, p*x (DSP) 3, write 1
    "package": 4,  # +DIV
    "result": 3,
}


@dataclass
class HlsStep:
    name: str
    op: str
    cycles: int  # from this instruction's dispatch to the next one's
    trips: int  # iterations of its pipelined loops (checked against the C-simulation)
    stall: int = 0  # cycles waiting for param-stream beats
    detail: dict[str, Any] = field(default_factory=dict)


def _lg(n: int) -> int:
    return max(0, int(math.log2(n)))


def _blob_beats(prog: Program, ins: Any) -> int:
    b = getattr(ins, "blob", -1)
    return prog.stream.blobs[b].beats if b >= 0 else 0


def _loops(plan: HlsPlan, ins: Any, info: dict[str, Any]) -> list[tuple[str, int]]:
    """(loop, trips) of every pipelined loop the instruction runs, in order (the C++ of
    hls/spvit_ov_*.h); a dataflow region is one entry ``("df:<a>+<b>+<c>", trips of the longest)``
    with the trips of all three in ``info["_df_trips"]``."""
    c, prog = plan.consts, plan.program
    cfg, L, SB = plan.cfg, plan.cfg.lanes, plan.cfg.stream_bytes
    nb = _blob_beats(prog, ins)
    T, N = info["T"], info["N"]
    if isinstance(ins, LoadXB):
        words = ins.rows * c["WPR"]
        ob = 2 * L
        if SB >= ob:
            trips, popped = words, -(-words // (SB // ob))
        else:
            trips = popped = words * (ob // SB)
        return [("load_xb", trips), ("skip", nb - popped)]
    if isinstance(ins, Pixels):
        return [("pixels", c["PIX_RUNS"])]
    if isinstance(ins, Gemm):
        rows = info["rows"]
        if rows == 0:
            return [("skip", nb)]
        out = []
        if ins.table is not None:
            out.append(("gemm_table", max(1, (1 << ins.table[0].bits) // 8)))
        out.append(("gemm_slots", gemm_slots(ins, rows, info["k_in"], info["n_out"], cfg)))
        return out
    if isinstance(ins, LayerNorm):
        p = ins.channels // L
        rt = -(-2 * c["LN_NT"] // SB)

        def gear(ob: int) -> int:
            return p if SB >= ob else p * (ob // SB)

        out = [("ln_load", rt + gear(2 * L) + gear(4 * L))]
        sub = info["rows"]  # rows * heads (counts_for_kept / run_engine record sub-rows)
        if sub > 0:
            words = sub * p
            info["_df_trips"] = words + sub + words
            out.append(("df:ln_sums+ln_scalar+ln_norm", words))
        return out
    if isinstance(ins, Softmax):
        out = []
        if ins.blob >= 0:
            out.append(("sm_table", ins.table_entries))
        rows, n = info["rows"], info["length"]
        if rows > 0:
            chunks = rows * -(-n // cfg.sm_lanes)
            info["_df_trips"] = 3 * chunks
            out.append(("df:sm_max+sm_exp+sm_div", chunks))
        return out
    if isinstance(ins, HeadMean):
        return [("head_mean", N * c["WPR"])]
    if isinstance(ins, TokenMean):
        half, H = ins.half, ins.heads
        w0 = half // L
        wn = -(-2 * half // L) - w0
        gw = -(-half // L)
        return [("token_sum", N * wn), ("token_div", gw * L)] * H
    if isinstance(ins, Concat):
        gw, zw = -(-ins.half // L), -(-2 * ins.half // L)
        return [("concat_g", ins.heads * gw), ("concat", N * ins.heads * zw)]
    if isinstance(ins, Select):
        out = [("sig_load", -(-(1 << ins.delta_fmt.bits) // SB)), ("scores", N * ins.heads)]
        if ins.decision == "topk":
            out.append(("rank", N if ins.topk >= N else N * -(-N // L)))
        out.append(("count", N))
        for _ in range(c["WPR"]):
            out += [("columns", T - 1), ("package", L)]
        return out
    if isinstance(ins, Result):
        return [("result", ins.num_classes + ins.stages)]
    raise AssertionError(type(ins))


def unit_trips(plan: HlsPlan, ins: Any, info: dict[str, Any]) -> int:
    """Iterations of all pipelined loops of one instruction (what the C-simulation counts)."""
    info = dict(info)
    total = 0
    for name, trips in _loops(plan, ins, info):
        total += info.pop("_df_trips") if name.startswith("df:") else trips
    return total


def _depth(plan: HlsPlan, name: str) -> int:
    c = plan.consts
    lg, ls = c["LG"], c["LG_SM"]
    div = c["SEL_DIV_NW"]
    extra = {"gemm_slots": lg, "ln_sums": lg, "sm_max": ls, "sm_exp": ls, "sm_div": 16 + c["PF_MAX"],
             "head_mean": div, "token_div": div, "scores": div, "rank": lg, "package": c["PKG_W"]}
    if name.startswith("df:"):
        return sum(_depth(plan, part) for part in name[3:].split("+"))
    return DEPTH[name] + extra.get(name, 0)


def _gemm_stream(plan: HlsPlan, ins: Gemm, info: dict[str, Any], st: ParamStreamTiming, t0: float) -> tuple[int, int]:
    """(slot-loop cycles incl. stalls, stall cycles) of a GEMM with stream weights: its pops happen
    in the first slots of every tile (the preload, then the next tile's bias and beats)."""
    cfg, L, SB = plan.cfg, plan.cfg.lanes, plan.cfg.stream_bytes
    rows, k_in, n_out = info["rows"], info["k_in"], info["n_out"]
    nb, kc = -(-n_out // L), -(-k_in // L)
    tb = -(-(L * L * (2 if ins.w_bits > 8 else 1)) // SB)
    bb = -(-(4 * L) // SB) if ins.bias else 0
    rc_last = L * -(-rows // L) + L if ins.dst_kind == "am_t" else rows
    from .plan import DMIN

    tiles = [(-1, bb + tb, bb + tb)]
    for b in range(nb):
        for ch in range(kc):
            last_chunk, final = ch == kc - 1, (b == nb - 1 and ch == kc - 1)
            pops = 0 if final else (tb + bb if last_chunk else tb)
            s = rc_last if last_chunk else rows
            s = max(s, pops)
            if not last_chunk:
                s = max(s, DMIN)
            tiles.append((b, s, pops))
    t = t0
    stall = 0
    for _, s, pops in tiles:
        if pops:
            last = st.pop_many(pops, t)
            late = max(0, int(last) - int(t + pops - 1))
            stall += late
            t += s + late
        else:
            t += s
    return int(t - t0), stall


def hls_program_cycles(plan: HlsPlan, steps: Sequence[dict[str, Any]]) -> list[HlsStep]:
    """Cycles of every instruction for one image's run-time counts (``steps`` from
    :func:`~spvit_fpga.hw.overlay.execute.run_engine` or
    :func:`~spvit_fpga.hw.overlay.cycles.counts_for_kept`)."""
    prog = plan.program
    st = ParamStreamTiming(plan.cfg, prog.stream.beats)
    t = 0
    out: list[HlsStep] = []
    for ins, info in zip(prog.instructions, steps):
        info = dict(info)
        trips = unit_trips(plan, ins, info)
        start = t + DISPATCH
        cyc = 0
        stall = 0
        nb = _blob_beats(prog, ins)
        popped = 0
        for name, n in _loops(plan, ins, info):
            if n <= 0:
                continue
            d = _depth(plan, name)
            if name == "gemm_slots" and ins.w_src == "stream":
                run, s = _gemm_stream(plan, ins, info, st, start + cyc)
                stall += s
                cyc += run + d
                popped = nb
                continue
            if name in ("skip", "load_xb", "gemm_table", "ln_load", "sm_table", "sig_load"):
                # loops that pop the blob one beat a cycle (or a word a cycle): wait for the beats
                k = min(n, nb - popped)
                if name == "gemm_table":
                    k = -(-(1 << ins.table[0].bits) // plan.cfg.stream_bytes)
                if k > 0:
                    last = st.pop_many(k, start + cyc)
                    late = max(0, int(last) - int(start + cyc + k - 1))
                    stall += late
                    cyc += late
                    popped += k
            cyc += n + d
        if popped < nb:  # beats the loops above did not model one by one (never: all blobs are covered)
            st.pop_many(nb - popped, start + cyc)
        total = DISPATCH + cyc
        out.append(HlsStep(ins.name, ins.op, total, trips, stall,
                           {k: v for k, v in info.items() if k not in ("name", "op") and not k.startswith("_")}))
        t += total
    return out


def hls_summary(plan: HlsPlan, kept: Sequence[int]) -> dict[str, Any]:
    """Per-instruction and total cycles of the HLS schedule and of the RTL engine (calibrated cycle
    model of the same program) for ``kept`` patch tokens per stage."""
    prog = plan.program
    steps = counts_for_kept(prog, list(kept))
    hls = hls_program_cycles(plan, steps)
    rtl = program_cycles(prog, steps)
    mhz = plan.board.clock_mhz
    tot_h = sum(s.cycles for s in hls)
    tot_r = sum(s.cycles for s in rtl)
    weight_bytes = prog.stream.nbytes
    ddr_cycles = weight_bytes / min(plan.cfg.ddr_bytes_per_cycle, float(plan.cfg.stream_bytes))
    return {
        "kept_tokens": list(kept),
        "total_cycles": tot_h,
        "latency_ms": tot_h / (mhz * 1e3),
        "stall_cycles": sum(s.stall for s in hls),
        "rtl_engine_cycles": tot_r,
        "rtl_engine_ms": tot_r / (mhz * 1e3),
        "param_stream_bytes": weight_bytes,
        "ddr_bound_cycles": int(ddr_cycles) + FETCH_START + plan.cfg.ddr_latency,
        "layers": [{"name": s.name, "op": s.op, "cycles": s.cycles, "trips": s.trips, "stall": s.stall,
                    "rtl_cycles": r.cycles} for s, r in zip(hls, rtl)],
    }


def latency_table(plan: HlsPlan, target: Sequence[int]) -> list[dict[str, Any]]:
    """Latency (HLS schedule and the RTL engine's cycle model) for a few kept-token schedules:
    nothing pruned, the target, and the target scaled by 0.5 and 1.5."""
    prog = plan.program
    n = prog.n_max
    rows = [("keep all", [n] * prog.stages), ("target", list(target))]
    if prog.stages:
        rows.append(("target x 0.5", [int(round(k * 0.5)) for k in target]))
        rows.append(("target x 1.5", _monotone([min(n, int(round(k * 1.5))) for k in target])))
    out = []
    for label, kept in rows:
        s = hls_summary(plan, kept)
        out.append({"schedule": label, "kept_tokens": kept, "hls_ms": round(s["latency_ms"], 6),
                    "rtl_engine_ms": round(s["rtl_engine_ms"], 6)})
    return out


def estimates(plan: HlsPlan, kept: Optional[Sequence[int]] = None) -> dict[str, Any]:
    """The manifest's ``estimate`` entry: the target kept tokens (the selectors' top-k counts),
    ``kernels``: the HLS schedule of the generated kernels per instruction and in total (with the RTL
    engine's figure beside it), the latency table, the assumptions."""
    prog = plan.program
    target = [int(s.topk) for s in prog.instructions if isinstance(s, Select)]
    k = list(kept) if kept is not None else target
    return {"clock_mhz": plan.board.clock_mhz, "target_kept": target, "kept_tokens": k,
            "kernels": hls_summary(plan, k), "latency_table": latency_table(plan, target),
            "assumptions": {
                "calibrated_against_rtl_simulation": ["instruction sequence and run-time counts",
                                                      "param-stream DDR model (ports used, rate, latency, FIFOs)"],
                "exact_by_c_simulation": ["trip counts of every pipelined loop"],
                "assumed_not_calibrated": ["pipeline depths of each loop (DEPTH)", "dispatch cycles",
                                           "Vitis reaching II = 1 in every loop and the burst rate of the m_axi ports"],
                "ddr": f"{plan.cfg.ports} HP port(s) of {plan.cfg.port_bits} bits, at most "
                       f"{plan.cfg.ddr_bytes_per_cycle:g} bytes a cycle together (peak x 0.8), "
                       f"first beat after {plan.cfg.ddr_latency} cycles",
            }}


def _monotone(kept: list[int]) -> list[int]:
    out, prev = [], math.inf
    for k in kept:
        prev = min(prev, k)
        out.append(int(prev))
    return out
