"""The overlay engine's layer program: instructions, buffer allocation, and the compiler from the IR.

The generator emits one instruction per engine step (``docs/overlay.md`` lists them); the RTL
controller runs them in order from a ROM and the cost model (:mod:`.cycles`) and the functional
model (:mod:`.execute`) read the same list.  Row and column counts that depend on pruning are
:class:`Count` expressions of the engine's run-time registers ``T`` (tokens in the residual buffer)
and ``N`` (live patch tokens).  Every instruction that needs parameters names its blob of the
param stream (:mod:`.layout`), in program order.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Union

import numpy as np

from ...ir import intops
from ...errors import UserError
from ...ir.intops import FixedFormat
from ...ir.graph import IR, AttentionOp, LayerNormOp, LinearOp, TokenSelectOp
from .arch import OverlayConfig
from .layout import ParamStream

__all__ = ["Count", "Tensor", "LoadXB", "Pixels", "Gemm", "LayerNorm", "Softmax", "HeadMean", "TokenMean", "Concat",
           "Select", "Result", "Program", "compile_program", "XB", "OUT_NONE"]

XB = -1
"""Bank number of the residual buffer (the activation banks are 0, 1, 2)."""
OUT_NONE = 0


@dataclass(frozen=True)
class Count:
    """``reg * scale + offset``: ``reg`` is ``"const"``, ``"T"`` (tokens) or ``"N"`` (live patch tokens)."""

    reg: str = "const"
    scale: int = 1
    offset: int = 0

    def value(self, regs: dict[str, int]) -> int:
        return self.offset if self.reg == "const" else regs[self.reg] * self.scale + self.offset

    def max(self, maxima: dict[str, int]) -> int:
        return self.value(maxima)

    @staticmethod
    def const(n: int) -> "Count":
        return Count("const", 1, int(n))


@dataclass(frozen=True)
class Tensor:
    """A 2-D tensor in one buffer: row ``r``, column ``c`` is lane ``c % L`` of word
    ``base + r * stride + c // L``; ``bank`` is 0..2 (int8 lanes) or :data:`XB` (residual lanes)."""

    name: str
    bank: int
    base: int
    rows: int
    cols: int
    stride: int
    signed: bool = True

    @property
    def words(self) -> int:
        return self.rows * self.stride


@dataclass
class LoadXB:
    """Pop a blob of ``rows * D`` residual values into XB rows ``row0 ..``."""

    name: str
    row0: int
    rows: int
    blob: int = -1
    op: str = "LOAD_XB"


@dataclass
class Pixels:
    """One image from the pixel AXI-Stream into the patch tensor ``dst`` ([N, C*P*P], patch rows in
    (channel, row, column) order, row-major over the patch grid)."""

    name: str
    dst: str
    channels: int
    height: int
    width: int
    patch: int
    signed: bool
    op: str = "PIXELS"


@dataclass
class Gemm:
    """``dst[r0 + i, dcol0 + n] = epilogue(sum_k act[a_row0 + i, acol0 + k] * W[n, k])`` for
    ``i < rows``, ``n < n_out``, ``k < k_in``.  W comes from the param stream (``w_src ==
    "stream"``) or from rows ``w_row0 + n`` / columns ``w_col0 + k`` of the AM tensor ``w_tensor``.

    Epilogue: ``+ bias`` (stream) ``[+ residual]`` (XB rows of the destination), rounding shift,
    saturation to ``out_fmt`` (``None``: the raw accumulator), optional table.  ``dst_kind``:
    ``am`` (row-major), ``am_t`` (transposed: value (i, n) at row ``dcol0 + n``, column ``r0 + i``
    of ``dst``), ``xb`` (residual buffer) or ``result`` (the result RAM; raw accumulators)."""

    name: str
    act: str
    act_row0: int
    act_col0: int
    act_signed: bool
    rows: Count
    k_in: Count
    n_out: Count
    w_src: str  # "stream" | "am"
    w_tensor: Optional[str]
    w_row0: int
    w_col0: int
    w_bits: int
    bias: bool
    shift: int
    out_fmt: Optional[FixedFormat]
    residual: bool
    res_align: int
    table: Optional[tuple[FixedFormat, FixedFormat]]  # (in, out) of the activation table
    dst_kind: str
    dst: Optional[str]
    dst_row0: int
    dst_col0: int
    acc_bits: int
    blob: int = -1
    op: str = "GEMM"


