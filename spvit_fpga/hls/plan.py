"""The design plan of a generated HLS project: what the templates render.

A layer-sequenced design (``docs/hls_backend.md``): one frame of activations on chip, the IR
executed op by op, every op a call of a kernel from ``hls/`` with the template parameters and
formats of that op.  GEMMs run on a few engines (instantiations of ``spvit::linear`` behind one
non-inlined wrapper each, so every call site shares one hardware instance):

``engine_block``   the C x C GEMM array (PE x SIMD from the cost model) that runs every linear
                   layer of every encoder block.  It outputs raw accumulators; fc1 (C -> r*C) is
                   r output tiles, fc2 (r*C -> C) r fan-in tiles summed exactly; the requantising
                   epilogue (shift, round, saturate, GELU table, residual add) runs on the frame
                   (``spvit_glue.h``), which gives the same integers as the fused ``int_linear``.
                   It also runs the patch embedding (ceil(KP/C) fan-in tiles, 8-bit pixels fed as
                   u - 128 with 128 * rowsum(w) in the bias) and the selectors' in_fc, out_fc1,
                   out_fc2 (block-diagonal C x C matrices on whole-token rows).
``engine_head``    the classifier (raw accumulator = logits).
``engine_sel_*``   the token selector's head-weight MLP and delta (int9 weights), shared by all
                   stages; ``engine_patch`` and ``engine_sel_in/out1/out2`` only for IRs whose
                   formats do not fit the block engine.

Everything here is plain data (dataclasses, numpy arrays, C++ type strings); the C++ lives in the
templates.  :func:`build_plan` is deterministic: the same IR and parallelism give the same plan.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import UserError
from ..hw.weight_image import WeightImage
from ..ir import intops
from ..ir.graph import IR, BlockOp, LayerNormOp, LinearOp, TableOp, TokenSelectOp
from ..ir.intops import FixedFormat
from ..nn.config import ModelConfig

__all__ = ["ConstArray", "Engine", "Buffer", "Step", "DesignPlan", "EngineShape", "DesignShape", "design_shape",
           "build_plan", "fmt_type", "int_type"]

# Budgets of the smaller engines, as fractions of the block engine's MAC/cycle (so that they scale
# with the board) and absolute caps: the patch embedding runs once per image, the classifier on
# one token, the selector MLPs on n*H short rows; the attention unit has two SIMD-lane dot products.
PATCH_SHARE, PATCH_SIMD, PATCH_PE = 32, 16, 16  # <= block/32 MAC/cycle, SIMD <= 16, PE <= 16
AUX_SHARE, AUX_SIMD, AUX_PE = 128, 16, 8  # classifier and selector MLPs: <= block/128 each
ATTN_SHARE, ATTN_SIMD = 64, 32  # attention lanes <= block/64, <= 32
VEC_LANES = 64  # element-wise lanes <= 64 (cost_model.choose_parallelism)
ATTN_QP_SHARE, ATTN_QP = 16, 8  # attention query rows: QP x ATTN lanes <= block/16, QP <= 8
MERGE_LANES = 16  # channels per cycle of the token-select / package-merge unit (16 p_j x token multipliers)
ATTN_EL = 8  # keys per cycle of the attention unit's exps loop (QP x EL exp-table reads, no multipliers)


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------


def int_type(bits: int, signed: bool = True) -> str:
    return f"ap_int<{bits}>" if signed else f"ap_uint<{bits}>"


def fmt_type(fmt: FixedFormat) -> str:
    """The HLS type holding the integers of ``fmt`` (values are integers, fractions are shifts)."""
    return int_type(fmt.bits, fmt.signed)


def _range_bits(values: np.ndarray, min_bits: int = 2) -> int:
    """Signed width holding every value (at least ``min_bits``)."""
    if values.size == 0:
        return min_bits
    return max(min_bits, intops.signed_bits_for_range(int(values.min()), int(values.max())))


def _raw_type(values: np.ndarray) -> str:
    """Narrowest <stdint.h> type holding the values (the g++ C-simulation's initialiser type)."""
    lo = int(values.min()) if values.size else 0
    hi = int(values.max()) if values.size else 0
    for name, info in (("int8_t", np.iinfo(np.int8)), ("uint8_t", np.iinfo(np.uint8)), ("int16_t", np.iinfo(np.int16)),
                       ("uint16_t", np.iinfo(np.uint16)), ("int32_t", np.iinfo(np.int32)),
                       ("uint32_t", np.iinfo(np.uint32))):
        if info.min <= lo and hi <= info.max:
            return name
    return "int64_t"


def fmt_str(fmt: FixedFormat) -> str:
    """``int8 frac 9`` style description of a format (for comments)."""
    return f"{'int' if fmt.signed else 'uint'}{fmt.bits} frac {fmt.frac}"


def _fmt_tag(fmt: FixedFormat) -> str:
    """``s8f9`` / ``u8f8`` / ``s8fm2`` (frac -2): a format in a C identifier."""
    frac = f"m{-fmt.frac}" if fmt.frac < 0 else str(fmt.frac)
    return f"{'s' if fmt.signed else 'u'}{fmt.bits}f{frac}"


def _cname(op_name: str) -> str:
    return op_name.replace(".", "_")


def _pow2_divisor_le(n: int, cap: int) -> int:
    """Largest power of two <= cap dividing n."""
    p = 1
    while p * 2 <= cap and n % (p * 2) == 0:
        p *= 2
    return p


def _pow2_floor_le(cap: int) -> int:
    """Largest power of two <= cap (cap >= 1)."""
    return 1 << (max(1, cap).bit_length() - 1)


def _divisor_le(n: int, cap: int) -> int:
    """Largest divisor of n that is <= cap."""
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


# --------------------------------------------------------------------------------------------
# Engine shapes (from the model config alone: the estimates need no weights)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineShape:
    k: int  # fan-in
    m: int  # outputs
    pe: int  # outputs per cycle (divides m)
    simd: int  # inputs per cycle per PE (divides k)

    @property
    def macs_per_cycle(self) -> int:
        return self.pe * self.simd


@dataclass(frozen=True)
class DesignShape:
    engines: dict[str, EngineShape]
    attn_simd: int
    nt: int  # fc1 output tiles = fc2 fan-in tiles of the C x C block engine
    kp: int  # patch-embedding fan-in
    in_words: int
    out_words: int
    lanes: int = 1  # channels per cycle of the element-wise loops (LayerNorm, requantise, copies)
    attn_qp: int = 1  # query rows the attention unit processes in parallel
    half_lanes: int = 1  # lanes of the selector's half-head-width copies (divides DH/2)
    attn_el: int = 1  # keys per cycle of the attention unit's exps loop
    merge_lanes: int = 1  # channels per cycle of the in-place token-select / package-merge unit
    patch_tiles: int = 0  # patch embedding on the block engine: ceil(KP / C) fan-in tiles (0: engine_patch)
    sel_on_block: bool = False  # selector in_fc / out_fc1 / out_fc2 on the block engine (block-diagonal)


def design_shape(cfg: ModelConfig, block_pe: int, block_simd: int) -> DesignShape:
    """GEMM engine shapes and parallelism of the design of ``cfg``: the block engine is
    ``block_pe x block_simd`` (the cost model's array, clamped to powers of two dividing
    embed_dim); the other engines use the small fixed budgets at the top of this module."""
    c, h, d = cfg.embed_dim, cfg.num_heads, cfg.head_dim
    if cfg.mlp_hidden % c:
        raise UserError(f"MLP hidden width {cfg.mlp_hidden} is not a multiple of embed_dim {c}; "
                        "the shared C x C GEMM engine needs an integer mlp_ratio")
    kp = cfg.in_chans * cfg.patch_size ** 2
    block = EngineShape(c, c, _pow2_divisor_le(c, block_pe), _pow2_divisor_le(c, block_simd))

    def small(k: int, m: int, share: int, simd_cap: int, pe_cap: int) -> EngineShape:
        budget = max(1, block.macs_per_cycle // share)
        simd = _pow2_divisor_le(k, min(simd_cap, budget))
        return EngineShape(k, m, _divisor_le(m, max(1, min(pe_cap, budget // simd))), simd)

    def aux(k: int, m: int) -> EngineShape:
        return small(k, m, AUX_SHARE, AUX_SIMD, AUX_PE)

    eng = {"engine_patch": small(kp, c, PATCH_SHARE, PATCH_SIMD, PATCH_PE), "engine_block": block}
    if cfg.num_stages:
        h2 = max(1, h // 2)
        eng.update({
            "engine_sel_head1": aux(h, h2), "engine_sel_head2": aux(h2, h), "engine_sel_in": aux(d, d),
            "engine_sel_out1": aux(d, d // 2), "engine_sel_out2": aux(d // 2, d // 4), "engine_sel_delta": aux(d // 4, 1),
        })
    eng["engine_head"] = aux(c, cfg.num_classes)
    attn = _pow2_divisor_le(d, max(1, min(ATTN_SIMD, block.macs_per_cycle // ATTN_SHARE)))
    # vector lanes: the cost model's lanes (<= 64, <= the block PE), a power of two dividing both
    # the embedding and the head width (LayerNorm runs over C and, in the selectors, over DH)
    lanes = _pow2_divisor_le(math.gcd(c, d), max(1, min(VEC_LANES, block.pe)))
    # attention: QP query rows x attn lanes MACs in the score and in the context phase
    qp = _pow2_floor_le(max(1, min(ATTN_QP, block.macs_per_cycle // (ATTN_QP_SHARE * attn))))
    return DesignShape(eng, attn, cfg.mlp_hidden // c, kp,
                       cfg.in_chans * cfg.img_size ** 2, cfg.num_classes + cfg.num_stages, lanes, qp,
                       _pow2_divisor_le(max(1, d // 2), lanes), ATTN_EL, _pow2_divisor_le(c, MERGE_LANES),
                       -(-kp // c), cfg.num_stages > 0 and d % 4 == 0)


# --------------------------------------------------------------------------------------------
# Plan records
# --------------------------------------------------------------------------------------------


@dataclass
class ConstArray:
    """A constant array of the params header (a ROM in synthesis)."""

    name: str
    ctype: str
    shape: tuple[int, ...]
    values: np.ndarray  # flat int64
    comment: str = ""

    @property
    def raw_type(self) -> str:
        return _raw_type(self.values)

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def dims(self) -> str:
        return "".join(f"[{d}]" for d in self.shape)

    @property
    def zero_index(self) -> str:
        """``[0]`` per dimension: ``&NAME{zero_index}`` is the first element (flat copies)."""
        return "[0]" * len(self.shape)

    def init_lines(self, per_line: int = 24) -> list[str]:
        suffix = "LL" if self.raw_type == "int64_t" else ""
        vals = [f"{int(v)}{suffix}" for v in self.values.tolist()]
        return [", ".join(vals[i : i + per_line]) for i in range(0, len(vals), per_line)]


@dataclass
class Engine:
    """One instantiation of ``spvit::linear`` behind a non-inlined wrapper function."""

    name: str
    role: str  # block | patch | head | selector
    k: int  # fan-in
    m: int  # outputs
    simd: int
    pe: int
    max_n: int  # rows per call at most
    gelu: bool  # GELU table fused into the epilogue
    tx: str  # input type
    tw: str  # weight type
    out_type: Optional[str]  # requantised output type; None: raw accumulators
    acc_bits: int  # accumulator width proven for every call (types, fan-in, bias width)
    bias_bits: int
    residual_type: Optional[str] = None  # fused residual (the patch embedding's position embedding)
    align_min: int = 0
    align_max: int = 0
    calls: int = 0

    @property
    def residual(self) -> bool:
        return self.residual_type is not None

    @property
    def tacc(self) -> str:
        return int_type(self.acc_bits)

    @property
    def tb(self) -> str:
        return int_type(self.bias_bits)

    @property
    def ty(self) -> str:
        return self.out_type or self.tacc

    @property
    def tr(self) -> str:
        return self.residual_type or self.ty

    @property
    def macs_per_cycle(self) -> int:
        return self.simd * self.pe


@dataclass
class Buffer:
    """A frame buffer (static array of the top function)."""

    name: str
    ctype: str
    dims: tuple[Any, ...]

    @property
    def decl(self) -> str:
        return f"{self.ctype} {self.name}" + "".join(f"[{d}]" for d in self.dims)


@dataclass
class Step:
    """One statement group of the top function; ``kind`` selects the template macro."""

    kind: str
    comment: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class DesignPlan:
    top: str
    consts: dict[str, int]  # C constants of spvit_top.h
    typedefs: list[tuple[str, str]]  # (name, C type)
    arrays: list[ConstArray]
    engines: list[Engine]
    buffers: list[Buffer]
    steps: list[Step]
    weights_in_ddr: bool
    weight_image: Optional[WeightImage]
    in_word_bits: int
    out_word_bits: int
    attn_simd: int
    block_simd: int
    block_pe: int
    ln_configs: list[tuple[str, int, int, int]]  # (name, eps_int, rsqrt_shift, out_shift)
    shape: DesignShape

    def engine(self, name: str) -> Engine:
        return next(e for e in self.engines if e.name == name)


# --------------------------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, ir: IR, block_pe: int, block_simd: int, weights_in_ddr: bool) -> None:
        self.ir = ir
        cfg = ModelConfig.from_dict(ir.model)
        self.C, self.H, self.DH = cfg.embed_dim, cfg.num_heads, cfg.head_dim
        self.N = ir.patch_embed.grid ** 2
        self.S = len(ir.selectors)
        self.MAX_T = 1 + self.N + self.S
        self.HID = ir.blocks[0].fc1.out_features
        self.shape = design_shape(cfg, block_pe, block_simd)
        self.NT = self.shape.nt
        self.ddr = weights_in_ddr
        self.image = WeightImage() if weights_in_ddr else None
        self.arrays: list[ConstArray] = []
        self._by_content: dict[tuple, str] = {}
        self.steps: list[Step] = []
        self.buffers: dict[str, Buffer] = {}
        self.engines: dict[str, Engine] = {}
        self.ln_cfgs: list[tuple[str, int, int, int]] = []
        self.max_align = 0  # largest |f_acc - f_residual| of the residual epilogues
        self.res_t = ""  # residual stream type (set by patch_embed)

    # --- constant arrays ----------------------------------------------------------------------
    def const(self, name: str, ctype: str, values: np.ndarray, shape: Optional[tuple[int, ...]] = None,
              dedupe: bool = False, comment: str = "") -> str:
        """A ROM of the params header; ``dedupe``: reuse an identical array (same type, shape, values)."""
        v = np.asarray(values, dtype=np.int64).reshape(-1)
        shape = tuple(shape) if shape is not None else (int(v.size),)
        key = (ctype, shape, v.tobytes())
        if dedupe and key in self._by_content:
            return self._by_content[key]
        if any(a.name == name for a in self.arrays):
            raise AssertionError(f"duplicate constant array {name}")
        self.arrays.append(ConstArray(name, ctype, shape, v, comment))
        if dedupe:
            self._by_content[key] = name
        return name

    def weights(self, name: str, ctype: str, w: np.ndarray) -> str:
        """A weight matrix [M][K] (row-major) of a big GEMM: an offset into the DDR image, or a ROM."""
        if self.image is not None:
            return f"weights + {self.image.add(name, w)}"
        return self.const(name, ctype, w, comment=f"weights [{w.shape[0]}][{w.shape[1]}]")

    def bias(self, name: str, engine: Engine, values: np.ndarray, dedupe: bool = False) -> str:
        """A bias ROM of ``engine``; typed with the engine's final bias type when the plan is built."""
        return self.const(name, f"@bias:{engine.name}", values, dedupe=dedupe)

    def table(self, t: TableOp) -> str:
        """A GELU / sigmoid table, named by its formats (same formats = same table)."""
        return self.const(f"{t.kind}_{_fmt_tag(t.in_fmt)}_{_fmt_tag(t.out_fmt)}", fmt_type(t.out_fmt), t.table, dedupe=True)

    # --- buffers --------------------------------------------------------------------------------
    def buf(self, name: str, ctype: str, *dims: Any) -> str:
        b = self.buffers.get(name)
        if b is None:
            self.buffers[name] = Buffer(name, ctype, tuple(dims))
        elif b.ctype != ctype or b.dims != tuple(dims):
            raise UserError(
                f"buffer {name} is used as {ctype}{list(dims)} and {b.ctype}{list(b.dims)}: this IR mixes "
                "bit widths across layers, which the generated design does not support"
            )
        return name

    # --- engines --------------------------------------------------------------------------------
    def par(self, name: str, k: int, m: int) -> tuple[int, int]:
        """(pe, simd) of engine ``name``, checked against the layer's shape."""
        sh = self.shape.engines[name]
        if (sh.k, sh.m) != (k, m):
            raise UserError(f"{name}: the IR's layer is {k} x {m}, the model config says {sh.k} x {sh.m}")
        return sh.pe, sh.simd

    @staticmethod
    def acc_bits(op: LinearOp, bias_bits: int, fan_in: Optional[int] = None) -> int:
        """Accumulator width spvit::linear proves from the types (intops.accumulator_bits)."""
        return intops.accumulator_bits(op.in_fmt.bits, op.w_fmt.bits, fan_in or op.in_features, bias_bits,
                                       in_signed=op.in_fmt.signed, w_signed=op.w_fmt.signed)

    def engine(self, name: str, role: str, op: LinearOp, max_n: int, gelu: bool, out_type: Optional[str],
               residual_type: Optional[str] = None, k: Optional[int] = None, m: Optional[int] = None,
               fan_in: Optional[int] = None, bias: Optional[np.ndarray] = None) -> Engine:
        """The engine serving ``op`` (one per layer kind), widened to cover this call.  ``k``/``m``:
        the tile shape when the engine runs a tile of ``op``; ``fan_in``: the full fan-in summed."""
        k, m = k or op.in_features, m or op.out_features
        bb = _range_bits(op.bias if bias is None else bias)
        pe, simd = self.par(name, k, m)
        a = op.residual_align if residual_type else 0
        e = Engine(name=name, role=role, k=k, m=m, simd=simd, pe=pe, max_n=max_n, gelu=gelu, tx=fmt_type(op.in_fmt),
                   tw=fmt_type(op.w_fmt), out_type=out_type, acc_bits=self.acc_bits(op, bb, fan_in or k), bias_bits=bb,
                   residual_type=residual_type, align_min=min(0, a), align_max=max(0, a))
        old = self.engines.get(name)
        if old is None:
            self.engines[name] = e
            return e
        key = lambda x: (x.k, x.m, x.max_n, x.tx, x.tw, x.out_type, x.gelu, x.residual_type)  # noqa: E731
        if key(old) != key(e):
            raise UserError(f"{name}: the layers it serves differ in shape or bit widths ({key(old)} vs {key(e)}); "
                            "the generated design shares one engine per layer kind")
        old.acc_bits = max(old.acc_bits, e.acc_bits)
        old.bias_bits = max(old.bias_bits, e.bias_bits)
        old.align_min, old.align_max = min(old.align_min, e.align_min), max(old.align_max, e.align_max)
        return old

    def gemm(self, engine: Engine, x: str, w: str, b: str, y: str, n: str, shift: int, comment: str,
             residual: Optional[str] = None, align: int = 0, table: Optional[str] = None) -> None:
        engine.calls += 1
        self.step("gemm", comment, engine=engine.name, x=x, w=w, b=b, y=y, n=n, shift=shift,
                  residual=residual, align=align, table=table)

    def step(self, kind: str, comment: str, **args: Any) -> None:
        self.steps.append(Step(kind, comment, args))

    # --- LayerNorm --------------------------------------------------------------------------------
    def layernorm_args(self, op: LayerNormOp, rows: str, n: str) -> dict[str, Any]:
        p = _cname(op.name)
        cfg = p + "_cfg"
        self.ln_cfgs.append((cfg, int(op.eps_int), int(op.rsqrt_shift), int(op.out_shift)))
        return dict(
            channels=op.channels, mant_bits=op.mant_bits, var_bits=op.var_bits, norm_frac=op.norm_fmt.frac,
            norm_t=fmt_type(op.norm_fmt), rows=rows, n=n, cfg=cfg,
            gamma=self.const(p + "_gamma", fmt_type(op.gamma_fmt), op.gamma),
            beta=self.const(p + "_beta", fmt_type(op.beta_fmt), op.beta),
            rsqrt=self.const(f"rsqrt_c{op.channels}_m{op.mant_bits}", int_type(op.table_bits, False), op.rsqrt_table,
                             dedupe=True),
        )

    # --- patch embedding --------------------------------------------------------------------------
    def _patch_on_block(self, op: LinearOp) -> Optional[tuple[LinearOp, int]]:
        """The patch embedding as fan-in tiles of the block engine: (op with the engine's input
        format, pixel offset), or None if its formats do not fit the engine (own engine then).
        8-bit unsigned pixels u are fed as u - 128 (int8); the bias absorbs 128 * rowsum(w), so
        bias + sum w (u - 128) + 128 sum w is the same integer accumulator."""
        if self.shape.patch_tiles <= 0:
            return None
        q = self.ir.blocks[0].attn.q
        fin = op.in_fmt
        if fin.bits == 8 and not fin.signed:
            offset, sfmt = 128, FixedFormat(8, fin.frac, True)
        elif fin.signed and fin.bits <= 8:
            offset, sfmt = 0, FixedFormat(8, fin.frac, True)
        else:
            return None
        if fmt_type(sfmt) != fmt_type(q.in_fmt) or fmt_type(op.w_fmt) != fmt_type(q.w_fmt):
            return None
        return dataclasses.replace(op, in_fmt=sfmt), offset

    def patch_embed(self) -> None:
        pe = self.ir.patch_embed
        op = pe.linear
        assert op.out_fmt is not None and op.residual_fmt is not None
        self.res_t = fmt_type(op.out_fmt)
        on_block = self._patch_on_block(op)
        if on_block is None:
            self.shape = dataclasses.replace(self.shape, patch_tiles=0)
        else:
            self.patch_embed_on_block(*on_block)
            return
        e = self.engine("engine_patch", "patch", op, self.N, False, self.res_t, residual_type=fmt_type(pe.pos_fmt))
        self.buf("patches", fmt_type(op.in_fmt), "N", "KP")
        self.buf("emb", self.res_t, "N", "C")
        self.buf("x", self.res_t, "MAX_T", "C")
        self.step("read_image", "image pixels (AXI-Stream, C x H x W raster) -> patches [N][C*P*P]",
                  pix_t=fmt_type(op.in_fmt))
        w = self.weights("patch_embed_w", e.tw, op.weight)
        b = self.bias("patch_embed_b", e, op.bias)
        pos = self.const("patch_embed_pos", fmt_type(pe.pos_fmt), pe.pos, shape=(self.N, self.C))
        self.gemm(e, "patches", w, b, "emb", "N", op.shift, "patch embedding + position embedding (fused residual)",
                  residual=pos, align=op.residual_align)
        self.step("embed", "frame = [class token, patch tokens]", cls=self.const("patch_embed_cls", self.res_t, pe.cls))

    def patch_embed_on_block(self, op: LinearOp, offset: int) -> None:
        """Patch embedding on the block engine: KP inputs as ceil(KP/C) C-wide fan-in tiles (zero
        padded), raw accumulators summed exactly, then + position embedding (spvit::add, the fused
        residual's identity) into frame rows 1..N behind the class token."""
        pe = self.ir.patch_embed
        C, KP, ntp = self.C, op.in_features, self.shape.patch_tiles
        w = np.zeros((C, ntp * C), dtype=np.int64)
        w[:, :KP] = op.weight
        bias = np.asarray(op.bias, dtype=np.int64) + offset * np.asarray(op.weight, dtype=np.int64).sum(axis=1)
        e = self.engine("engine_block", "block", op, self.MAX_T, False, None, k=C, m=C,
                        fan_in=max(ntp * C, C, self.HID), bias=bias)
        self.buf("patches", e.tx, ntp, "MAX_T", "C")
        self.buf("x", self.res_t, "MAX_T", "C")
        self.step("read_image", f"image pixels (AXI-Stream, C x H x W raster) -> patches [KP/C tile][N][C]"
                  + (f", pixel - {offset} (int8; the bias holds {offset} * rowsum(w))" if offset else ""),
                  pix_t=fmt_type(pe.linear.in_fmt), x_t=e.tx, offset=offset, tiled=True)
        for j in range(ntp):
            wn = self.weights(f"patch_embed_w_t{j}", e.tw, w[:, j * C:(j + 1) * C])
            if j == 0:
                bn = self.bias("patch_embed_b", e, bias)
            else:
                bn = self.bias(f"zero_bias_{C}", e, np.zeros(C, dtype=np.int64), dedupe=True)
            self.buffers.setdefault("acc" if j == 0 else "acc2", Buffer("acc" if j == 0 else "acc2", "", ("MAX_T", "C")))
            self.gemm(e, f"patches[{j}]", wn, bn, "acc" if j == 0 else "acc2", "N", 0,
                      f"patch embedding fan-in tile {j} (inputs {j * C}..{(j + 1) * C - 1}, raw accumulators)")
            if j > 0:
                self.step("accumulate", "patch embedding: sum of fan-in tiles (exact)", dst="acc", src="acc2", n="N")
        assert op.residual_fmt is not None and op.out_fmt is not None
        pos = self.const("patch_embed_pos", fmt_type(pe.pos_fmt), pe.pos, shape=(self.N, self.C))
        self.max_align = max(self.max_align, abs(op.acc_frac - op.residual_fmt.frac))
        self.step("embed_residual", "frame = [class token, patch accumulators + position embedding, requantised]",
                  cls=self.const("patch_embed_cls", self.res_t, pe.cls), pos=pos, a_frac=op.acc_frac,
                  pos_frac=op.residual_fmt.frac, out_frac=op.out_fmt.frac)

    # --- encoder block ----------------------------------------------------------------------------
    def block_linear(self, op: LinearOp, x: str, y: str, w: np.ndarray, b: np.ndarray, suffix: str, comment: str) -> None:
        """One C x C tile of ``op`` on the block engine (raw accumulators into ``y``)."""
        e = self.engine("engine_block", "block", op, self.MAX_T, False, None, k=self.C, m=self.C,
                        fan_in=max(self.C, self.HID), bias=b)
        wn = self.weights(_cname(op.name) + "_w" + suffix, e.tw, w)
        if np.any(b):
            bn = self.bias(_cname(op.name) + "_b" + suffix, e, b)
        else:  # fc2 fan-in tiles after the first (and zero-initialised biases) share one zero ROM
            bn = self.bias(f"zero_bias_{len(b)}", e, b, dedupe=True)
        self.buffers.setdefault(y, Buffer(y, "", ("MAX_T", "C")))  # typed in build(): the final accumulator
        self.gemm(e, x, wn, bn, y, "T", 0, comment)

    def requant(self, op: LinearOp, src: str, dst: str, gelu: Optional[TableOp], comment: str) -> None:
        assert op.out_fmt is not None
        self.buf(dst, fmt_type(op.out_fmt), "MAX_T", "C")
        self.step("requant", comment, src=src, dst=dst, dst_t=fmt_type(op.out_fmt), shift=op.shift,
                  table=self.table(gelu) if gelu is not None else None)

    def residual(self, op: LinearOp) -> None:
        assert op.out_fmt is not None and op.residual_fmt is not None
        if fmt_type(op.out_fmt) != self.res_t or fmt_type(op.residual_fmt) != self.res_t:
            raise UserError(f"{op.name}: the residual stream changes width; the generated design needs one width")
        self.step("residual", f"{op.name}: + residual, requantise to {fmt_str(op.out_fmt)}",
                  a_frac=op.acc_frac, x_frac=op.residual_fmt.frac, out_frac=op.out_fmt.frac)
        self.max_align = max(self.max_align, abs(op.acc_frac - op.residual_fmt.frac))

    def block(self, blk: BlockOp) -> None:
        C = self.C
        i = blk.index
        self.step("section", f"encoder block {i}")
        self.buf("h", fmt_type(blk.norm1.out_fmt), "MAX_T", "C")
        self.step("layernorm_frame", f"blocks.{i}.norm1", src="x", dst="h", **self.layernorm_args(blk.norm1, "MAX_T", "T"))
        at = blk.attn
        for name, op in (("q", at.q), ("k", at.k), ("v", at.v)):
            self.block_linear(op, "h", "acc", op.weight, op.bias, "", f"{op.name} (raw accumulators)")
            self.requant(op, "acc", name, None, f"{op.name}: requantise to {fmt_str(op.out_fmt)}")
        self.buf("ctx", fmt_type(at.context_fmt), "MAX_T", "C")
        self.step("attention", f"{at.name}: per head QK^T, softmax, AV", score_t=fmt_type(at.score_fmt),
                  prob_t=fmt_type(at.prob_fmt), p_frac=at.prob_fmt.frac, exp_n=int(at.exp_table.size),
                  score_shift=at.score_shift, context_shift=at.context_shift,
                  exp=self.const(f"exp_{_fmt_tag(at.score_fmt)}_e{at.exp_frac}", "exp_t", at.exp_table, dedupe=True))
        self.block_linear(at.proj, "ctx", "acc", at.proj.weight, at.proj.bias, "", f"{at.proj.name} (raw accumulators)")
        self.residual(at.proj)
        self.step("layernorm_frame", f"blocks.{i}.norm2", src="x", dst="h", **self.layernorm_args(blk.norm2, "MAX_T", "T"))
        fc1, fc2 = blk.fc1, blk.fc2
        for j in range(self.NT):
            rows = slice(j * C, (j + 1) * C)
            self.block_linear(fc1, "h", "acc", fc1.weight[rows], fc1.bias[rows], f"_t{j}",
                              f"{fc1.name} output tile {j} (channels {j * C}..{(j + 1) * C - 1})")
            self.requant(fc1, "acc", f"hid_{j}", fc1.activation, f"{fc1.name} tile {j}: requantise + GELU table")
        for j in range(self.NT):
            cols = slice(j * C, (j + 1) * C)
            self.block_linear(fc2, f"hid_{j}", "acc" if j == 0 else "acc2", fc2.weight[:, cols],
                              fc2.bias if j == 0 else np.zeros(C, dtype=np.int64), f"_t{j}",
                              f"{fc2.name} fan-in tile {j} (inputs {j * C}..{(j + 1) * C - 1})")
            if j > 0:
                self.step("accumulate", f"{fc2.name}: sum of fan-in tiles (exact)", dst="acc", src="acc2")
        self.residual(fc2)

    # --- token selector ---------------------------------------------------------------------------
    def selector(self, s: TokenSelectOp) -> None:
        H = self.H
        p = _cname(s.name)
        self.step("section", f"token selector stage {s.stage} (before block {s.block})")
        self.buf("sel_u", fmt_type(s.head_mean_fmt), "N", "H")
        self.step("head_means", f"{s.name}.head_mean", up=s.head_mean_fmt.frac - s.in_fmt.frac)
        # head weights: head_fc1 (+GELU) -> head_fc2 -> sigmoid table
        f1, f2 = s.head_fc1, s.head_fc2
        assert f1.activation is not None and f2.activation is not None and f1.out_fmt and f2.out_fmt
        e1 = self.engine("engine_sel_head1", "selector", f1, self.N, True, fmt_type(f1.out_fmt))
        self.buf("sel_hf", fmt_type(f1.out_fmt), "N", "SEL_H2")
        self.gemm(e1, "sel_u", self.const(p + "_head_fc1_w", e1.tw, f1.weight), self.bias(p + "_head_fc1_b", e1, f1.bias),
                  "sel_hf", "n_live", f1.shift, f"{f1.name} + GELU", table=self.table(f1.activation))
        e2 = self.engine("engine_sel_head2", "selector", f2, self.N, False, fmt_type(f2.out_fmt))
        self.buf("sel_hs", fmt_type(f2.out_fmt), "N", "H")
        self.gemm(e2, "sel_hf", self.const(p + "_head_fc2_w", e2.tw, f2.weight), self.bias(p + "_head_fc2_b", e2, f2.bias),
                  "sel_hs", "n_live", f2.shift, f2.name)
        self.buf("sel_w", fmt_type(f2.activation.out_fmt), "N", "H")
        self.step("table_frame", f"{s.name}.head_w = sigmoid table", src="sel_hs", dst="sel_w", cols="H", rows="N",
                  n="n_live", table=self.table(f2.activation))
        # per-head path: LayerNorm(d) -> in_fc (+GELU) -> global mean -> out_fc1/2 (+GELU) -> delta
        if self.shape.sel_on_block:
            self.selector_mlp_on_block(s)
        else:
            self.selector_mlp_small(s)
        self.buf("sel_delta", fmt_type(s.delta.out_fmt), "N", "H")
        self.step("gather_delta", f"{s.name}.delta [n][H]")
        # decision + package token
        lo, hi = _score_range(s)
        tau = min(max(int(s.tau), lo), hi + 1)  # outside the score range: keep all / none, same decisions
        self.step("token_select", f"{s.name}: {s.decision} rule, package token", stage=s.stage,
                  topk_rule="true" if s.decision == "topk" else "false", tau=tau, tau_bits=s.score_bits + 1,
                  topk=int(s.topk), kp_up=s.keep_prob_fmt.frac - s.sigma.out_fmt.frac, kp_t=fmt_type(s.keep_prob_fmt),
                  sigma=self.table(s.sigma))

    def _selector_fits_block(self, s: TokenSelectOp) -> bool:
        """in_fc, out_fc1 and out_fc2 run on the block engine if their input and weight types are
        the engine's (int8 activations and weights, like every block GEMM)."""
        q = self.ir.blocks[0].attn.q
        ops = (s.in_fc, s.out_fc1, s.out_fc2)
        return (all(fmt_type(op.in_fmt) == fmt_type(q.in_fmt) and fmt_type(op.w_fmt) == fmt_type(q.w_fmt)
                    and op.out_fmt is not None and op.activation is not None
                    and fmt_type(op.activation.out_fmt) == fmt_type(op.out_fmt) for op in ops)
                and fmt_type(s.norm.out_fmt) == fmt_type(s.in_fc.in_fmt))

    def _scratch(self, prefer: str, name: str, ctype: str) -> str:
        """A [MAX_T][C] frame buffer: ``prefer`` (a block buffer, dead between blocks) if it has the
        type, else ``name``."""
        b = self.buffers.get(prefer)
        if b is not None and b.ctype == ctype and b.dims == ("MAX_T", "C"):
            return prefer
        return self.buf(name, ctype, "MAX_T", "C")

    def selector_mlp_on_block(self, s: TokenSelectOp) -> None:
        """The selector's per-head MLP on whole-token rows (H heads side by side, C channels) so
        that in_fc, out_fc1 and out_fc2 run on the block engine as block-diagonal C x C matrices
        (H copies of the layer's weights; unused output rows zero): the per-(token, head) rows
        of the reference are the head slices of these rows, the integers are the same."""
        H, DH, C = self.H, self.DH, self.C
        p = _cname(s.name)
        t = self._scratch("h", "sel_tc", fmt_type(s.norm.out_fmt))
        self.step("layernorm_heads", f"{s.name}.norm (per head slice of the live tokens)", src="x", dst=t,
                  **self.layernorm_args(s.norm, "N", "n_live"))
        widths = {"in_fc": (DH, DH), "out_fc1": (DH, DH // 2), "out_fc2": (DH // 2, DH // 4)}
        src = t
        for op, prefer in ((s.in_fc, "q"), (s.out_fc1, "v"), (s.out_fc2, "ctx")):
            short = op.name.split(".")[-1]
            k_h, m_h = widths[short]
            assert (op.in_features, op.out_features) == (k_h, m_h), op.name
            w = np.zeros((C, C), dtype=np.int64)
            b = np.zeros(C, dtype=np.int64)
            for h in range(H):
                w[h * m_h:(h + 1) * m_h, h * k_h:(h + 1) * k_h] = op.weight
                b[h * m_h:(h + 1) * m_h] = op.bias
            e = self.engine("engine_block", "block", op, self.MAX_T, False, None, k=C, m=C,
                            fan_in=max(C, self.HID), bias=b)
            wn = self.weights(f"{p}_{short}_w_bd", e.tw, w)
            bn = self.bias(f"{p}_{short}_b_bd", e, b)
            self.buffers.setdefault("acc", Buffer("acc", "", ("MAX_T", "C")))
            self.gemm(e, src, wn, bn, "acc", "n_live", 0,
                      f"{op.name} on the block engine: {H} heads x ({k_h} -> {m_h}), block-diagonal (raw accumulators)")
            dst = self._scratch(prefer, f"sel_{short}_c", fmt_type(op.out_fmt))
            self.step("requant", f"{op.name}: requantise + GELU table", src="acc", dst=dst, dst_t=fmt_type(op.out_fmt),
                      shift=op.shift, table=self.table(op.activation), n="n_live")
            if op is s.in_fc:
                f_t = fmt_type(op.out_fmt)
                g = self.buf("sel_gc", f_t, "C")
                z = self._scratch("k", "sel_zc", f_t)
                self.step("global_rows", f"{s.name}.global: mean of the last d/2 features of every head over the live tokens, "
                          "then [local, global]", f=dst, g=g, z=z)
                dst = z
            src = dst
        # delta (int9 weights: its own small engine) on one row per (token, head)
        d = s.delta
        assert d.out_fmt is not None
        self.buf("sel_a2", fmt_type(s.out_fc2.out_fmt), "N * H", "DH / 4")
        self.step("head_rows", f"{s.out_fc2.name}: one row per (token, head)", src=src, dst="sel_a2")
        ed = self.engine("engine_sel_delta", "selector", d, self.N * H, False, fmt_type(d.out_fmt))
        self.buf("sel_dl", fmt_type(d.out_fmt), "N * H", 1)
        self.gemm(ed, "sel_a2", self.const(p + "_delta_w", ed.tw, d.weight), self.bias(p + "_delta_b", ed, d.bias),
                  "sel_dl", "n_live * H", d.shift, f"{d.name}: s_keep - s_prune")

    def selector_mlp_small(self, s: TokenSelectOp) -> None:
        """The selector's per-head MLP on one row per (token, head), on the small engines."""
        H = self.H
        p = _cname(s.name)
        self.buf("sel_xr", self.res_t, "N * H", "DH")
        self.step("split_heads", f"{s.name}: one row per (token, head)")
        self.buf("sel_t", fmt_type(s.norm.out_fmt), "N * H", "DH")
        self.step("layernorm_frame", f"{s.name}.norm", src="sel_xr", dst="sel_t",
                  **self.layernorm_args(s.norm, "N * H", "n_live * H"))
        mlp = [(s.in_fc, "engine_sel_in", "sel_t", "sel_f", "DH"), (s.out_fc1, "engine_sel_out1", "sel_z", "sel_a1", "DH / 2"),
               (s.out_fc2, "engine_sel_out2", "sel_a1", "sel_a2", "DH / 4")]
        for op, engine, src, dst, width in mlp:
            assert op.activation is not None and op.out_fmt is not None
            short = op.name.split(".")[-1]
            e = self.engine(engine, "selector", op, self.N * H, True, fmt_type(op.out_fmt))
            self.buf(dst, fmt_type(op.out_fmt), "N * H", width)
            self.gemm(e, src, self.const(f"{p}_{short}_w", e.tw, op.weight), self.bias(f"{p}_{short}_b", e, op.bias),
                      dst, "n_live * H", op.shift, f"{op.name} + GELU", table=self.table(op.activation))
            if op is s.in_fc:
                f_t = fmt_type(op.activation.out_fmt)
                self.buf("sel_fg", f_t, "N", "DH / 2")
                self.buf("sel_g", f_t, "H", "DH / 2")
                self.buf("sel_z", f_t, "N * H", "DH")
                self.step("global_feature", f"{s.name}.global: mean of the last d/2 features over the live tokens")
        d = s.delta
        assert d.out_fmt is not None
        ed = self.engine("engine_sel_delta", "selector", d, self.N * H, False, fmt_type(d.out_fmt))
        self.buf("sel_dl", fmt_type(d.out_fmt), "N * H", 1)
        self.gemm(ed, "sel_a2", self.const(p + "_delta_w", ed.tw, d.weight), self.bias(p + "_delta_b", ed, d.bias),
                  "sel_dl", "n_live * H", d.shift, f"{d.name}: s_keep - s_prune")

    # --- final norm + classifier ------------------------------------------------------------------
    def head(self) -> Engine:
        self.step("section", "final LayerNorm (class token) and classifier")
        op = self.ir.head
        self.buf("cls_h", fmt_type(self.ir.norm.out_fmt), 1, "C")
        self.step("layernorm_token", "norm (class token only)", src="x", dst="cls_h",
                  **self.layernorm_args(self.ir.norm, "1", "1"))
        e = self.engine("engine_head", "head", op, 1, False, None)
        self.buf("logits", e.tacc, 1, "NUM_CLASSES")
        w = self.weights("head_w", e.tw, op.weight)
        self.gemm(e, "cls_h", w, self.bias("head_b", e, op.bias), "logits", "1", 0, "classifier (raw accumulators = logits)")
        self.step("write_output", "logits, then the kept patch tokens of every stage (AXI-Stream)")
        return e

    def build(self) -> DesignPlan:
        ir = self.ir
        if self.shape.sel_on_block and not all(self._selector_fits_block(s) for s in ir.selectors):
            self.shape = dataclasses.replace(self.shape, sel_on_block=False)  # the small engines then
        self.patch_embed()
        for b in ir.blocks:
            if b.selector is not None:
                self.selector(b.selector)
            self.block(b)
        head = self.head()
        block = self.engines["engine_block"]
        for name in ("acc", "acc2"):  # sized for the final (widest) accumulator of the block engine
            if name in self.buffers:
                self.buffers[name].ctype = block.tacc
        for a in self.arrays:  # biases take their engine's final (widest) bias type
            if a.ctype.startswith("@bias:"):
                a.ctype = self.engines[a.ctype[len("@bias:"):]].tb
        sel = ir.selectors
        exp_max = max(int(b.attn.exp_table.max()) for b in ir.blocks)
        consts = {
            "C": self.C, "H": self.H, "DH": self.DH, "N": self.N, "S": self.S, "MAX_T": self.MAX_T,
            "IMG": int(ir.input_shape[1]), "CIN": int(ir.input_shape[0]), "P": ir.patch_embed.patch_size,
            "G": ir.patch_embed.grid, "KP": ir.patch_embed.linear.in_features, "HID": self.HID, "NT": self.NT,
            "NUM_CLASSES": ir.num_classes, "DEPTH": len(ir.blocks),
            "SEL_H2": sel[0].head_fc1.out_features if sel else 1,
            "IN_WORDS": int(np.prod(ir.input_shape)), "OUT_WORDS": ir.num_classes + self.S,
            "WEIGHT_BYTES": self.image.size if self.image is not None else 0,
            "MAX_ALIGN": self.max_align, "LANES": self.shape.lanes,
            "HALF_LANES": self.shape.half_lanes, "MERGE_LANES": self.shape.merge_lanes,
        }
        typedefs = [("pix_t", fmt_type(ir.input_fmt)), ("wgt_t", block.tw), ("res_t", self.res_t),
                    ("acc_t", block.tacc), ("logit_t", head.tacc), ("exp_t", int_type(max(1, exp_max.bit_length()), False))]
        return DesignPlan(
            top="spvit_top", consts=consts, typedefs=typedefs, arrays=self.arrays,
            engines=list(self.engines.values()), buffers=list(self.buffers.values()), steps=self.steps,
            weights_in_ddr=self.ddr, weight_image=self.image, in_word_bits=max(8, -(-ir.input_fmt.bits // 8) * 8),
            out_word_bits=32 if head.acc_bits <= 32 else 64, attn_simd=self.shape.attn_simd,
            block_simd=block.simd, block_pe=block.pe, ln_configs=self.ln_cfgs, shape=self.shape,
        )


def _score_range(s: TokenSelectOp) -> tuple[int, int]:
    """Range of z = sum_h w_h * delta_h over all inputs (w unsigned, delta signed)."""
    w, d = s.w_fmt, s.sigma.in_fmt
    corners = [a * b for a in (w.min_int, w.max_int) for b in (d.min_int, d.max_int)]
    return s.num_heads * min(corners + [0]), s.num_heads * max(corners + [0])


def build_plan(ir: IR, *, block_pe: int, block_simd: int, weights_in_ddr: bool) -> DesignPlan:
    """The design plan of ``ir`` with a ``block_pe x block_simd`` block GEMM engine (clamped to
    powers of two dividing embed_dim); weights of the big GEMMs in DDR if ``weights_in_ddr``."""
    if not ir.blocks:
        raise UserError("the IR has no encoder blocks")
    return _Builder(ir, block_pe, block_simd, weights_in_ddr).build()
