"""The declared memory accesses and multipliers of the HLS units (``hls/spvit_ov_*.h``), per
pipelined loop, for the design-rule check (:mod:`spvit_fpga.hls.drc`).

Each :class:`LoopDecl` says what one iteration of a pipelined loop (II = 1) touches: reads and
writes of each array or stream (as the HLS tool sees them: a bank access guarded by a run-time
bank number counts once on every bank it may hit) and its multipliers after unrolling, with their
operand widths.  Each :class:`ArrayDecl` says how an array is built: the partitions the unit relies
on (``ways``; the check counts the real ones from the ``array_partition`` pragmas of the generated
sources and fails if they fall short) and the ports of each partition (2 for the true dual-port
banks, 1 for a ROM or a LUT-RAM copy, 0 = registers: unlimited).  The numbers follow the
C++ loop by loop; the comments name the loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .plan import HlsPlan

__all__ = ["ArrayDecl", "LoopDecl", "declared_arrays", "declared_loops", "dsp_of"]


@dataclass(frozen=True)
class ArrayDecl:
    name: str  # the C++ variable
    unit: str
    ways: int  # partitions (1: one memory)
    ports: int  # ports a partition; 0: registers


@dataclass
class LoopDecl:
    unit: str
    loop: str  # the C++ loop label
    reads: dict[str, int] = field(default_factory=dict)  # array -> reads an iteration
    writes: dict[str, int] = field(default_factory=dict)
    mults: list[tuple[int, int, int]] = field(default_factory=list)  # (count, a bits, b bits)


def dsp_of(a_bits: int, b_bits: int) -> int:
    """DSP48 slices of one signed a x b multiply (27 x 18 signed ports: 26 x 17 magnitude bits each)."""
    return math.ceil(max(1, a_bits - 1) / 26) * math.ceil(max(1, b_bits - 1) / 17)


def declared_arrays(plan: HlsPlan) -> list[ArrayDecl]:
    c = plan.consts
    L, SM = c["L"], c["SM"]
    return [
        ArrayDecl("am0", "engine", 1, 2), ArrayDecl("am1", "engine", 1, 2), ArrayDecl("am2", "engine", 1, 2),
        ArrayDecl("xb", "engine", 1, 2), ArrayDecl("res", "engine", 1, 2),
        ArrayDecl("etbl", "engine", SM // 2, 2),  # SM/2 dual-port copies of the exp table
        ArrayDecl("wsh", "gemm", L // 2, 0), ArrayDecl("wact", "gemm", L // 2, 0),  # pair-rows in registers
        ArrayDecl("bias_nxt", "gemm", L, 0), ArrayDecl("bias_cur", "gemm", L, 0),
        ArrayDecl("tbl", "gemm", L, 1),  # a table copy an output lane
        ArrayDecl("accbuf", "gemm", 1, 2), ArrayDecl("ct", "gemm", L, 0), ArrayDecl("fl", "gemm", L, 0),
        ArrayDecl("rt", "layernorm", 1, 1), ArrayDecl("gam", "layernorm", 1, 1), ArrayDecl("bet", "layernorm", 1, 1),
        ArrayDecl("ow", "pixels", c["IMG_W"] // c["PATCH"], 0),
        ArrayDecl("acc", "token_mean", c["TM_WORDS"] * L, 0), ArrayDecl("g", "concat", c["HEADS"] * c["TM_WORDS"], 0),
        ArrayDecl("stbl", "select", 1, 1), ArrayDecl("zbuf", "select", 1, 2), ArrayDecl("pbuf", "select", 1, 2),
        ArrayDecl("keep", "select", 1, 2),
    ]


def declared_loops(plan: HlsPlan) -> list[LoopDecl]:
    c = plan.consts
    L, SM, X_W = c["L"], c["SM"], c["X_W"]
    banks = ("am0", "am1", "am2")

    def on_banks(n: int) -> dict[str, int]:
        return {b: n for b in banks}

    pack = c["PACK"]
    return [
        # spvit_ov_io.h
        LoopDecl("fetch", "fetch", reads={"port": 1}, writes={"fifo": 1}),
        LoopDecl("merge", "merge", reads={"fifo": 1}, writes={"ps": 1}),  # one read of each port's FIFO
        LoopDecl("load_xb", "words_loop", reads={"ps": 1}, writes={"xb": 1}),
        LoopDecl("load_xb", "beats_loop", reads={"ps": 1}, writes={"xb": 1}),
        LoopDecl("pixels", "runs", reads={"pixels": 1}, writes=on_banks(1)),
        LoopDecl("result", "out", reads={"res": 1}, writes={"results": 1}),
        LoopDecl("skip", "skip", reads={"ps": 1}),
        # spvit_ov_gemm.h: one bank read (activations or a W row) and one bank write (the destination
        # or the corner turner) a slot; the residual word read and written; the accumulator row
        # read and written; one table copy read a lane
        LoopDecl("gemm", "table_load", reads={"ps": 1}, writes={"tbl": L}),
        LoopDecl("gemm", "gemm_slots", reads={**on_banks(1), "xb": 1, "accbuf": 1, "tbl": L, "ps": 1},
                 writes={**on_banks(1), "xb": 1, "accbuf": 1, "res": 1},
                 mults=[(L * L // 2, 27, 9)] if pack == 2 else [(L * L, 9, 9)]),
        # spvit_ov_norm.h
        LoopDecl("layernorm", "rt_load", reads={"ps": 1}, writes={"rt": 1}),
        LoopDecl("layernorm", "words", reads={"ps": 1}, writes={"gam": 1}),
        LoopDecl("layernorm", "beats", reads={"ps": 1}, writes={"bet": 1}),
        LoopDecl("layernorm", "sums", reads={"xb": 1}, writes={"xs": 1, "sq": 1}, mults=[(L, X_W, X_W)]),
        LoopDecl("layernorm", "scalar", reads={"sq": 1, "rt": 1}, writes={"tc": 1},
                 mults=[(1, c["LN_VAR_W"], 11), (1, c["LN_SUM_W"], c["LN_SUM_W"]), (1, c["LN_VAR_W"], 11),
                        (1, 12, 17), (1, c["LN_SUM_W"], 17)]),
        LoopDecl("layernorm", "norm", reads={"xs": 1, "tc": 1, "gam": 1, "bet": 1}, writes=on_banks(1),
                 mults=[(L, 27, X_W), (L, 16, 17)]),
        # spvit_ov_softmax.h: SM lookups from SM/2 dual-port copies
        LoopDecl("softmax", "table_load", reads={"ps": 1}, writes={"etbl": SM // 2}),
        LoopDecl("softmax", "max", reads={"src": 1}, writes={"rc": 1, "mx": 1}),
        LoopDecl("softmax", "exps", reads={"rc": 1, "mx": 1, "etbl": SM}, writes={"ec": 1, "sm": 1}),
        LoopDecl("softmax", "divide", reads={"ec": 1, "sm": 1}, writes={"dst": 1}),
        # spvit_ov_select.h
        LoopDecl("head_mean", "head_mean", reads={"xb": 1}, writes=on_banks(1)),
        LoopDecl("token_mean", "sum", reads=on_banks(1), writes={"acc": L}),
        LoopDecl("token_mean", "divide", reads={"acc": 1}, writes=on_banks(1)),
        LoopDecl("concat", "g_load", reads=on_banks(1), writes={"g": 1}),
        LoopDecl("concat", "concat", reads={**on_banks(1), "g": L}, writes=on_banks(1)),
        LoopDecl("select", "sig_load", reads={"ps": 1}, writes={"stbl": 1}),
        LoopDecl("select", "scores", reads={**on_banks(2), "stbl": 1}, writes={"pbuf": 1, "zbuf": 1, "keep": 1},
                 mults=[(1, 9, 8), (1, 9, 9)]),
        LoopDecl("select", "all", writes={"keep": 1}),
        LoopDecl("select", "rank", reads={"zbuf": 2}, writes={"keep": 1}),
        LoopDecl("select", "count", reads={"keep": 1, "pbuf": 1}),
        LoopDecl("select", "rows", reads={"xb": 1, "keep": 1, "pbuf": 1}, writes={"xb": 1}, mults=[(L, X_W, 9)]),
        LoopDecl("select", "package", reads={}, writes={}),
    ]
