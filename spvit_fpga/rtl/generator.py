"""The generated RTL design (``generate --rtl``): a frame-streaming dataflow netlist of ``rtl/`` units.

One unit per operation of the integer IR, connected by valid/ready token streams (``rtl/DATAFLOW.md``):
the patch tokens of an image enter the patch-embedding GEMM unit, the class token is put in front,
every encoder block is LayerNorm → q/k/v GEMM units → attention unit → projection (residual from a
frame FIFO) → LayerNorm → fc1 (GELU) → fc2 (residual); a token selector before a block filters the
live patch tokens into its scoring chain, and ``spvit_token_select_tok`` drops the pruned tokens
and appends the package token.  The class token of the last frame goes through the final LayerNorm
and the classifier; the logits and the kept-token count of every stage leave on the results
stream.  Matrices come from DDR once (``spvit_weight_loader`` → weight bus → each GEMM unit's RAM),
everything else is ``$readmemh`` ROM contents in ``rtl/mem``.

:func:`build_rtl` is deterministic: the same IR and board give byte-identical files.  The netlist
is plain data (:class:`Netlist`); ``templates/spvit_accel.sv.j2`` (beside this module) prints it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._resources import rtl_library_dir, template_environment
from ..errors import UserError
from ..ir import intops
from ..ir.graph import IR, LayerNormOp, LinearOp, TableOp, TokenSelectOp
from ..ir.intops import FixedFormat
from . import pack as rtlpack
from .library import library_order

__all__ = ["RtlOptions", "Netlist", "Stream", "Inst", "build_netlist", "build_rtl", "library_order", "unit_cycles", "TOP"]

TOP = "spvit_accel"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
WB_W = 64  # weight bus / AXI data width
ADDR_W = 40
KIND_CLASS, KIND_PATCH, KIND_PKG = 0, 1, 2
RESULT_W = 32
# AXI4 read channels of spvit_weight_loader (cocotbext-axi AxiReadBus naming): (direction, range, name)
AXI_PORTS = [
    ("output", f"[{ADDR_W - 1}:0]", "m_axi_gmem_araddr"), ("output", "[7:0]", "m_axi_gmem_arlen"),
    ("output", "[2:0]", "m_axi_gmem_arsize"), ("output", "[1:0]", "m_axi_gmem_arburst"),
    ("output", "[0:0]", "m_axi_gmem_arid"), ("output", "[3:0]", "m_axi_gmem_arcache"),
    ("output", "[2:0]", "m_axi_gmem_arprot"), ("output", "", "m_axi_gmem_arlock"),
    ("output", "[3:0]", "m_axi_gmem_arqos"), ("output", "", "m_axi_gmem_arvalid"),
    ("input", "", "m_axi_gmem_arready"), ("input", f"[{WB_W - 1}:0]", "m_axi_gmem_rdata"),
    ("input", "[1:0]", "m_axi_gmem_rresp"), ("input", "", "m_axi_gmem_rlast"),
    ("input", "[0:0]", "m_axi_gmem_rid"), ("input", "", "m_axi_gmem_rvalid"), ("output", "", "m_axi_gmem_rready"),
]


@dataclass
class Stream:
    """A valid/ready stream of the netlist (signals ``<name>_tdata/_tvalid/_tready[/_tlast/_tuser]``)."""

    name: str
    width: int
    last: bool = True
    user: bool = True
    lanes: int = 1  # informative: lanes of tdata
    lane_bits: int = 0


@dataclass
class Inst:
    module: str
    name: str
    params: dict[str, str]
    ports: dict[str, str]
    comment: str = ""


@dataclass
class RtlOptions:
    """Parallelism of the generated units (chosen per board by :func:`choose_options`).

    ``folding``: GEMM unit (IR op name) -> (PE, SIMD); ``target_cycles``: the frame interval the
    folding was balanced for (every GEMM unit finishes a frame of its maximum token count within it).
    """

    folding: dict[str, tuple[int, int]] = field(default_factory=dict)
    attn_qp: dict[str, int] = field(default_factory=dict)  # attention op name -> query rows in parallel
    ln_lanes: dict[str, int] = field(default_factory=dict)  # LayerNorm op name -> channels per cycle
    target_cycles: int = 0
    attn_simd: int = 32
    div_steps: int = 2
    fifo_slack: int = 4
    dsp: dict[str, int] = field(default_factory=dict)

    def fold(self, op: LinearOp) -> tuple[int, int]:
        return self.folding.get(op.name, (1, 1))


@dataclass
class Netlist:
    top: str
    streams: list[Stream] = field(default_factory=list)
    insts: list[Inst] = field(default_factory=list)
    mem: dict[str, str] = field(default_factory=dict)  # file name -> $readmemh text
    weight_words: list[int] = field(default_factory=list)
    gemm_units: list[dict[str, Any]] = field(default_factory=list)
    kept_streams: list[Stream] = field(default_factory=list)
    assigns: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # signals nothing reads (lint waiver block)
    nc: list[tuple[str, int]] = field(default_factory=list)  # wires for unconnected outputs
    kept_bits: int = 1  # width of one kept count on the results path
    logits_stream: Optional[Stream] = None
    _names: set[str] = field(default_factory=set)

    # ---- naming ------------------------------------------------------------------------------
    def uniq(self, base: str) -> str:
        base = base.replace(".", "_")
        name, i = base, 1
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def stream(self, base: str, lanes: int, bits: int, *, last: bool = True, user: bool = True) -> Stream:
        s = Stream(self.uniq(base), lanes * bits, last, user, lanes, bits)
        self.streams.append(s)
        return s

    def memfile(self, name: str, text: str) -> str:
        fname = name.replace(".", "_") + ".hex"
        if fname in self.mem and self.mem[fname] != text:
            raise ValueError(f"two different memory files named {fname}")
        self.mem[fname] = text
        return fname

    def add(self, module: str, base: str, params: dict[str, Any], ports: dict[str, str], comment: str = "") -> Inst:
        inst = Inst(module, self.uniq("u_" + base), {k: _pval(v) for k, v in params.items()}, ports, comment)
        self.insts.append(inst)
        return inst


class MemFile(str):
    """A parameter value that names a file in ``rtl/mem`` (printed as ``{MEM_DIR, "/name"}``)."""


def _pval(v: Any) -> str:
    if isinstance(v, MemFile):
        return '{MEM_DIR, "/' + str(v) + '"}'
    if isinstance(v, bool):
        return "1'b1" if v else "1'b0"
    if isinstance(v, (int, np.integer)):
        v = int(v)
        return str(v) if v >= 0 else f"-{-v}"
    return str(v)


# --------------------------------------------------------------------------------------------
# port helpers
# --------------------------------------------------------------------------------------------


def _sink(prefix: str, s: Stream, *, last: bool = True, user: bool = True) -> dict[str, str]:
    """Ports of a slave (input) stream ``prefix`` connected to stream ``s``."""
    p = {f"{prefix}_tdata": f"{s.name}_tdata", f"{prefix}_tvalid": f"{s.name}_tvalid", f"{prefix}_tready": f"{s.name}_tready"}
    if last:
        p[f"{prefix}_tlast"] = f"{s.name}_tlast" if s.last else "1'b0"
    if user:
        p[f"{prefix}_tuser"] = f"{s.name}_tuser" if s.user else "2'd0"
    return p


def _source(prefix: str, s: Stream) -> dict[str, str]:
    """Ports of a master (output) stream ``prefix`` driving stream ``s``."""
    p = {f"{prefix}_tdata": f"{s.name}_tdata", f"{prefix}_tvalid": f"{s.name}_tvalid", f"{prefix}_tready": f"{s.name}_tready"}
    if s.last:
        p[f"{prefix}_tlast"] = f"{s.name}_tlast"
    if s.user:
        p[f"{prefix}_tuser"] = f"{s.name}_tuser"
    return p


def _divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


def _pack_lanes(values, width: int) -> int:
    """Lanes ``values`` as one word, lane ``i`` at bits ``[i*width +: width]`` (two's complement)."""
    mask = (1 << width) - 1
    return sum((int(v) & mask) << (i * width) for i, v in enumerate(values))


def _bits_of(values: np.ndarray, signed: bool = True) -> int:
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return 2
    return max(2, intops.signed_bits_for_range(int(v.min()), int(v.max())))


# --------------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------------


def gemm(net: Netlist, op: LinearOp, x: Stream, pe: int, simd: int, res: Optional[Stream] = None,
         raw_out_bits: int = RESULT_W) -> Stream:
    """``spvit_mvau`` running ``op`` (bias, shift, saturation, table, fused residual) on ``x``."""
    k, m = op.in_features, op.out_features
    pe, simd = _divisor_at_most(m, pe), _divisor_at_most(k, simd)
    w = np.asarray(op.weight, dtype=np.int64)
    words = rtlpack.mvau_weight_words(w, pe, simd, op.w_fmt.bits, WB_W)
    base = len(net.weight_words)
    net.weight_words.extend(words)
    bias = np.asarray(op.bias, dtype=np.int64)
    bias_w = max(_bits_of(bias), 2)
    raw = op.out_fmt is None
    if raw:
        if max(op.acc_bits, bias_w) + 1 > raw_out_bits:
            raise UserError(f"{op.name}: raw accumulator of {max(op.acc_bits, bias_w) + 1} bits does not fit the "
                            f"{raw_out_bits}-bit result word")
        out_w, out_signed, shift = raw_out_bits, True, 0
    else:
        out_w, out_signed, shift = op.out_fmt.bits, op.out_fmt.signed, op.shift
    params: dict[str, Any] = dict(
        K=k, M=m, PE=pe, SIMD=simd, X_W=op.in_fmt.bits, X_SIGNED=op.in_fmt.signed, W_W=op.w_fmt.bits,
        W_SIGNED=op.w_fmt.signed, ACC_W=max(op.acc_bits, 2), HAS_BIAS=True, BIAS_W=bias_w,
        BIAS_FILE=MemFile(net.memfile(op.name + ".bias", rtlpack.bias_memh(bias, pe, bias_w))),
        HAS_RES=res is not None, RES_W=op.residual_fmt.bits if res is not None and op.residual_fmt else 1,
        RES_ALIGN=op.residual_align if res is not None else 0, SHIFT=shift, OUT_W=out_w, OUT_SIGNED=out_signed,
    )
    y_w = out_w
    if op.activation is not None:
        t = op.activation
        params.update(HAS_TABLE=True, TABLE_W=t.out_fmt.bits,
                      TABLE_FILE=MemFile(net.memfile(t.name + ".table", rtlpack.table_memh(np.asarray(t.table), t.out_fmt.bits))))
        y_w = t.out_fmt.bits
    params.update(WB_W=WB_W, WB_BASE=base)
    y = net.stream(op.name, m, y_w)
    ports = {"wb_valid": "wb_valid", "wb_addr": "wb_addr", "wb_data": "wb_data"}
    ports.update(_sink("s_axis_x", x))
    if res is not None:
        ports.update(_sink("s_axis_r", res, last=False, user=False))
    else:
        ports.update({"s_axis_r_tdata": "'0", "s_axis_r_tvalid": "1'b0", "s_axis_r_tready": "nc:1"})
    ports.update(_source("m_axis", y))
    net.add("spvit_mvau", op.name, params, ports, f"{op.name}: {k} -> {m}, PE {pe} x SIMD {simd}")
    net.gemm_units.append({"name": op.name, "k": k, "m": m, "pe": pe, "simd": simd, "max_tokens": op.max_tokens,
                           "wb_base": base, "wb_words": len(words), "stream": y.name})
    return y


def fork(net: Netlist, x: Stream, n: int, base: str) -> list[Stream]:
    outs = [net.stream(f"{base}_f{i}", x.lanes, x.lane_bits, last=x.last, user=x.user) for i in range(n)]
    rev = list(reversed(outs))
    ports = _sink("s_axis", x)
    ports.update({
        "m_axis_tdata": "{" + ", ".join(f"{o.name}_tdata" for o in rev) + "}",
        "m_axis_tvalid": "{" + ", ".join(f"{o.name}_tvalid" for o in rev) + "}",
        "m_axis_tready": "{" + ", ".join(f"{o.name}_tready" for o in rev) + "}",
        "m_axis_tlast": "{" + ", ".join(f"{o.name}_tlast" for o in rev) + "}",
        "m_axis_tuser": "{" + ", ".join(f"{o.name}_tuser" for o in rev) + "}",
    })
    net.add("spvit_fork", base + "_fork", dict(W=x.width, N=n), ports)
    return outs


def fifo(net: Netlist, x: Stream, depth: int, base: str) -> Stream:
    y = net.stream(base, x.lanes, x.lane_bits, last=x.last, user=x.user)
    ports = _sink("s_axis", x)
    ports.update(_source("m_axis", y))
    if not y.last:
        ports["m_axis_tlast"] = "nc:1"
    if not y.user:
        ports["m_axis_tuser"] = "nc:2"
    # token-wide FIFOs store a beat as FOLD narrower words (one beat every FOLD cycles, far faster
    # than the units around them): a 1027-bit x 70 memory then takes 8 BRAM18 instead of 29
    fold = 1 if x.width + 3 <= 144 else min(8, -(-(x.width + 3) // 144))
    params = dict(W=x.width, DEPTH=max(2, depth))
    if fold > 1:
        params["FOLD"] = fold
    net.add("spvit_fifo", base, params, ports)
    return y


def layernorm(net: Netlist, op: LayerNormOp, x: Stream, lanes: int = 1) -> Stream:
    """``spvit_layernorm_tok`` with ``lanes`` channels a cycle (statistics of the next token
    overlapping the current token's normalisation); gamma/beta in a packed ROM (one beat a line)."""
    lp = op.params()
    c = op.channels
    beta_w, g_w = op.beta_fmt.bits, op.gamma_fmt.bits
    pairs = [((int(b) & ((1 << beta_w) - 1)) << g_w) | (int(g) & ((1 << g_w) - 1))
             for g, b in zip(np.asarray(op.gamma).tolist(), np.asarray(op.beta).tolist())]
    pw = beta_w + g_w
    beats = [sum(pairs[b * lanes + i] << (i * pw) for i in range(lanes)) for b in range(c // lanes)]
    params: dict[str, Any] = rtlpack.layernorm_params(lp, g_w=g_w, beta_w=beta_w, out_shift=op.out_shift,
                                                       out_w=op.out_fmt.bits, out_signed=op.out_fmt.signed)
    params.update(
        RSQRT_FILE=MemFile(net.memfile(f"rsqrt_c{c}_m{lp.mant_bits}_t{lp.table_bits}",
                                       rtlpack.memh_text(list(lp.table), lp.table_bits))),
        GB_FILE=MemFile(net.memfile(f"{op.name}.gb_l{lanes}", rtlpack.memh_text(beats, lanes * pw))),
        LANES=lanes, OVERLAP=True, GB_PACKED=True,
    )
    y = net.stream(op.name, c, op.out_fmt.bits)
    ports = _sink("s_axis", x)
    ports.update(_source("m_axis", y))
    net.add("spvit_layernorm_tok", op.name, params, ports, f"{op.name}: LayerNorm over {c} channels, {lanes} a cycle")
    return y


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------


MAX_LANES = 64  # PE and SIMD of one GEMM unit at most (wider units do not shorten the pipeline here)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def gemm_ops(ir: IR) -> list[LinearOp]:
    """Every linear layer of the model (one GEMM unit each)."""
    ops = [ir.patch_embed.linear]
    for b in ir.blocks:
        if b.selector is not None:
            s = b.selector
            ops += [s.head_fc1, s.head_fc2, s.in_fc, s.out_fc1, s.out_fc2, s.delta]
        ops += [b.attn.q, b.attn.k, b.attn.v, b.attn.proj, b.fc1, b.fc2]
    return ops + [ir.head]


def fold_unit(op: LinearOp, target: int) -> tuple[int, int]:
    """Fewest MAC lanes (PE x SIMD, divisors of M and K, each <= MAX_LANES) whose frame of
    ``op.max_tokens`` rows takes at most ``target`` cycles; the widest allowed when none does."""
    k, m, rows = op.in_features, op.out_features, max(1, op.max_tokens)
    best = None
    for pe in [d for d in _divisors(m) if d <= MAX_LANES]:
        for simd in [d for d in _divisors(k) if d <= MAX_LANES]:
            cyc = rows * (m // pe) * (k // simd)
            key = (cyc > target, pe * simd if cyc <= target else -pe * simd, -simd)
            if best is None or key < best[0]:
                best = (key, pe, simd)
    assert best is not None
    return best[1], best[2]


def layernorm_ops(ir: IR) -> list[tuple[LayerNormOp, int]]:
    """Every LayerNorm with the most tokens (rows) of a frame it normalises."""
    lns = []
    for b in ir.blocks:
        if b.selector is not None:
            lns.append((b.selector.norm, b.selector.in_fc.max_tokens))
        lns += [(b.norm1, b.max_tokens), (b.norm2, b.max_tokens)]
    return lns + [(ir.norm, 1)]


def layernorm_cycles(channels: int, tokens: int, lanes: int) -> int:
    """Frame cycles of ``spvit_layernorm_tok`` with OVERLAP (its header's formula)."""
    p = channels // lanes
    return (tokens - 1) * max(p, 5) + 2 * p + 9


def choose_ln_lanes(op: LayerNormOp, tokens: int, target: int) -> int:
    for lanes in _divisors(op.channels):
        if layernorm_cycles(op.channels, tokens, lanes) <= target:
            return lanes
    return op.channels


def layernorm_floor(ir: IR) -> int:
    """Cycles of the slowest LayerNorm frame at its widest (one token every 5 cycles at best)."""
    return max((layernorm_cycles(op.channels, t, op.channels) for op, t in layernorm_ops(ir)), default=0)


MAX_QP = 16


def attention_cycles(b, simd: int, qp: int, tokens: Optional[int] = None) -> int:
    """Frame cycles of ``spvit_attention`` for ``tokens`` (default: the block's maximum), its
    header's formula with the one-cycle divider (D = 2, valid for DH/SIMD <= 2)."""
    a = b.attn
    t, d = (tokens or b.max_tokens), 2
    ns, nb = a.num_heads * a.head_dim // simd, a.head_dim // simd
    g = -(-t // qp)
    last = t - (g - 1) * qp
    row = max(d * t + max(0, 3 - d), t + 3)
    return (ns + nb - 1) * t + (2 + d) * t + 7 + (a.num_heads * g - 1) * row + nb + 5 + (last - 1)


def choose_qp(b, simd: int, target: int) -> int:
    qp = 1
    while qp < MAX_QP and attention_cycles(b, simd, qp) > target:
        qp *= 2
    return qp


def dsp_estimate(ir: IR, opt: RtlOptions) -> dict[str, int]:
    """One DSP48 per MAC lane of a GEMM unit (no packing; Yosys maps each 8x8 product to one),
    attention: 2 x QP x SIMD (score and context MACs of QP query rows), LayerNorm: 4 per lane + 7
    per unit (Yosys synth_xilinx counts of spvit_layernorm_tok)."""
    macs = sum(pe * simd for pe, simd in (opt.fold(op) for op in gemm_ops(ir)))
    attn = sum(2 * opt.attn_qp.get(b.attn.name, 1) * opt.attn_simd for b in ir.blocks)
    ln = sum(4 * opt.ln_lanes.get(op.name, 1) + 7 for op, _ in layernorm_ops(ir))
    return {"gemm": macs, "attention": attn, "layernorm": ln, "total": macs + attn + ln}


def choose_options(ir: IR, board, dsp_fraction: float = 0.85) -> RtlOptions:
    """Balanced folding (as FINN folds its MVAUs): the smallest frame interval whose GEMM units,
    each given the fewest MAC lanes that meet it, fit ``dsp_fraction`` of the board's DSPs.  The
    interval is not pushed below the slowest LayerNorm frame, which no MAC lane shortens."""
    budget = int(dsp_fraction * board.resources["dsp"])
    ops = gemm_ops(ir)
    head_dim = ir.blocks[0].attn.head_dim if ir.blocks else 1
    # the score/context MACs hide under the softmax's row interval when DH/SIMD <= D = 2 (one-cycle
    # divider, spvit_attention header): more lanes would not shorten the attention; query rows in
    # parallel (QP) do
    attn_simd = min(d for d in _divisors(head_dim) if head_dim // d <= 2)

    def opts(target: int) -> RtlOptions:
        return RtlOptions(folding={op.name: fold_unit(op, target) for op in ops}, target_cycles=target,
                          attn_simd=attn_simd,
                          attn_qp={b.attn.name: choose_qp(b, attn_simd, target) for b in ir.blocks},
                          ln_lanes={op.name: choose_ln_lanes(op, t, target) for op, t in layernorm_ops(ir)})

    hi = max(max(1, op.max_tokens) * op.in_features * op.out_features for op in ops)
    lo = max(1, layernorm_floor(ir))
    if dsp_estimate(ir, opts(hi))["total"] > budget:
        attn_simd = 1
        if dsp_estimate(ir, opts(hi))["total"] > budget:
            need = dsp_estimate(ir, opts(hi))["total"]
            raise UserError(f"the dataflow RTL of {ir.model['name']} needs at least {need} DSP slices (one MAC "
                            f"lane per GEMM unit); {board.name} has {board.resources['dsp']}: choose a larger board")
    if dsp_estimate(ir, opts(lo))["total"] <= budget:
        hi = lo
    while lo < hi:  # smallest feasible interval
        mid = (lo + hi) // 2
        if dsp_estimate(ir, opts(mid))["total"] <= budget:
            hi = mid
        else:
            lo = mid + 1
    best = opts(hi)
    best.dsp = dsp_estimate(ir, best)
    return best


def _attention(net: Netlist, b, h: Stream, opt: RtlOptions) -> Stream:
    a = b.attn
    hq, hk, hv = fork(net, h, 3, f"blocks_{b.index}_norm1")
    q = gemm(net, a.q, hq, *opt.fold(a.q))
    k = gemm(net, a.k, hk, *opt.fold(a.k))
    v = gemm(net, a.v, hv, *opt.fold(a.v))
    ctx = net.stream(a.name + ".context", a.num_heads * a.head_dim, a.context_fmt.bits)
    exp = np.asarray(a.exp_table, dtype=np.int64)
    params = dict(
        C=a.num_heads * a.head_dim, H=a.num_heads, DH=a.head_dim, T_MAX=b.max_tokens,
        Q_W=a.q.out_fmt.bits, K_W=a.k.out_fmt.bits, V_W=a.v.out_fmt.bits,
        SIMD=_divisor_at_most(a.head_dim, opt.attn_simd), SCORE_ACC_W=a.score_acc_bits, SCORE_SHIFT=a.score_shift,
        SCORE_W=a.score_fmt.bits, P_W=a.prob_fmt.bits, EXP_W=_bits_of(exp) - 1, EXP_DEPTH=len(exp),
        EXP_FILE=MemFile(net.memfile(a.name + ".exp", rtlpack.memh_text(exp.tolist(), _bits_of(exp) - 1))),
        DIV_STEPS=a.prob_fmt.bits + 1, CTX_ACC_W=a.context_acc_bits, CTX_SHIFT=a.context_shift, CTX_W=a.context_fmt.bits,
        QP=opt.attn_qp.get(a.name, 1), FRAMES=2,  # ping-pong: receive frame i+1 while computing frame i
    )
    ports = {}
    ports.update(_sink("s_axis_q", q))
    ports.update(_sink("s_axis_k", k))
    ports.update(_sink("s_axis_v", v))
    ports.update(_source("m_axis", ctx))
    net.add("spvit_attention", a.name, params, ports, f"{a.name}: {a.num_heads} heads x {a.head_dim}")
    return ctx


def _block(net: Netlist, b, x: Stream, opt: RtlOptions) -> Stream:
    slack = opt.fifo_slack
    xa, xr = fork(net, x, 2, f"blocks_{b.index}_in")
    res1 = fifo(net, xr, b.max_tokens + slack, f"blocks_{b.index}_res1")
    h = layernorm(net, b.norm1, xa, opt.ln_lanes.get(b.norm1.name, 1))
    ctx = _attention(net, b, h, opt)
    x1 = gemm(net, b.attn.proj, ctx, *opt.fold(b.attn.proj), res=res1)
    xb, xr2 = fork(net, x1, 2, f"blocks_{b.index}_mid")
    res2 = fifo(net, xr2, b.max_tokens + slack, f"blocks_{b.index}_res2")
    h2 = layernorm(net, b.norm2, xb, opt.ln_lanes.get(b.norm2.name, 1))
    a = gemm(net, b.fc1, h2, *opt.fold(b.fc1))
    return gemm(net, b.fc2, a, *opt.fold(b.fc2), res=res2)


def _split(net: Netlist, x: Stream, r: int, base: str) -> Stream:
    y = net.stream(base, x.lanes // r, x.lane_bits, last=x.last, user=x.user)
    ports = _sink("s_axis", x)
    ports.update(_source("m_axis", y))
    net.add("spvit_split", base, dict(L=x.lanes // r, R=r, W=x.lane_bits), ports)
    return y


def _merge(net: Netlist, x: Stream, r: int, base: str) -> Stream:
    y = net.stream(base, x.lanes * r, x.lane_bits, last=x.last, user=x.user)
    ports = _sink("s_axis", x)
    ports.update(_source("m_axis", y))
    net.add("spvit_merge", base, dict(L=x.lanes, R=r, W=x.lane_bits), ports)
    return y


def _join2(net: Netlist, a: Stream, b: Stream, base: str) -> Stream:
    y = net.stream(base, 1, a.width + b.width, last=a.last, user=a.user)
    ports = _sink("s_axis_a", a)
    ports.update(_sink("s_axis_b", b, last=False, user=False))
    ports.update(_source("m_axis", y))
    net.add("spvit_join2", base, dict(A_W=a.width, B_W=b.width), ports)
    return y


def _selector(net: Netlist, s: TokenSelectOp, x: Stream, t_max: int, opt: RtlOptions) -> tuple[Stream, Stream]:
    """Selector stage ``s`` on frame ``x``: (new frame, kept-count stream)."""
    slack = opt.fifo_slack
    pre = s.name.replace(".", "_")
    nh, dh = s.num_heads, s.head_dim
    c = nh * dh
    xs, xf = fork(net, x, 2, pre + "_in")
    frame = fifo(net, xs, t_max + slack, pre + "_frame")
    # live patch tokens
    xp = net.stream(pre + "_patches", c, x.lane_bits)
    ports = _sink("s_axis", xf)
    ports.update(_source("m_axis", xp))
    net.add("spvit_kind_filter", pre + "_filter", dict(W=x.width, KEEP_KINDS="4'b0010"), ports)
    xm, xl = fork(net, xp, 2, pre + "_patches")
    # head weights w [H]
    u = net.stream(pre + "_head_mean", nh, s.head_mean_fmt.bits)
    ports = _sink("s_axis", xm)
    ports.update(_source("m_axis", u))
    lanes = _divisor_at_most(c, 8) if dh % _divisor_at_most(c, 8) == 0 else 1
    net.add("spvit_head_mean_tok", pre + "_head_mean",
            dict(C=c, H=nh, LANES=lanes, IN_W=s.in_fmt.bits, UP=s.head_mean_fmt.frac - s.in_fmt.frac,
                 OUT_W=s.head_mean_fmt.bits, OUT_SIGNED=s.head_mean_fmt.signed, DIV_STEPS=opt.div_steps), ports)
    w1 = gemm(net, s.head_fc1, u, *opt.fold(s.head_fc1))
    w = gemm(net, s.head_fc2, w1, *opt.fold(s.head_fc2))
    w = fifo(net, w, s.max_tokens + slack, pre + "_w")
    # per-head path: LayerNorm, in_fc, global feature, out MLP, delta
    sub = _split(net, xl, nh, pre + "_heads")
    t = layernorm(net, s.norm, sub, opt.ln_lanes.get(s.norm.name, 1))
    f = gemm(net, s.in_fc, t, *opt.fold(s.in_fc))
    assert s.in_fc.activation is not None
    f_fmt = s.in_fc.activation.out_fmt
    z = net.stream(pre + "_global", dh, f_fmt.bits)
    ports = _sink("s_axis", f)
    ports.update(_source("m_axis", z))
    net.add("spvit_global_concat", pre + "_global",
            dict(DH=dh, H=nh, F_W=f_fmt.bits, N_MAX=s.max_tokens, UP=0, LANES=_divisor_at_most(dh // 2, 8),
                 DIV_STEPS=opt.div_steps, FRAMES=2), ports)
    a1 = gemm(net, s.out_fc1, z, *opt.fold(s.out_fc1))
    a2 = gemm(net, s.out_fc2, a1, *opt.fold(s.out_fc2))
    d1 = gemm(net, s.delta, a2, *opt.fold(s.delta))
    delta = _merge(net, d1, nh, pre + "_delta")
    dw = _join2(net, w, delta, pre + "_dw")  # {delta[H], w[H]}
    dk, dp = fork(net, dw, 2, pre + "_dw")
    p = net.stream(pre + "_keep_prob", 1, s.keep_prob_fmt.bits)
    ports = _sink("s_axis", dp)
    ports.update(_source("m_axis", p))
    sig = np.asarray(s.sigma.table, dtype=np.int64)
    net.add("spvit_keep_prob_tok", pre + "_keep_prob",
            dict(H=nh, W_W=s.w_fmt.bits, D_W=s.sigma.in_fmt.bits, SIG_W=s.sigma.out_fmt.bits,
                 UP=s.keep_prob_fmt.frac - s.sigma.out_fmt.frac, OUT_W=s.keep_prob_fmt.bits, DIV_STEPS=opt.div_steps,
                 SIG_FILE=MemFile(net.memfile(s.sigma.name + ".table", rtlpack.table_memh(sig, s.sigma.out_fmt.bits)))),
            ports)
    dk = fifo(net, dk, 8, pre + "_dw_wait")
    sel = _join2(net, dk, p, pre + "_sel")  # {p, delta[H], w[H]}
    y = net.stream(pre + "_out", c, x.lane_bits)
    z_w = intops.keep_decision_bits(s.w_fmt, s.sigma.in_fmt, nh)
    n_pkg_max = s.stage
    ports = _sink("s_axis", frame)
    ports.update(_sink("s_axis_sel", sel, last=False, user=False))
    ports.update(_source("m_axis", y))
    ports["n_kept"] = f"nc:{max(1, math.ceil(math.log2(s.max_tokens + 1)))}"
    net.add("spvit_token_select_tok", pre,
            dict(C=c, LANES=_divisor_at_most(c, 8), X_W=x.lane_bits, N_MAX=s.max_tokens, PKG_MAX=max(1, n_pkg_max), H=nh,
                 W_W=s.w_fmt.bits, D_W=s.sigma.in_fmt.bits, Z_W=z_w, P_W=s.keep_prob_fmt.bits,
                 DIV_STEPS=opt.div_steps, TAU=int(s.tau)),
            ports, f"{s.name}: keep iff sum_h w_h delta_h >= {int(s.tau)}")
    # kept patch tokens of this frame
    y2 = net.stream(pre + "_frame_out", c, x.lane_bits)
    cnt_w = max(1, int(s.max_tokens).bit_length())
    cnt = net.stream(pre + "_kept", 1, cnt_w, last=False, user=False)
    ports = _sink("s_axis", y)
    ports.update(_source("m_axis", y2))
    ports.update({"m_axis_cnt_tdata": f"{cnt.name}_tdata", "m_axis_cnt_tvalid": f"{cnt.name}_tvalid",
                  "m_axis_cnt_tready": f"{cnt.name}_tready"})
    net.add("spvit_kind_count", pre + "_count", dict(W=y.width, KIND=KIND_PATCH, CNT_W=cnt_w), ports)
    return y2, fifo(net, cnt, 4, pre + "_kept_q")


def build_netlist(ir: IR, opt: RtlOptions) -> Netlist:
    for s in ir.selectors:
        if s.decision != "threshold":
            raise UserError(f"the RTL backend implements the threshold keep rule; {s.name} uses {s.decision!r} "
                            "(generate with --decision threshold)")
    net = Netlist(TOP)
    pe = ir.patch_embed
    cfg = ir.model
    lin = pe.linear
    c = lin.out_features
    kpp = pe.in_chans * pe.patch_size * pe.patch_size
    pix = net.stream("pixels", 1, ir.input_fmt.bits, user=False)
    patches = net.stream("patches", kpp, ir.input_fmt.bits)
    ports = _sink("s_axis", pix, user=False)
    ports.update(_source("m_axis", patches))
    net.add("spvit_patchify", "patchify", dict(IMG=cfg["img_size"], P=pe.patch_size, CIN=pe.in_chans,
                                              PIX_W=ir.input_fmt.bits), ports)
    n = pe.grid * pe.grid
    pos = np.asarray(pe.pos, dtype=np.int64).reshape(n, c)
    pos_s = net.stream("pos", c, lin.residual_fmt.bits, last=False, user=False)
    net.add("spvit_const_stream", "pos",
            dict(C=c, W=lin.residual_fmt.bits, DEPTH=n,
                 INIT_FILE=MemFile(net.memfile("patch_embed.pos", rtlpack.memh_text(
                     [_pack_lanes(row, lin.residual_fmt.bits) for row in pos.tolist()], c * lin.residual_fmt.bits)))),
            _source("m_axis", pos_s))
    e = gemm(net, lin, patches, *opt.fold(lin), res=pos_s)
    x = net.stream("embed", c, lin.out_fmt.bits)
    cls = np.asarray(pe.cls, dtype=np.int64).reshape(-1)
    ports = _sink("s_axis", e)
    ports.update(_source("m_axis", x))
    net.add("spvit_prepend", "cls", dict(C=c, W=lin.out_fmt.bits, KIND=KIND_CLASS,
                                         INIT_FILE=MemFile(net.memfile("patch_embed.cls", rtlpack.memh_text(cls.tolist(), lin.out_fmt.bits)))),
            ports, "class token in front of the patch tokens")
    t_max = 1 + n
    for b in ir.blocks:
        if b.selector is not None:
            x, cnt = _selector(net, b.selector, x, t_max, opt)
            net.kept_streams.append(cnt)
        t_max = b.max_tokens
        x = _block(net, b, x, opt)
    # classifier on the class token
    xc = net.stream("cls_token", c, x.lane_bits)
    ports = _sink("s_axis", x)
    ports.update(_source("m_axis", xc))
    net.add("spvit_kind_filter", "cls_filter", dict(W=x.width, KEEP_KINDS="4'b0001"), ports)
    hn = layernorm(net, ir.norm, xc, opt.ln_lanes.get(ir.norm.name, 1))
    logits = gemm(net, ir.head, hn, *opt.fold(ir.head))
    # results: logits then the kept counts
    s_cnt = len(net.kept_streams)
    cnt_w = max([s.width for s in net.kept_streams], default=1)
    ports = {"s_axis_logits_tdata": f"{logits.name}_tdata", "s_axis_logits_tvalid": f"{logits.name}_tvalid",
             "s_axis_logits_tready": f"{logits.name}_tready"}
    net.assigns.append(f"assign {logits.name}_unused = ^{{{logits.name}_tlast, {logits.name}_tuser}};")
    if s_cnt:
        ks = list(reversed(net.kept_streams))
        net.assigns.append("assign kept_tdata = {" + ", ".join(
            f"{cnt_w}'({k.name}_tdata)" for k in ks) + "};")
        net.assigns.append("assign kept_tvalid = " + " & ".join(f"{k.name}_tvalid" for k in ks) + ";")
        for k in ks:
            net.assigns.append(f"assign {k.name}_tready = kept_tready & kept_tvalid;")
        ports.update({"s_axis_kept_tdata": "kept_tdata", "s_axis_kept_tvalid": "kept_tvalid",
                      "s_axis_kept_tready": "kept_tready"})
    else:
        ports.update({"s_axis_kept_tdata": "'0", "s_axis_kept_tvalid": "1'b0", "s_axis_kept_tready": "nc:1"})
    ports.update({"m_axis_tdata": "m_axis_results_tdata", "m_axis_tvalid": "m_axis_results_tvalid",
                  "m_axis_tready": "m_axis_results_tready", "m_axis_tlast": "m_axis_results_tlast"})
    net.add("spvit_result_out", "results", dict(NC=ir.num_classes, LOGIT_W=RESULT_W, S=s_cnt, CNT_W=cnt_w, OUT_W=RESULT_W),
            ports)
    _tie_off(net)
    net.kept_bits = cnt_w
    net.logits_stream = logits
    return net


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def weight_image(net: Netlist) -> bytes:
    return b"".join(int(w).to_bytes(WB_W // 8, "little") for w in net.weight_words)


def _tie_off(net: Netlist) -> None:
    """Wires for unconnected outputs (``nc:<width>`` ports) and the list of stream signals nothing
    reads (a consumer without tlast/tuser), so the top is clean under ``-Wall`` with one waiver."""
    for inst in net.insts:
        for port, val in list(inst.ports.items()):
            if val.startswith("nc:"):
                wire = f"nc_{inst.name}_{port}"
                net.nc.append((wire, int(val[3:])))
                inst.ports[port] = wire
    text = "\n".join(v for i in net.insts for v in i.ports.values()) + "\n" + "\n".join(net.assigns)
    uses: dict[str, int] = {}
    for ident in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        uses[ident] = uses.get(ident, 0) + 1
    for st in net.streams:  # one use is the producer's connection
        for sig in (["tlast"] if st.last else []) + (["tuser"] if st.user else []):
            if uses.get(f"{st.name}_{sig}", 0) <= 1:
                net.unused.append(f"{st.name}_{sig}")
    net.unused.extend(w for w, _ in net.nc if w.endswith(("_tready", "_tlast", "_tuser", "_n_kept")))


# --------------------------------------------------------------------------------------------
# library, estimates, files
# --------------------------------------------------------------------------------------------

def unit_cycles(net: Netlist, ir: IR, kept: list[int]) -> list[dict[str, Any]]:
    """Busy cycles of every GEMM/attention unit for one frame (no stalls) at the given kept counts."""
    tokens = {}
    n = ir.patch_embed.grid ** 2
    t, live, pkg = 1 + n, n, 0
    for b in ir.blocks:
        if b.selector is not None:
            tokens[b.selector.name] = live
            live = kept[b.selector.stage]
            pkg += 1
            t = 1 + live + pkg
        tokens[f"blocks.{b.index}"] = t
    rows = []
    for u in net.gemm_units:
        name = u["name"]
        if name.startswith("patch_embed"):
            rows_n = n
        elif name == "head":
            rows_n = 1
        elif ".selector" in name or name.startswith("selectors"):
            stage = name.split(".")[0] + "." + name.split(".")[1]
            rows_n = tokens.get(stage, n)
            if any(k in name for k in ("norm", "in_fc", "out_fc", "delta")):
                rows_n *= ir.model["num_heads"]
        else:
            rows_n = tokens.get(".".join(name.split(".")[:2]), 1 + n)
        cyc = rows_n * (u["m"] // u["pe"]) * (u["k"] // u["simd"])
        rows.append({"unit": name, "tokens": rows_n, "cycles": cyc})
    for b in ir.blocks:  # attention units
        i = next(i for i in net.insts if i.module == "spvit_attention" and i.name == "u_" + b.attn.name.replace(".", "_"))
        t = tokens.get(f"blocks.{b.index}", 1 + n)
        rows.append({"unit": b.attn.name, "tokens": t,
                     "cycles": attention_cycles(b, int(i.params["SIMD"]), int(i.params["QP"]), t)})
    return rows


def _ram18(width: int, depth: int) -> int:
    """BRAM18 tiles of a ``width`` x ``depth`` memory (36-bit x 512 tiles; small ones go to LUT RAM)."""
    if width * depth <= 2048:
        return 0
    return math.ceil(width / 36) * math.ceil(depth / 512)


def bram18_estimate(net: Netlist) -> dict[str, int]:
    """Block RAM of the netlist's memories, in BRAM18 tiles (an estimate: Yosys/Vivado decide)."""
    def p(inst: Inst, key: str) -> int:
        return int(inst.params[key])

    use = {"weights": 0, "fifos": 0, "attention": 0, "selector": 0}
    for i in net.insts:
        if i.module == "spvit_mvau":
            rows = (p(i, "M") // p(i, "PE")) * (p(i, "K") // p(i, "SIMD"))
            bits = p(i, "PE") * p(i, "SIMD") * p(i, "W_W")
            banks = math.ceil(bits / WB_W)
            use["weights"] += sum(_ram18(min(WB_W, bits - b * WB_W), rows) for b in range(banks))
        elif i.module == "spvit_fifo":
            fold = int(i.params.get("FOLD", 1))
            use["fifos"] += _ram18(-(-(p(i, "W") + 3) // fold), fold * p(i, "DEPTH"))
        elif i.module == "spvit_attention":
            frames = p(i, "FRAMES")
            rows = frames * p(i, "T_MAX") * p(i, "C") // p(i, "SIMD")
            qp = p(i, "QP")
            bank_rows = frames * -(-p(i, "T_MAX") // qp) * p(i, "C") // p(i, "SIMD")
            use["attention"] += qp * _ram18(p(i, "SIMD") * p(i, "Q_W"), bank_rows)
            use["attention"] += sum(_ram18(p(i, "SIMD") * p(i, w), rows) for w in ("K_W", "V_W"))
        elif i.module == "spvit_token_select_tok":
            t = 1 + p(i, "N_MAX") + p(i, "PKG_MAX")
            use["selector"] += _ram18(p(i, "LANES") * p(i, "X_W"), t * p(i, "C") // p(i, "LANES"))
        elif i.module == "spvit_global_concat":
            use["selector"] += _ram18(p(i, "DH") // 2 * p(i, "F_W") + 2, p(i, "FRAMES") * p(i, "N_MAX") * p(i, "H"))
    use["total"] = sum(use.values())
    return use


def check_rtl_fit(ir: IR, board, net: Netlist) -> dict[str, int]:
    """UserError with the numbers when the design's block RAM exceeds the board's."""
    use = bram18_estimate(net)
    avail = board.resources["bram18"]  # the units' memories infer block RAM (or LUT RAM), never URAM
    if use["total"] > avail:
        raise UserError(
            f"the dataflow RTL of {ir.model['name']} ({len(ir.blocks)} blocks) keeps every matrix on chip: it needs "
            f"about {use['total']} BRAM18 (weights {use['weights']}, FIFOs {use['fifos']}, attention "
            f"{use['attention']}, selector {use['selector']}); {board.name} has {avail} BRAM18 (its URAM is not used "
            "by the RTL units). "
            "Generate fewer blocks (--depth N with --random-weights), pick a board with more on-chip RAM, or use "
            "the HLS design, which streams weights from DDR")
    return use


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return template_environment(TEMPLATE_DIR).get_template(template).render(**context)


def build_rtl(ir: IR, board, opt: Optional[RtlOptions] = None, *, version: str = "", render_fn=render) -> tuple[dict[str, bytes], dict[str, Any]]:
    """All files of the RTL design under ``rtl/`` (path -> bytes) and the manifest's ``rtl`` entry."""
    opt = opt or choose_options(ir, board)
    net = build_netlist(ir, opt)
    bram = check_rtl_fit(ir, board, net)
    modules = library_order([i.module for i in net.insts] + ["spvit_weight_loader"])
    lib = rtl_library_dir()
    files: dict[str, bytes] = {}
    for m in modules:
        files[f"rtl/lib/{m}.sv"] = (lib / f"{m}.sv").read_bytes()
    for name, text in sorted(net.mem.items()):
        files[f"rtl/mem/{name}"] = text.encode()
    files["rtl/weights.bin"] = weight_image(net)
    pe = ir.patch_embed
    ctx = dict(top=TOP, model_name=ir.model["name"], board=board, clock_mhz=f"{board.clock_mhz:g}", version=version,
               insts=net.insts, streams=net.streams, assigns=net.assigns, unused=net.unused, nc=net.nc, axi_ports=AXI_PORTS, addr_w=ADDR_W, wb_w=WB_W,
               weight_words=len(net.weight_words), weight_bytes=len(files["rtl/weights.bin"]),
               in_words=int(np.prod(ir.input_shape)), pix_bits=ir.input_fmt.bits, out_words=ir.num_classes + len(ir.selectors),
               num_classes=ir.num_classes, logits_frac=ir.logits_frac, stages=len(ir.selectors),
               kept_bits=net.kept_bits, logits=net.logits_stream.name, result_bits=RESULT_W,
               probes=[s for s in net.streams if s.last])
    files[f"rtl/{TOP}.sv"] = render_fn("spvit_accel.sv.j2", **ctx).encode()
    files["rtl/filelist.f"] = ("".join(f"lib/{m}.sv\n" for m in modules) + f"{TOP}.sv\n").encode()
    dsp = dsp_estimate(ir, opt)
    opt_entry = {"target_cycles": opt.target_cycles, "attn_simd": opt.attn_simd, "attn_qp": opt.attn_qp,
                 "ln_lanes": opt.ln_lanes,
                 "div_steps": opt.div_steps,
                 "fifo_slack": opt.fifo_slack}
    entry = {
        "top": f"rtl/{TOP}.sv",
        "module": TOP,
        "filelist": "rtl/filelist.f",
        "filelist_base": "rtl",
        "mem_dir": "rtl/mem",
        "weights": "rtl/weights.bin",
        "weight_words": len(net.weight_words),
        "weight_word_bits": WB_W,
        "architecture": "dataflow: one unit per IR operation, token streams (rtl/DATAFLOW.md)",
        "options": opt_entry,
        "units": len(net.insts),
        "gemm_units": net.gemm_units,
        "dsp_estimate": dsp,
        "bram18_estimate": bram,
        "interfaces": {
            "control": "load_start (pulse), weights_base, weights_loaded, load_error",
            "weights": "m_axi_gmem (AXI4 read, %d-bit)" % WB_W,
            "pixels": f"s_axis_pixels: {ir.input_fmt.bits}-bit pixels, {int(np.prod(ir.input_shape))} per image",
            "results": f"m_axis_results: {RESULT_W}-bit words, {ir.num_classes} logits + {len(ir.selectors)} kept counts",
        },
    }
    return files, entry, net