@dataclass
class LayerNorm:
    """Rows ``row0 .. row0 + rows - 1`` of XB; ``heads > 1``: every row is ``heads`` sub-rows of
    ``channels`` values (the selector's per-head LayerNorm), written as consecutive rows of ``dst``."""

    name: str
    row0: int
    rows: Count
    heads: int
    channels: int
    params: Any  # intops.LayerNormParams
    gamma_fmt: FixedFormat
    beta_fmt: FixedFormat
    out_shift: int
    out_fmt: FixedFormat
    dst: str
    blob: int = -1
    op: str = "LAYERNORM"


@dataclass
class Softmax:
    """Rows of ``src`` (row length ``length``) -> probabilities in ``dst`` (``intops.int_softmax``)."""

    name: str
    src: str
    dst: str
    rows: Count
    length: Count
    in_fmt: FixedFormat
    prob_fmt: FixedFormat
    exp_frac: int
    table_entries: int
    blob: int = -1
    op: str = "SOFTMAX"


@dataclass
class HeadMean:
    """Per-head channel means of the live patch rows of XB (``intops.int_head_mean``) -> ``dst`` [N, H]."""

    name: str
    heads: int
    head_dim: int
    in_frac: int
    out_fmt: FixedFormat
    dst: str
    op: str = "HEAD_MEAN"


@dataclass
class TokenMean:
    """``g[h, c] = mean over the N live tokens of src[t*H + h, half + c]`` (``intops.int_token_mean``)."""

    name: str
    src: str
    heads: int
    half: int
    in_frac: int
    out_fmt: FixedFormat
    dst: str
    op: str = "TOKEN_MEAN"


@dataclass
class Concat:
    """``dst[t*H + h] = [src[t*H + h, :half], g[h]]`` for every live token ``t``."""

    name: str
    src: str
    glob: str
    heads: int
    half: int
    dst: str
    op: str = "CONCAT"


@dataclass
class Select:
    """One selector stage: ``z = sum_h w_h delta_h``, keep (threshold ``tau`` or top ``k``), keep
    probability ``p``, package token of the pruned tokens, compaction of XB to
    ``[cls, kept, earlier packages, new package]``; updates ``N``, ``T`` and the stage's kept count."""

    name: str
    stage: int
    decision: str
    tau: int
    topk: int
    heads: int
    w_tensor: str  # [N, H] head weights (unsigned)
    d_tensor: str  # [N*H, 1] logit differences
    w_fmt: FixedFormat
    delta_fmt: FixedFormat
    sig_fmt: FixedFormat
    p_fmt: FixedFormat
    score_bits: int
    blob: int = -1
    op: str = "SELECT"


@dataclass
class Result:
    """Send the logits (result RAM) and the kept count of every stage as 32-bit words."""

    name: str
    num_classes: int
    stages: int
    op: str = "RESULT"


Instruction = Union[LoadXB, Pixels, Gemm, LayerNorm, Softmax, HeadMean, TokenMean, Concat, Select, Result]


@dataclass
class Program:
    cfg: OverlayConfig
    instructions: list[Instruction]
    tensors: dict[str, Tensor]
    bank_words: list[int]  # words of AM0..AM2
    xb_rows: int
    embed_dim: int
    x_fmt: FixedFormat  # residual lane format
    t_max: int
    n_max: int  # patch tokens
    stages: int
    num_classes: int
    stream: ParamStream
    acc_bits: int

    @property
    def weight_image_bytes(self) -> int:
        return self.stream.nbytes

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]


# --------------------------------------------------------------------------------------------
# buffer allocation
# --------------------------------------------------------------------------------------------


