"""The design plan of a generated HLS project: the HLS face of the overlay engine.

The HLS design is the layer-sequential overlay engine of :mod:`spvit_fpga.hw.overlay` (the one the
RTL implements), not an architecture of its own: the same engine size per board
(:func:`~spvit_fpga.hw.overlay.arch.choose_overlay`), the same layer program and instruction words
(:func:`~spvit_fpga.hw.overlay.program.compile_program`, ``encode_program``), the same buffers and
the same param stream and DDR image (:mod:`~spvit_fpga.hw.overlay.layout`).  This module turns
them into what the templates render: the engine's compile-time sizes (the ``spvit_cfg`` struct,
the RTL's module parameters), the instruction ROM as 64-bit chunks with the field layout its
decoder extracts, the banks the softmax unit is bound to, and the checks of the preconditions the
HLS units rely on (each one a one-line :class:`~spvit_fpga.errors.UserError`).

Everything here is plain data; the C++ lives in ``hls/spvit_ov_*.h`` and the templates.
:func:`build_plan` is deterministic.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import UserError
from ..hw.boards import Board
from ..hw.overlay.arch import OverlayConfig, choose_overlay, dsp_estimate
from ..hw.overlay.cycles import pixel_runs
from ..hw.overlay.program import (INSTR_BITS, Concat, Gemm, HeadMean, LayerNorm, Program, Select, Softmax, TokenMean,
                                  compile_program, encode_program, field_layout)
from ..ir.graph import IR
from ..ir.intops import signed_bits_for_range

__all__ = ["HlsPlan", "build_plan", "PIX_BYTES", "DMIN", "TOP", "gemm_slots"]

TOP = "spvit_top"
PIX_BYTES = 16
"""Pixels a word of the pixel AXI-Stream (as the RTL's PIX_BYTES)."""
DMIN = 8
"""Fewest slots of a GEMM tile whose partial sums a later tile reads: the declared inter-iteration
distance of the accumulator RAM (``hls/spvit_ov_gemm.h``)."""
CHUNK = 64


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(2, n))))


def _bits(v: int) -> int:
    """Signed width of +-v."""
    return signed_bits_for_range(-abs(int(v)), abs(int(v)))


