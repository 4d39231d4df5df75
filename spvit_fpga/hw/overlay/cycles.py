"""Cycle model of the overlay engine: cycles per instruction for any kept-token counts.

The model follows the engine's micro-architecture (``docs/overlay.md``): instructions run one
after another; a GEMM streams its rows once per weight tile while the next tile loads into the
array's shadow registers (from the param stream or from an activation bank), so a tile takes
``max(rows, load cycles)``; the param stream is produced by the DDR ports at the simulated memory's
rate, runs ahead of the consumers by at most the port FIFOs, and starts ``ddr_latency`` cycles
after the engine starts.  The constants in :class:`Timing` are the pipeline depths and per-
instruction overheads of the RTL; ``calibrate`` fits them to measured cycles (RTL simulation), and
the error against simulation is reported beside every figure that uses them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from .arch import OverlayConfig
from .layout import PAGE
from .program import (Concat, Count, Gemm, HeadMean, LayerNorm, LoadXB, Pixels, Program, Result, Select, Softmax,
                      TokenMean)

__all__ = ["Timing", "StepCycles", "program_cycles", "DEFAULT_TIMING"]


@dataclass(frozen=True)
class Timing:
    """Pipeline depths and overheads in cycles (fitted to the RTL; see :func:`program_cycles`)."""

    start: int = 2  # decode an instruction and start its unit
    gemm_drain: int = 14  # last row issued -> its outputs written (array, adder tree, accumulator, epilogue)
    tile_swap: int = 1  # cycles between a tile's last row and the next tile's first
    am_load_words: int = 1  # AM words a cycle into the shadow registers (QK^T, AV)
    ln_min: int = 1  # LayerNorm cycles a row at least
    ln_drain: int = 12
    sm_passes: int = 3  # softmax passes over a row (max, exp+sum, divide): they overlap across rows
    sm_drain: int = 20
    vec_drain: int = 8  # selector unit ops
    select_fixed: int = 40
    pixel_bytes: int = 16  # pixel bytes a cycle


DEFAULT_TIMING = Timing()


@dataclass
class StepCycles:
    name: str
    op: str
    cycles: int
    start: int  # cycle the instruction started
    stream_bytes: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


class _Stream:
    """The param stream as the consumers see it: byte ``x`` is available at
    ``t0 + latency + x / rate`` unless the FIFOs (``fifo`` bytes) were full; then production waits
    for consumption."""

    def __init__(self, cfg: OverlayConfig) -> None:
        self.rate = min(float(cfg.stream_bytes), cfg.ddr_bytes_per_cycle)
        self.fifo = cfg.fifo_beats * cfg.port_bytes * cfg.ports
        self.latency = cfg.ddr_latency
        self.beat = cfg.stream_bytes
        self.produced_t = float(self.latency)  # time at which `produced` bytes had been produced
        self.produced = 0.0
        self.consumed = 0

    def take(self, nbytes: int, t_req: float, max_rate: float) -> float:
        """Consume ``nbytes`` starting no earlier than ``t_req`` at most ``max_rate`` bytes a cycle;
        returns the cycle the last byte was taken."""
        if nbytes <= 0:
            return t_req
        if t_req > self.produced_t:
            self.produced = min(self.consumed + self.fifo, self.produced + (t_req - self.produced_t) * self.rate)
            self.produced_t = t_req
        need = self.consumed + nbytes
        t_avail = self.produced_t + max(0.0, need - self.produced) / self.rate
        t_end = max(t_avail, t_req + nbytes / max_rate)
        self.produced = min(need + self.fifo, self.produced + (t_end - self.produced_t) * self.rate)
        self.produced_t = t_end
        self.consumed = need
        return t_end


def _blob_bytes(prog: Program, index: int) -> int:
    b = prog.stream.blobs[index]
    return b.beats * prog.stream.beat_bytes


def program_cycles(prog: Program, steps: Sequence[dict[str, Any]], timing: Timing = DEFAULT_TIMING) -> list[StepCycles]:
    """Cycles of every instruction, given the run-time counts of one image (``steps`` from
    :func:`spvit_fpga.hw.overlay.execute.run_engine` or :func:`counts_for_kept`)."""
    cfg, L = prog.cfg, prog.cfg.lanes
    st = _Stream(cfg)
    sb = float(cfg.stream_bytes)
    t = 0.0
    out: list[StepCycles] = []
    for ins, info in zip(prog.instructions, steps):
        t0 = t
        t += timing.start
        nbytes = _blob_bytes(prog, ins.blob) if getattr(ins, "blob", -1) >= 0 else 0
        detail: dict[str, Any] = {}
        if isinstance(ins, LoadXB):
            t = st.take(nbytes, t, sb)
        elif isinstance(ins, Pixels):
            t += ins.channels * ins.height * ins.width / timing.pixel_bytes
        elif isinstance(ins, Gemm):
            R, K, N = info["rows"], info["k_in"], info["n_out"]
            nb, kc = -(-N // L), -(-K // L)
            wb = 2 if ins.w_bits > 8 else 1
            tile_bytes = L * L * wb
            if ins.w_src == "stream":
                if ins.table is not None:
                    t = st.take(-(-(1 << ins.table[0].bits) // int(sb)) * int(sb), t, sb)
                load_end = t
                stream_end = t
                for bk in range(nb):
                    load_end = st.take(-(-4 * L // int(sb)) * int(sb), load_end, sb)
                    for c in range(kc):
                        # the shadow registers are free once the previous tile started streaming
                        load_start = max(load_end, stream_end - R if (bk or c) else load_end)
                        load_end = st.take(tile_bytes, load_start, sb)
                        begin = max(load_end, stream_end) + timing.tile_swap
                        stream_end = begin + R
                t = stream_end + timing.gemm_drain
            else:
                load = L * timing.am_load_words
                tiles = nb * kc
                t += load + tiles * (max(R, load) + timing.tile_swap) + timing.gemm_drain
            detail = {"tiles": nb * kc, "rows": R}
        elif isinstance(ins, LayerNorm):
            t = st.take(nbytes, t, sb)
            rows, words = info["rows"], -(-ins.channels // L)
            t += rows * max(words, timing.ln_min) + timing.ln_drain
        elif isinstance(ins, Softmax):
            t = st.take(nbytes, t, sb)
            R, n = info["rows"], info["length"]
            per_row = -(-n // cfg.sm_lanes)
            t += (R + timing.sm_passes - 1) * per_row + timing.sm_drain
        elif isinstance(ins, (HeadMean, TokenMean, Concat)):
            n = info["rows"]
            words = prog.embed_dim // L if isinstance(ins, HeadMean) else ins.heads
            t += n * words + timing.vec_drain
        elif isinstance(ins, Select):
            t = st.take(nbytes, t, sb)
            n = info["rows"]
            words = prog.embed_dim // L
            extra = n * n // max(1, L) if ins.decision == "topk" else 0
            t += n * (ins.heads + 2 * words) + extra + timing.select_fixed
        elif isinstance(ins, Result):
            t += ins.num_classes + ins.stages
        out.append(StepCycles(ins.name, ins.op, int(round(t - t0)), int(round(t0)), nbytes, detail))
    return out


def counts_for_kept(prog: Program, kept: Sequence[int]) -> list[dict[str, Any]]:
    """The run-time counts of every instruction when stage ``s`` keeps ``kept[s]`` patch tokens
    (what :func:`~spvit_fpga.hw.overlay.execute.run_engine` records, without running the model)."""
    from .program import Gemm as _G

    regs = {"T": 1 + prog.n_max, "N": prog.n_max}
    out: list[dict[str, Any]] = []
    stage = 0
    for ins in prog.instructions:
        info: dict[str, Any] = {"name": ins.name, "op": ins.op, **regs}
        if isinstance(ins, _G):
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