class _Allocator:
    """Tensors per bank and phase: a tensor of phase ``"*"`` is live throughout and placed first; the
    tensors of one phase are placed after them, and different phases share addresses."""

    def __init__(self, lanes: int) -> None:
        self.lanes = lanes
        self.specs: list[tuple[str, int, int, int, bool, str]] = []

    def add(self, name: str, bank: int, rows: int, cols: int, signed: bool, phase: str) -> None:
        self.specs.append((name, bank, rows, cols, signed, phase))

    def place(self) -> tuple[dict[str, Tensor], list[int]]:
        tensors: dict[str, Tensor] = {}
        sizes = [0, 0, 0]
        for bank in range(3):
            base = 0
            for name, b, rows, cols, signed, phase in self.specs:
                if b == bank and phase == "*":
                    stride = -(-cols // self.lanes)
                    tensors[name] = Tensor(name, bank, base, rows, cols, stride, signed)
                    base += rows * stride
            top = base
            phases = sorted({p for _, b, *_rest, p in self.specs if b == bank and p != "*"})
            for ph in phases:
                addr = base
                for name, b, rows, cols, signed, p in self.specs:
                    if b == bank and p == ph:
                        stride = -(-cols // self.lanes)
                        tensors[name] = Tensor(name, bank, addr, rows, cols, stride, signed)
                        addr += rows * stride
                top = max(top, addr)
            sizes[bank] = top
        return tensors, sizes


# --------------------------------------------------------------------------------------------
# compiler
# --------------------------------------------------------------------------------------------


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UserError(f"the overlay engine cannot run this model: {msg}")


def _pack_ok(cfg: OverlayConfig, act: FixedFormat, w: FixedFormat, what: str) -> None:
    """Two products in one DSP are exact when every product fits the lower field."""
    if cfg.pack == 1:
        return
    amax = max(abs(act.min_int), abs(act.max_int))
    wmax = max(abs(w.min_int), abs(w.max_int))
    _check(amax * wmax < 1 << (cfg.pack_shift - 1),
           f"{what}: |a*w| up to {amax * wmax} does not fit the {cfg.pack_shift - 1}-bit packed DSP field")


class _Compiler:
    def __init__(self, ir: IR, cfg: OverlayConfig) -> None:
        self.ir, self.cfg = ir, cfg
        self.L = cfg.lanes
        m = ir.model
        self.D = int(m["embed_dim"])
        self.H = int(m["num_heads"])
        self.dh = self.D // self.H
        self.N = ir.patch_embed.grid ** 2
        self.stages = len(ir.selectors)
        self.t_max = 1 + self.N + self.stages
        self.stream = ParamStream(cfg.stream_bytes)
        self.instrs: list[Instruction] = []
        self.acc_bits = 0
        _check(self.dh % self.L == 0, f"the array side {self.L} must divide the head width {self.dh}")
        _check(self.D % self.L == 0, f"the array side {self.L} must divide the embedding width {self.D}")
        x_fmt = ir.blocks[0].norm1.in_fmt if ir.blocks else ir.norm.in_fmt
        self.x_fmt = x_fmt
        _check(x_fmt.bits <= 16, f"residual stream of {x_fmt.bits} bits (at most 16)")

    # -- tensors ----------------------------------------------------------------------------
    def allocate(self) -> tuple[dict[str, Tensor], list[int]]:
        L, D, H, dh, T, N = self.L, self.D, self.H, self.dh, self.t_max, self.N
        pe = self.ir.patch_embed
        kpe = pe.in_chans * pe.patch_size ** 2
        mlp = self.ir.blocks[0].fc1.out_features if self.ir.blocks else D
        a = _Allocator(L)
        a.add("H", 0, T, D, True, "*")
        a.add("PATCHES", 1, N, kpe, self.ir.input_fmt.signed, "embed")
        a.add("CTX", 0, T, D, True, "attn")
        a.add("Q", 1, T, D, True, "attn")
        a.add("P", 1, T, T, False, "attn")
        a.add("K", 2, T, D, True, "attn")
        a.add("S", 2, T, T, True, "attn")
        a.add("VT", 2, D, T, True, "attn")
        a.add("F", 1, T, mlp, True, "mlp")
        if self.stages:
            nh = N * H
            a.add("U", 0, N, H, True, "sel")
            a.add("HF1", 0, N, max(1, H // 2), True, "sel")
            a.add("HW", 0, N, H, False, "sel")
            a.add("G", 0, H, dh // 2, True, "sel")
            a.add("T1", 1, nh, dh, True, "sel")
            a.add("Z", 1, nh, dh, True, "sel")
            a.add("F1", 2, nh, dh, True, "sel")
            a.add("A1", 2, nh, dh // 2, True, "sel")
            a.add("A2", 0, nh, max(1, dh // 4), True, "sel")
            a.add("DL", 1, nh, 1, True, "sel")
        return a.place()

    # -- blobs ------------------------------------------------------------------------------
    def gemm_blob(self, op: LinearOp, k_in: int, n_out: int) -> int:
        table = op.activation.table if op.activation is not None else None
        return self.stream.add_gemm(np.asarray(op.weight), np.asarray(op.bias), table, self.L,
                                    w16=op.w_fmt.bits > 8)

    # -- instructions -------------------------------------------------------------------------
    def linear(self, op: LinearOp, act: str, rows: Count, *, act_row0: int = 0, dst_kind: str, dst: Optional[str],
               dst_row0: int = 0, residual: bool = False) -> Gemm:
        _check(op.in_fmt.bits <= 8, f"{op.name}: activations of {op.in_fmt.bits} bits (at most 8)")
        _check(op.w_fmt.bits <= 9, f"{op.name}: weights of {op.w_fmt.bits} bits (at most 9)")
        _check(op.acc_bits <= 32, f"{op.name}: accumulator of {op.acc_bits} bits (at most 32)")
        _pack_ok(self.cfg, op.in_fmt, op.w_fmt, op.name)
        self.acc_bits = max(self.acc_bits, op.acc_bits)
        table = (op.activation.in_fmt, op.activation.out_fmt) if op.activation is not None else None
        g = Gemm(name=op.name, act=act, act_row0=act_row0, act_col0=0, act_signed=op.in_fmt.signed, rows=rows,
                 k_in=Count.const(op.in_features), n_out=Count.const(op.out_features), w_src="stream", w_tensor=None,
                 w_row0=0, w_col0=0, w_bits=op.w_fmt.bits, bias=True, shift=op.shift, out_fmt=op.out_fmt,
                 residual=residual, res_align=op.residual_align if residual else 0, table=table, dst_kind=dst_kind,
                 dst=dst, dst_row0=dst_row0, dst_col0=0, acc_bits=op.acc_bits)
        g.blob = self.gemm_blob(op, op.in_features, op.out_features)
        self.instrs.append(g)
        return g

    def layernorm(self, op: LayerNormOp, row0: int, rows: Count, dst: str, heads: int = 1) -> None:
        ln = LayerNorm(name=op.name, row0=row0, rows=rows, heads=heads, channels=op.channels, params=op.params(),
                       gamma_fmt=op.gamma_fmt, beta_fmt=op.beta_fmt, out_shift=op.out_shift, out_fmt=op.out_fmt, dst=dst)
        ln.blob = self.stream.add_layernorm(np.asarray(op.rsqrt_table), np.asarray(op.gamma), np.asarray(op.beta))
        self.instrs.append(ln)

    def attention(self, op: AttentionOp) -> None:
        T = Count("T")
        self.linear(op.q, "H", T, dst_kind="am", dst="Q")
        self.linear(op.k, "H", T, dst_kind="am", dst="K")
        self.linear(op.v, "H", T, dst_kind="am_t", dst="VT")
        assert op.q.out_fmt and op.k.out_fmt and op.v.out_fmt
        _pack_ok(self.cfg, op.q.out_fmt, op.k.out_fmt, op.name + " QK")
        _pack_ok(self.cfg, op.prob_fmt, op.v.out_fmt, op.name + " AV")
        self.acc_bits = max(self.acc_bits, op.score_acc_bits, op.context_acc_bits)
        dh = op.head_dim
        for h in range(op.num_heads):
            self.instrs.append(Gemm(
                name=f"{op.name}.qk{h}", act="Q", act_row0=0, act_col0=h * dh, act_signed=True, rows=T,
                k_in=Count.const(dh), n_out=T, w_src="am", w_tensor="K", w_row0=0, w_col0=h * dh, w_bits=op.k.out_fmt.bits,
                bias=False, shift=op.score_shift, out_fmt=op.score_fmt, residual=False, res_align=0, table=None,
                dst_kind="am", dst="S", dst_row0=0, dst_col0=0, acc_bits=op.score_acc_bits))
            sm = Softmax(name=f"{op.name}.softmax{h}", src="S", dst="P", rows=T, length=T, in_fmt=op.score_fmt,
                         prob_fmt=op.prob_fmt, exp_frac=op.exp_frac, table_entries=int(np.asarray(op.exp_table).size))
            if h == 0:  # one exp table a block: the later heads keep it (cfg_load_table = 0)
                sm.blob = self.stream.add_table16(np.asarray(op.exp_table))
            self.instrs.append(sm)
            self.instrs.append(Gemm(
                name=f"{op.name}.av{h}", act="P", act_row0=0, act_col0=0, act_signed=False, rows=T,
                k_in=T, n_out=Count.const(dh), w_src="am", w_tensor="VT", w_row0=h * dh, w_col0=0, w_bits=op.v.out_fmt.bits,
                bias=False, shift=op.context_shift, out_fmt=op.context_fmt, residual=False, res_align=0, table=None,
                dst_kind="am", dst="CTX", dst_row0=0, dst_col0=h * dh, acc_bits=op.context_acc_bits))
        self.linear(op.proj, "CTX", T, dst_kind="xb", dst=None, residual=True)

    def selector(self, s: TokenSelectOp) -> None:
        H, dh, Nn = s.num_heads, s.head_dim, Count("N")
        NH = Count("N", H, 0)
        _check(s.head_mean_fmt.bits <= 8, f"{s.name}: head-mean format wider than 8 bits")
        self.instrs.append(HeadMean(name=s.name + ".head_mean", heads=H, head_dim=dh, in_frac=s.in_fmt.frac,
                                    out_fmt=s.head_mean_fmt, dst="U"))
        self.linear(s.head_fc1, "U", Nn, dst_kind="am", dst="HF1")
        self.linear(s.head_fc2, "HF1", Nn, dst_kind="am", dst="HW")
        self.layernorm(s.norm, 1, Nn, "T1", heads=H)
        self.linear(s.in_fc, "T1", NH, dst_kind="am", dst="F1")
        assert s.in_fc.activation is not None
        f_fmt = s.in_fc.activation.out_fmt
        self.instrs.append(TokenMean(name=s.name + ".global", src="F1", heads=H, half=dh // 2, in_frac=f_fmt.frac,
                                     out_fmt=f_fmt, dst="G"))
        self.instrs.append(Concat(name=s.name + ".concat", src="F1", glob="G", heads=H, half=dh // 2, dst="Z"))
        self.linear(s.out_fc1, "Z", NH, dst_kind="am", dst="A1")
        self.linear(s.out_fc2, "A1", NH, dst_kind="am", dst="A2")
        self.linear(s.delta, "A2", NH, dst_kind="am", dst="DL")
        assert s.delta.out_fmt is not None
        sel = Select(name=s.name + ".select", stage=s.stage, decision=s.decision, tau=int(s.tau), topk=int(s.topk), heads=H,
                     w_tensor="HW", d_tensor="DL", w_fmt=s.w_fmt, delta_fmt=s.sigma.in_fmt, sig_fmt=s.sigma.out_fmt,
                     p_fmt=s.keep_prob_fmt, score_bits=s.score_bits)
        _check(s.sigma.in_fmt == s.delta.out_fmt, f"{s.name}: sigmoid input format differs from delta's")
        sel.blob = self.stream.add_table8(np.asarray(s.sigma.table))
        self.instrs.append(sel)

    def compile(self) -> Program:
        ir, L = self.ir, self.L
        tensors, banks = self.allocate()
        pe = ir.patch_embed
        self.instrs.append(LoadXB(name="cls", row0=0, rows=1, blob=self.stream.add_values(np.asarray(pe.cls)[None], 2)))
        self.instrs.append(LoadXB(name="pos", row0=1, rows=self.N, blob=self.stream.add_values(np.asarray(pe.pos), 2)))
        c, hgt, wid = ir.input_shape
        _check(ir.input_fmt.bits <= 8, f"input pixels of {ir.input_fmt.bits} bits (at most 8)")
        self.instrs.append(Pixels(name="pixels", dst="PATCHES", channels=c, height=hgt, width=wid, patch=pe.patch_size,
                                  signed=ir.input_fmt.signed))
        self.linear(pe.linear, "PATCHES", Count.const(self.N), dst_kind="xb", dst=None, dst_row0=1, residual=True)
        for b in ir.blocks:
            if b.selector is not None:
                self.selector(b.selector)
            T = Count("T")
            self.layernorm(b.norm1, 0, T, "H")
            self.attention(b.attn)
            self.layernorm(b.norm2, 0, T, "H")
            self.linear(b.fc1, "H", T, dst_kind="am", dst="F")
            self.linear(b.fc2, "F", T, dst_kind="xb", dst=None, residual=True)
        self.layernorm(ir.norm, 0, Count.const(1), "H")
        self.linear(ir.head, "H", Count.const(1), dst_kind="result", dst=None)
        self.instrs.append(Result(name="result", num_classes=ir.num_classes, stages=self.stages))
        return Program(cfg=self.cfg, instructions=self.instrs, tensors=tensors, bank_words=banks, xb_rows=self.t_max,
                       embed_dim=self.D, x_fmt=self.x_fmt, t_max=self.t_max, n_max=self.N, stages=self.stages,
                       num_classes=ir.num_classes, stream=self.stream, acc_bits=self.acc_bits)


def compile_program(ir: IR, cfg: OverlayConfig) -> Program:
    """The layer program and param stream of ``ir`` for an engine of size ``cfg``."""
    return _Compiler(ir, cfg).compile()


# --------------------------------------------------------------------------------------------
# encoding: one fixed-width word an instruction (the RTL's program ROM)
# --------------------------------------------------------------------------------------------

OPCODES = {"LOAD_XB": 1, "PIXELS": 2, "GEMM": 3, "LAYERNORM": 4, "SOFTMAX": 5, "HEAD_MEAN": 6, "TOKEN_MEAN": 7,
           "CONCAT": 8, "SELECT": 9, "RESULT": 10}
COUNT_REGS = {"const": 0, "T": 1, "N": 2}
DST_KINDS = {"am": 0, "am_t": 1, "xb": 2, "result": 3}

FIELDS: tuple[tuple[str, int, bool], ...] = (
    # name, bits, signed
    ("op", 4, False),
    ("rows_reg", 2, False), ("rows_scale", 4, False), ("rows_off", 12, False),
    ("k_reg", 2, False), ("k_scale", 4, False), ("k_off", 12, False),
    ("n_reg", 2, False), ("n_scale", 4, False), ("n_off", 12, False),
    ("a_bank", 2, False), ("a_base", 20, False), ("a_stride", 12, False), ("a_signed", 1, False),
    ("w_am", 1, False), ("w_bank", 2, False), ("w_base", 20, False), ("w_stride", 12, False), ("w16", 1, False),
    ("table", 1, False), ("tbl_in_bits", 4, False), ("tbl_out_signed", 1, False), ("bias", 1, False),
    ("shift", 8, True), ("res", 1, False), ("res_align", 7, True), ("raw", 1, False),
    ("out_bits", 5, False), ("out_signed", 1, False),
    ("d_kind", 2, False), ("d_bank", 2, False), ("d_base", 20, False), ("d_stride", 12, False),
    ("heads", 5, False), ("words", 7, False), ("channels", 13, False),
    ("eps", 64, False), ("rsqrt_shift", 7, False), ("norm_bits", 5, False), ("norm_frac", 7, True),
    ("sm_entries", 11, False), ("prob_bits", 5, False), ("prob_frac", 6, False),
    ("up0", 8, True), ("up1", 8, True), ("tau", 40, True), ("topk", 12, False), ("topk_rule", 1, False),
    ("stage", 3, False), ("half", 10, False), ("hdim", 10, False),
    ("classes", 14, False), ("stages", 3, False), ("blob_beats", 24, False),
)


def field_layout() -> list[tuple[str, int, int, bool]]:
    """(name, lsb, bits, signed) of every field, the first field at bit 0."""
    out, pos = [], 0
    for name, bits, signed in FIELDS:
        out.append((name, pos, bits, signed))
        pos += bits
    return out


INSTR_BITS = sum(b for _, b, _ in FIELDS)


def _count_fields(prefix: str, c: Count) -> dict[str, int]:
    return {f"{prefix}_reg": COUNT_REGS[c.reg], f"{prefix}_scale": c.scale, f"{prefix}_off": c.offset}


def instruction_fields(prog: Program, ins: Instruction) -> dict[str, int]:
    """The field values of one instruction (absent fields are 0)."""
    L = prog.cfg.lanes
    wpr = prog.embed_dim // L
    f: dict[str, int] = {"op": OPCODES[ins.op]}
    blob = getattr(ins, "blob", -1)
    if blob >= 0:
        f["blob_beats"] = prog.stream.blobs[blob].beats

    def tensor_at(name: str, row0: int, col0: int) -> tuple[int, int, int]:
        t = prog.tensors[name]
        return t.bank, t.base + row0 * t.stride + col0 // L, t.stride

    if isinstance(ins, LoadXB):
        f.update(d_base=ins.row0 * wpr, rows_off=ins.rows, words=wpr)
    elif isinstance(ins, Pixels):
        b, base, stride = tensor_at(ins.dst, 0, 0)
        f.update(d_bank=b, d_base=base, d_stride=stride, a_signed=int(ins.signed), channels=ins.channels,
                 rows_off=ins.height, k_off=ins.width, hdim=ins.patch)
    elif isinstance(ins, Gemm):
        f.update(_count_fields("rows", ins.rows))
        f.update(_count_fields("k", ins.k_in))
        f.update(_count_fields("n", ins.n_out))
        b, base, stride = tensor_at(ins.act, ins.act_row0, ins.act_col0)
        f.update(a_bank=b, a_base=base, a_stride=stride, a_signed=int(ins.act_signed))
        if ins.w_src == "am":
            assert ins.w_tensor is not None
            b, base, stride = tensor_at(ins.w_tensor, ins.w_row0, ins.w_col0)
            f.update(w_am=1, w_bank=b, w_base=base, w_stride=stride)
        f["w16"] = int(ins.w_bits > 8)
        if ins.table is not None:
            f.update(table=1, tbl_in_bits=ins.table[0].bits, tbl_out_signed=int(ins.table[1].signed))
        f.update(bias=int(ins.bias), shift=ins.shift,
                 res=int(ins.residual), res_align=ins.res_align, raw=int(ins.out_fmt is None))
        if ins.out_fmt is not None:
            f.update(out_bits=ins.out_fmt.bits, out_signed=int(ins.out_fmt.signed))
        f["d_kind"] = DST_KINDS[ins.dst_kind]
        if ins.dst_kind in ("am", "am_t"):
            assert ins.dst is not None
            t = prog.tensors[ins.dst]
            if ins.dst_kind == "am":
                b, base, stride = tensor_at(ins.dst, ins.dst_row0, ins.dst_col0)
            else:  # value (row i, output n) -> row dst_col0 + n, column dst_row0 + i
                b, base, stride = tensor_at(ins.dst, ins.dst_col0, ins.dst_row0)
            f.update(d_bank=b, d_base=base, d_stride=stride)
        elif ins.dst_kind == "xb":
            f.update(d_base=ins.dst_row0 * wpr, d_stride=wpr)
    elif isinstance(ins, LayerNorm):
        b, base, stride = tensor_at(ins.dst, 0, 0)
        p = ins.params
        f.update(_count_fields("rows", ins.rows))
        f.update(a_base=ins.row0 * wpr, d_bank=b, d_base=base, d_stride=stride, heads=ins.heads,
                 words=ins.channels // L, channels=ins.channels, eps=p.eps_int, rsqrt_shift=p.rsqrt_shift,
                 norm_bits=p.norm_fmt.bits, norm_frac=p.norm_fmt.frac, shift=ins.out_shift,
                 out_bits=ins.out_fmt.bits, out_signed=int(ins.out_fmt.signed))
    elif isinstance(ins, Softmax):
        f.update(_count_fields("rows", ins.rows))
        f.update(_count_fields("n", ins.length))
        b, base, stride = tensor_at(ins.src, 0, 0)
        f.update(a_bank=b, a_base=base, a_stride=stride, a_signed=int(ins.in_fmt.signed))
        b, base, stride = tensor_at(ins.dst, 0, 0)
        f.update(d_bank=b, d_base=base, d_stride=stride, sm_entries=ins.table_entries,
                 prob_bits=ins.prob_fmt.bits, prob_frac=ins.prob_fmt.frac, table=int(ins.blob >= 0))
    elif isinstance(ins, HeadMean):
        b, base, stride = tensor_at(ins.dst, 0, 0)
        f.update(a_base=wpr, d_bank=b, d_base=base, d_stride=stride, heads=ins.heads, hdim=ins.head_dim,
                 words=wpr, up0=ins.out_fmt.frac - ins.in_frac, out_bits=ins.out_fmt.bits,
                 out_signed=int(ins.out_fmt.signed))
    elif isinstance(ins, TokenMean):
        b, base, stride = tensor_at(ins.src, 0, 0)
        f.update(a_bank=b, a_base=base, a_stride=stride, heads=ins.heads, half=ins.half)
        b, base, stride = tensor_at(ins.dst, 0, 0)
        f.update(d_bank=b, d_base=base, d_stride=stride, up0=ins.out_fmt.frac - ins.in_frac,
                 out_bits=ins.out_fmt.bits, out_signed=int(ins.out_fmt.signed))
    elif isinstance(ins, Concat):
        b, base, stride = tensor_at(ins.src, 0, 0)
        f.update(a_bank=b, a_base=base, a_stride=stride, heads=ins.heads, half=ins.half)
        b, base, stride = tensor_at(ins.glob, 0, 0)
        f.update(w_bank=b, w_base=base, w_stride=stride)
        b, base, stride = tensor_at(ins.dst, 0, 0)
        f.update(d_bank=b, d_base=base, d_stride=stride)
    elif isinstance(ins, Select):
        b, base, stride = tensor_at(ins.w_tensor, 0, 0)
        f.update(a_bank=b, a_base=base, a_stride=stride)
        b, base, stride = tensor_at(ins.d_tensor, 0, 0)
        # z fits score_bits (signed): a tau below the range keeps every token, one above it none; clamp it to
        # [z_min, z_max + 1], which the unit's score_bits + 1-bit tau register holds and which decides the same
        zlim = 1 << (ins.score_bits - 1)
        tau = min(max(int(ins.tau), -zlim), zlim)
        f.update(w_bank=b, w_base=base, w_stride=stride, heads=ins.heads, words=wpr, stage=ins.stage,
                 up0=ins.p_fmt.frac - ins.sig_fmt.frac, out_bits=ins.p_fmt.bits, tau=tau,
                 topk=ins.topk, topk_rule=int(ins.decision == "topk"))
    elif isinstance(ins, Result):
        f.update(classes=ins.num_classes, stages=ins.stages)
    return f


def encode_instruction(fields: dict[str, int]) -> int:
    word = 0
    for name, lsb, bits, signed in field_layout():
        v = int(fields.get(name, 0))
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not lo <= v <= hi:
            raise UserError(f"the overlay program's field {name} = {v} does not fit {bits} bits"
                            + (" (signed)" if signed else ""))
        word |= (v & ((1 << bits) - 1)) << lsb
    return word


def encode_program(prog: Program) -> list[int]:
    return [encode_instruction(instruction_fields(prog, ins)) for ins in prog.instructions]