def gemm_slots(ins: Gemm, rows: int, k_in: int, n_out: int, cfg: OverlayConfig) -> int:
    """Iterations of ``ov_gemm``'s flattened slot loop (``hls/spvit_ov_gemm.h``): the preload of
    tile 0 and every tile's slots (stream weights: max(R, beats of the next tile [+ bias], DMIN);
    AM weights: L load slots + R).  Mirrors the C++ closed form exactly."""
    L, SB = cfg.lanes, cfg.stream_bytes
    nb, kc = -(-n_out // L), -(-k_in // L)
    tb = -(-(L * L * (2 if ins.w_bits > 8 else 1)) // SB)
    bb = -(-(4 * L) // SB) if ins.bias else 0
    if ins.w_src == "am":
        mid = max(L + rows, DMIN)
        return nb * (kc - 1) * mid + nb * (L + rows)
    rc_last = L * -(-rows // L) + L if ins.dst_kind == "am_t" else rows
    mid = max(rows, tb, DMIN)
    last_nf = max(rc_last, tb + bb)
    return bb + tb + nb * (kc - 1) * mid + (nb - 1) * last_nf + rc_last


@dataclass
class HlsPlan:
    """What the templates render (see the module docstring)."""

    top: str
    board: Board
    cfg: OverlayConfig
    program: Program
    consts: dict[str, int]  # the spvit_cfg struct (compile-time sizes of the units)
    fields: list[tuple[str, int, int, bool]]  # (name, lsb, bits, signed) of the instruction word
    rom: list[list[int]]  # the instruction words as 64-bit chunks, least significant first
    softmax_banks: tuple[int, int]  # (source, destination) bank of every SOFTMAX
    region_bytes: int
    ops: list[str] = field(default_factory=list)  # opcode name of every instruction

    @functools.cached_property
    def image(self) -> bytes:
        """``weights.bin``: the param stream as the DDR image of the ports used."""
        return self.program.stream.ddr_image(self.cfg.ports)

    @property
    def lanes(self) -> int:
        return self.cfg.lanes

    @property
    def in_words(self) -> int:
        return self.consts["IN_WORDS"]

    @property
    def out_words(self) -> int:
        return self.consts["CLASSES"] + self.consts["STAGES"]

    def dsp(self) -> dict[str, int]:
        """DSP slices of the engine (:func:`~spvit_fpga.hw.overlay.arch.dsp_estimate`: the array, 3 a
        LayerNorm lane and its scalar path, the selector's L accumulation multipliers and scores)."""
        return dict(dsp_estimate(self.cfg.lanes, self.cfg.pack))

    def bram18(self) -> dict[str, int]:
        """Block RAM (18 Kib) of the buffers, the port FIFOs and the tables (:func:`bram18`)."""
        c, L = self.consts, self.cfg.lanes
        out = {"activation_banks": sum(bram18(c[f"AM{i}_WORDS"], 8 * L) for i in range(3)),
               "residual": bram18(c["XB_WORDS"], c["X_W"] * L),
               "accumulator": bram18(c["ACC_ROWS"], c["ACC_W"] * L),
               "port_fifos": self.cfg.ports * bram18(512, 8 * self.cfg.port_bytes),
               "exp_tables": (c["SM"] // 2) * bram18(c["EXP_DEPTH"], 16),
               "layernorm": bram18(-(-2 * c["LN_NT"] // c["SB"]), 8 * c["SB"])
               + bram18(c["LN_P_MAX"], 48 * L)}
        out["total"] = sum(out.values())
        return out

    def resources(self) -> dict[str, Any]:
        board = self.board.resources
        d, b = self.dsp(), self.bram18()
        return {"dsp": d, "bram18": b, "board": dict(board),
                "dsp_fraction": round(d["total"] / max(1, board["dsp"]), 4),
                "bram18_fraction": round(b["total"] / max(1, board["bram18"]), 4)}


def bram18(words: int, bits: int) -> int:
    """18-Kib block RAMs of a ``words`` x ``bits`` memory (512 x 36 / 1024 x 18 tiles); at most 4 Kib,
    or at most 64 words deep, in LUT RAM / registers (what Vitis chooses for such shapes)."""
    if words <= 64 or words * bits <= 4096:
        return 0
    if words <= 512:
        return math.ceil(bits / 36)
    if bits <= 18 or words > 1024:
        return math.ceil(bits / 18) * math.ceil(words / 1024) if words > 1024 else math.ceil(bits / 18)
    return math.ceil(bits / 36) * math.ceil(words / 512)


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UserError(f"the HLS overlay engine cannot run this program: {msg}")


def _maxima(prog: Program) -> dict[str, int]:
    return {"T": prog.t_max, "N": prog.n_max}


def _checks(prog: Program, ir: IR) -> tuple[int, int]:
    """The preconditions of the HLS units (``hls/spvit_ov_*.h``); returns the softmax banks."""
    cfg, L = prog.cfg, prog.cfg.lanes
    _check(2 <= cfg.sm_lanes <= L, f"softmax lanes {cfg.sm_lanes} must lie in 2..L = {L}: use an array side of 4 or more")
    sm_banks = set()
    for ins in prog.instructions:
        if isinstance(ins, Gemm):
            if ins.dst_kind == "am_t":
                _check(ins.w_src == "stream", f"{ins.name}: a transposed destination needs stream weights")
                _check(ins.dst_row0 % L == 0, f"{ins.name}: transposed destination row {ins.dst_row0} not a multiple of {L}")
                _check(ins.out_fmt is not None and ins.out_fmt.bits <= 8, f"{ins.name}: transposed output wider than 8 bits")
            if ins.w_src == "am":
                _check(not ins.bias and ins.table is None, f"{ins.name}: AM weights with a bias or table")
            if ins.table is not None:
                _check(ins.out_fmt is not None and ins.table[0].bits == ins.out_fmt.bits
                       and ins.table[0].signed == ins.out_fmt.signed,
                       f"{ins.name}: the table's input format differs from the output format")
                _check(ins.table[1].bits <= 8, f"{ins.name}: table entries wider than 8 bits")
            if ins.out_fmt is None:
                _check(ins.dst_kind == "result" and ins.shift == 0, f"{ins.name}: raw accumulators only to the result RAM")
            elif ins.dst_kind in ("am", "am_t"):
                _check(ins.out_fmt.bits <= 8, f"{ins.name}: AM output wider than 8 bits")
            if ins.w_bits > 8 and cfg.pack == 2:
                op = next((o for o in ir.ops() if getattr(o, "name", None) == ins.name), None)
                if op is not None:
                    w = np.asarray(op.weight)
                    _check(w.size == 0 or (int(w.min()) >= -255 and int(w.max()) <= 255),
                           f"{ins.name}: 9-bit weights must lie in [-255, 255] for the packed DSP")
        elif isinstance(ins, Softmax):
            sm_banks.add((prog.tensors[ins.src].bank, prog.tensors[ins.dst].bank))
        elif isinstance(ins, LayerNorm):
            _check(ins.channels < 1024 and ins.channels % L == 0, f"{ins.name}: {ins.channels} channels")
        elif isinstance(ins, TokenMean):
            _check(prog.tensors[ins.src].signed, f"{ins.name}: the selector's feature tensor must be signed")
        elif isinstance(ins, Select):
            _check(ins.delta_fmt.signed and ins.delta_fmt.bits <= 8, f"{ins.name}: delta must be signed, <= 8 bits")
            _check(not ins.w_fmt.signed and ins.w_fmt.bits <= 8, f"{ins.name}: head weights must be unsigned, <= 8 bits")
            _check(ins.heads <= 32, f"{ins.name}: at most 32 heads")
    if not sm_banks:
        return (2, 1)
    _check(len(sm_banks) == 1, f"every SOFTMAX must read one bank and write one other bank, found {sorted(sm_banks)}")
    src, dst = sm_banks.pop()
    _check(src != dst, "SOFTMAX reads and writes the same bank")
    return src, dst


def _consts(prog: Program, ir: IR, board: Board) -> dict[str, int]:
    cfg, L = prog.cfg, prog.cfg.lanes
    mx = _maxima(prog)
    ins = prog.instructions
    gemms = [i for i in ins if isinstance(i, Gemm)]
    lns = [i for i in ins if isinstance(i, LayerNorm)]
    sms = [i for i in ins if isinstance(i, Softmax)]
    sels = [i for i in ins if isinstance(i, Select)]
    hms = [i for i in ins if isinstance(i, HeadMean)]
    tms = [i for i in ins if isinstance(i, TokenMean)]
    x_w = prog.x_fmt.bits
    wpr = prog.embed_dim // L
    # GEMM: rows, accumulator rows (GEMMs with more than one chunk), epilogue width, tables
    rows = [g.rows.max(mx) for g in gemms]
    acc_rows = max([g.rows.max(mx) for g in gemms if -(-g.k_in.max(mx) // L) > 1] + [1])
    acc_w = max(prog.acc_bits, 2)
    epi = 0
    for g in gemms:
        bound = 1 << (g.acc_bits - 1)
        if g.residual:
            a = g.res_align
            r = 1 << (x_w - 1)
            bound = bound + (r << a) if a >= 0 else (bound << -a) + r
        epi = max(epi, _bits(bound) + 1)
    epi = max(epi, acc_w + 1)
    tbl_bits = max([g.table[0].bits for g in gemms if g.table is not None] + [3])
    slots = max(gemm_slots(g, g.rows.max(mx), g.k_in.max(mx), g.n_out.max(mx), cfg) for g in gemms)
    # LayerNorm
    ln_p = [i.params for i in lns]
    ms = {p.mant_bits for p in ln_p}
    _check(len(ms) <= 1, f"one rsqrt mantissa width for the whole model, found {sorted(ms)}")
    ln_m = ms.pop() if ms else 10
    ln_words = max([i.rows.max(mx) * i.heads * (i.channels // L) for i in lns] + [1])
    ln_sub = max([i.rows.max(mx) * i.heads for i in lns] + [1])
    # softmax
    sm = cfg.sm_lanes
    t_max = prog.t_max
    # selector
    n = prog.n_max
    heads = int(ir.model["num_heads"])
    dh = prog.embed_dim // heads
    ups = [i.out_fmt.frac - i.in_frac for i in hms + tms] + [s.p_fmt.frac - s.sig_fmt.frac for s in sels] + [0]
    up_max, dn_max = max(max(ups), 0), max(-min(ups), 0)
    num_w = max(x_w + _clog2(dh) + 1, 9 + _clog2(n + 1) + 1, 17 + _clog2(heads + 1)) + up_max + 2
    den_w = max(_clog2(dh + 1), _clog2(n + 1), 8 + _clog2(heads + 1), 17) + dn_max + 2
    sig_bits = max([s.delta_fmt.bits for s in sels] + [8])
    z_w = max([s.score_bits for s in sels] + [17]) + 1
    c, h, w = ir.input_shape
    patch = ir.patch_embed.patch_size
    out = {
        "L": L, "LG": int(math.log2(L)), "PACK": cfg.pack, "SB": cfg.stream_bytes, "NP": cfg.ports,
        "PB": cfg.port_bytes, "X_W": x_w, "ACC_W": acc_w, "EPI_W": epi, "DMIN": DMIN,
        "AM0_WORDS": max(1, prog.bank_words[0]), "AM1_WORDS": max(1, prog.bank_words[1]),
        "AM2_WORDS": max(1, prog.bank_words[2]), "XB_WORDS": prog.xb_rows * wpr, "WPR": wpr,
        "RES_WORDS": -(-prog.num_classes // L), "D": prog.embed_dim, "T_MAX": t_max, "LG_T_MAX": _clog2(t_max + 1),
        "N_PATCH": n, "N_WORDS": max(1, -(-n // L)), "HEADS": heads, "STAGES": prog.stages,
        "STAGES_1": max(1, prog.stages), "CLASSES": prog.num_classes,
        "MAX_ROWS": max(rows), "ACC_ROWS": acc_rows, "MAX_GEMM_SLOTS": slots, "TBL_BITS": tbl_bits,
        "TBL_WORDS": max(1, (1 << tbl_bits) // 8),
        "LN_M": ln_m, "LN_NT": 3 << (ln_m - 2), "LN_SUM_W": max([p.sum_bits for p in ln_p] + [x_w + 1]),
        "LN_VAR_W": min(62, max([p.var_bits for p in ln_p] + [2 * x_w]) + 1),
        "LN_P_MAX": max([i.channels // L for i in lns] + [1]), "LN_MAX_WORDS": ln_words, "LN_MAX_SUBROWS": ln_sub,
        "LN_FIFO": 2 * max([i.channels // L for i in lns] + [1]) + 64,
        "SM": sm, "LG_SM": int(math.log2(sm)), "EXP_DEPTH": max([i.table_entries for i in sms] + [256]),
        "SM_MAX_CHUNKS": t_max * -(-t_max // sm), "SM_FIFO": 2 * -(-t_max // sm) + 32,
        "PF_MAX": max([i.prob_fmt.frac for i in sms] + [8]),
        "SIG_BITS": sig_bits, "Z_W": z_w, "SEL_DIV_NW": num_w, "SEL_DIV_DW": den_w,
        "PKG_W": x_w + 9 + _clog2(n + 1) + 1, "TM_WORDS": max(1, -(-dh // L)),
        "IMG_C": c, "IMG_H": h, "IMG_W": w, "PATCH": patch, "PIX": PIX_BYTES,
        "PIX_RUNS": pixel_runs(c, h, w, patch, L, PIX_BYTES), "IN_WORDS": -(-(c * h * w) // PIX_BYTES),
        "STREAM_BEATS": prog.stream.beats, "PROG_LEN": len(ins), "INSTR_BITS": INSTR_BITS,
        "PROG_CHUNKS": -(-INSTR_BITS // CHUNK),
        "REGION_WORDS": prog.stream.region_bytes(cfg.ports) // cfg.port_bytes,
        "MAX_BLOB_BEATS": max([b.beats for b in prog.stream.blobs] + [1]),
    }
    widest = max(32 * L, x_w * L, 8 * cfg.stream_bytes, CHUNK * out["PROG_CHUNKS"])
    out["AP_INT_MAX_W"] = max(1024, 1 << (widest - 1).bit_length())
    _check(out["AP_INT_MAX_W"] <= 4096, f"words of {widest} bits exceed ap_int's 4096-bit limit")
    _check(epi <= 62, f"the GEMM epilogue needs {epi} bits (at most 62)")
    _check(out["SEL_DIV_NW"] <= 62 and out["PKG_W"] <= 62, "selector divisions wider than 62 bits")
    _check(out["PF_MAX"] <= 8, "softmax probabilities with more than 8 fraction bits")
    _check(c * h * w > 0 and h % patch == 0 and w % patch == 0, "the patch size must divide the image")
    return out


def build_plan(ir: IR, board: Board, *, lanes: Optional[int] = None, ports: Optional[int] = None) -> HlsPlan:
    """The HLS plan of ``ir`` on ``board``: the overlay engine the board gets (``lanes`` / ``ports``
    override its array side and HP-port count, as for the RTL), its program and weight image."""
    if not ir.blocks:
        raise UserError("the IR has no encoder blocks")
    m = ir.model
    head_dim = int(m["embed_dim"]) // int(m["num_heads"])
    cfg = choose_overlay(board, head_dim, lanes=lanes, ports=ports)
    prog = compile_program(ir, cfg)
    sm_banks = _checks(prog, ir)
    consts = _consts(prog, ir, board)
    words = encode_program(prog)
    nchunks = consts["PROG_CHUNKS"]
    mask = (1 << CHUNK) - 1
    rom = [[(wd >> (CHUNK * i)) & mask for i in range(nchunks)] for wd in words]
    return HlsPlan(top=TOP, board=board, cfg=cfg, program=prog, consts=consts, fields=field_layout(), rom=rom,
                   softmax_banks=sm_banks, region_bytes=prog.stream.region_bytes(cfg.ports), ops=[i.op for i in prog.instructions])
