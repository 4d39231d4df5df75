"""The integer model as a typed, serialisable intermediate representation (IR).

The IR holds everything the hardware backends (HLS, RTL) and the golden reference
(:mod:`spvit_fpga.ir.reference`) need: shapes with the maximum token count at every point,
fixed-point formats, integer weights and biases, lookup tables, LayerNorm constants, selector
thresholds and placement, the model config and the input format.  Every integer in it is
exactly what the fake-quant model (:class:`spvit_fpga.quant.QuantSPViT`) computes with.

Structure (``docs/integer_arithmetic.md`` §8 gives the arithmetic of each op)::

    IR
     ├─ input_fmt, input_shape
     ├─ patch_embed: PatchEmbedOp      (linear on flattened patches + position embedding, class token)
     ├─ blocks[i]: BlockOp
     │    ├─ selector: TokenSelectOp | None   (runs before the block on the patch tokens)
     │    ├─ norm1: LayerNormOp
     │    ├─ attn: AttentionOp         (q, k, v: LinearOp; scores, softmax, context; proj: LinearOp + residual)
     │    ├─ norm2: LayerNormOp
     │    ├─ fc1: LinearOp (+ GELU table)
     │    └─ fc2: LinearOp (+ residual)
     ├─ norm: LayerNormOp              (class token only)
     └─ head: LinearOp                 (raw accumulator = logits)

:meth:`IR.ops` lists the ops in execution order.  On disk an IR is a directory with
``ir.json`` (every op an object with its dataclass name under ``"type"``; arrays replaced by
``{"array": key, "dtype", "shape"}`` references)
and ``weights.npz`` (every array, keyed by ``<op name>.<field>``, e.g.
``blocks.0.mlp.fc1.weight``, ``selectors.1.delta.bias``, ``blocks.2.mlp.gelu.table``).  Both files are written
deterministically: the same model gives byte-identical files.
"""
from __future__ import annotations

import io
import json
import typing
import zipfile
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import numpy as np

from ..errors import UserError
from . import intops
from .intops import FixedFormat

__all__ = [
    "SCHEMA_VERSION",
    "IR_JSON",
    "IR_WEIGHTS",
    "TableOp",
    "LinearOp",
    "LayerNormOp",
    "PatchEmbedOp",
    "AttentionOp",
    "TokenSelectOp",
    "BlockOp",
    "IR",
    "save_ir",
    "load_ir",
]

SCHEMA_VERSION = 1
IR_JSON = "ir.json"
IR_WEIGHTS = "weights.npz"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------------------------
# Op dataclasses
# --------------------------------------------------------------------------------------------


@dataclass
class TableOp:
    """Lookup table on a small integer input: ``y = table[x - in_fmt.min_int]``."""

    name: str
    kind: str  # "gelu" | "sigmoid"
    in_fmt: FixedFormat
    out_fmt: FixedFormat
    table: np.ndarray  # [2**in_fmt.bits], values in out_fmt


@dataclass
class LinearOp:
    """``y = requantize(x @ weight.T + bias [+ residual aligned], shift, out_fmt)``, then the
    optional table.  ``out_fmt`` None: the raw accumulator is the output (classifier)."""

    name: str
    in_features: int
    out_features: int
    max_tokens: int  # rows processed per image at most
    in_fmt: FixedFormat
    w_fmt: FixedFormat
    bias_fmt: FixedFormat  # frac = in_fmt.frac + w_fmt.frac
    out_fmt: Optional[FixedFormat]
    acc_bits: int  # proven accumulator width (products, actual bias range, residual)
    weight: np.ndarray  # [out_features, in_features]
    bias: np.ndarray  # [out_features]
    residual_fmt: Optional[FixedFormat] = None  # fused residual add (see residual_align)
    activation: Optional[TableOp] = None

    @property
    def acc_frac(self) -> int:
        return self.in_fmt.frac + self.w_fmt.frac

    @property
    def out_frac(self) -> int:
        return self.acc_frac if self.out_fmt is None else self.out_fmt.frac

    @property
    def shift(self) -> int:
        """Rounding shift from accumulator frac to output frac (``intops.int_linear``)."""
        return self.acc_frac - self.out_frac

    @property
    def residual_align(self) -> int:
        """``f_acc - f_residual``; >= 0: residual shifted left, < 0: accumulator shifted left."""
        return 0 if self.residual_fmt is None else self.acc_frac - self.residual_fmt.frac


@dataclass
class LayerNormOp:
    """Integer LayerNorm over ``channels`` (``intops.int_layernorm``)."""

    name: str
    channels: int
    max_tokens: int
    in_fmt: FixedFormat
    gamma_fmt: FixedFormat
    beta_fmt: FixedFormat  # frac = gamma_fmt.frac + norm_fmt.frac
    norm_fmt: FixedFormat
    out_fmt: FixedFormat
    eps: float
    eps_int: int
    mant_bits: int
    table_bits: int
    rsqrt_shift: int  # R
    sum_bits: int
    dev_bits: int
    var_bits: int
    affine_bits: int  # width of gamma * n + beta
    gamma: np.ndarray  # [channels]
    beta: np.ndarray  # [channels]
    rsqrt_table: np.ndarray  # [3 * 2**(mant_bits-2)]

    @property
    def out_shift(self) -> int:
        return self.gamma_fmt.frac + self.norm_fmt.frac - self.out_fmt.frac

    def params(self) -> intops.LayerNormParams:
        return intops.LayerNormParams(
            channels=self.channels, in_fmt=self.in_fmt, eps=self.eps, eps_int=self.eps_int,
            mant_bits=self.mant_bits, table_bits=self.table_bits, rsqrt_shift=self.rsqrt_shift,
            table=tuple(int(v) for v in self.rsqrt_table), norm_fmt=self.norm_fmt,
            sum_bits=self.sum_bits, dev_bits=self.dev_bits, var_bits=self.var_bits,
        )


@dataclass
class PatchEmbedOp:
    """Patches flattened in (channel, row, column) order, row-major over the grid, through
    ``linear`` whose fused residual is the patch position embedding ``pos`` (``pos_fmt``);
    the class token row ``cls`` (class token + its position embedding) is a constant in the
    output format.  Output: ``[cls, patch tokens]``, ``1 + num_patches`` rows."""

    name: str
    patch_size: int
    in_chans: int
    grid: int
    linear: LinearOp
    pos_fmt: FixedFormat
    pos: np.ndarray  # [num_patches, embed_dim]
    cls: np.ndarray  # [embed_dim] in linear.out_fmt

    @property
    def out_fmt(self) -> FixedFormat:
        assert self.linear.out_fmt is not None
        return self.linear.out_fmt


@dataclass
class AttentionOp:
    """Multi-head self-attention: q/k/v projections (1/sqrt(d) folded into q), per head
    ``S = requantize(Q K^T)``, ``P = int_softmax(S)``, ``O = requantize(P V)``, then ``proj``
    with the block input as fused residual."""

    name: str
    num_heads: int
    head_dim: int
    max_tokens: int
    q: LinearOp
    k: LinearOp
    v: LinearOp
    score_fmt: FixedFormat
    prob_fmt: FixedFormat
    context_fmt: FixedFormat
    exp_frac: int
    score_acc_bits: int
    context_acc_bits: int
    exp_table: np.ndarray  # [min(2**score_fmt.bits, 1024)], uint16
    proj: LinearOp

    @property
    def score_shift(self) -> int:
        assert self.q.out_fmt and self.k.out_fmt
        return self.q.out_fmt.frac + self.k.out_fmt.frac - self.score_fmt.frac

    @property
    def context_shift(self) -> int:
        assert self.v.out_fmt
        return self.prob_fmt.frac + self.v.out_fmt.frac - self.context_fmt.frac


@dataclass
class TokenSelectOp:
    """One selector stage (``docs/integer_arithmetic.md`` §5), before block ``block`` on the
    live patch tokens (at most ``max_tokens``).  Output stream: kept tokens in order, then
    the package token (appended after every earlier token)."""

    name: str
    stage: int
    block: int
    max_tokens: int
    num_heads: int
    head_dim: int
    in_fmt: FixedFormat  # the residual stream entering the block
    head_mean_fmt: FixedFormat
    head_fc1: LinearOp  # + GELU table
    head_fc2: LinearOp  # + sigmoid table -> head weights w
    norm: LayerNormOp  # over head_dim channels of each head
    in_fc: LinearOp  # + GELU table; its output format is also the global mean's
    out_fc1: LinearOp  # + GELU
    out_fc2: LinearOp  # + GELU
    delta: LinearOp  # 1 output: s_keep - s_prune (int9 weight row, 33-bit bias)
    sigma: TableOp  # sigmoid(delta)
    keep_prob_fmt: FixedFormat
    score_frac: int  # frac of z = sum_h w_h * delta_h
    score_bits: int
    decision: str  # default rule: "threshold" | "topk"
    tau: int  # threshold rule: keep iff z >= tau
    topk: int  # top-k rule: keep the k best live tokens (ties: lower index)

    @property
    def w_fmt(self) -> FixedFormat:
        assert self.head_fc2.activation is not None
        return self.head_fc2.activation.out_fmt


@dataclass
class BlockOp:
    index: int
    max_tokens: int  # tokens entering the block (1 + live patches + package tokens)
    selector: Optional[TokenSelectOp]
    norm1: LayerNormOp
    attn: AttentionOp
    norm2: LayerNormOp
    fc1: LinearOp  # + GELU table
    fc2: LinearOp  # + residual (the attention output)


@dataclass
class IR:
    schema_version: int
    model: dict  # ModelConfig.to_dict()
    quant: dict  # QuantConfig.to_dict()
    input_fmt: FixedFormat
    input_shape: list[int]  # [C, H, W]
    num_classes: int
    patch_embed: PatchEmbedOp
    blocks: list[BlockOp]
    norm: LayerNormOp  # applied to the class token only
    head: LinearOp
    dataset: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    # --- views -----------------------------------------------------------------------------
    @property
    def selectors(self) -> list[TokenSelectOp]:
        return [b.selector for b in self.blocks if b.selector is not None]

    @property
    def logits_frac(self) -> int:
        return self.head.acc_frac

    def ops(self) -> Iterator[Any]:
        """Every op in execution order (selector sub-ops before their block's ops)."""
        yield self.patch_embed
        for b in self.blocks:
            if b.selector is not None:
                yield b.selector
            yield from (b.norm1, b.attn, b.norm2, b.fc1, b.fc2)
        yield self.norm
        yield self.head

    def with_thresholds(self, taus: list[int]) -> "IR":
        """A copy with other integer thresholds per stage (arrays shared)."""
        if len(taus) != len(self.selectors):
            raise ValueError(f"need {len(self.selectors)} thresholds, got {len(taus)}")
        it = iter(int(t) for t in taus)
        blocks = [replace(b, selector=replace(b.selector, tau=next(it))) if b.selector else b for b in self.blocks]
        return replace(self, blocks=blocks)

    def with_decision(self, decision: str) -> "IR":
        if decision not in ("threshold", "topk"):
            raise ValueError("decision must be threshold or topk")
        blocks = [replace(b, selector=replace(b.selector, decision=decision)) if b.selector else b for b in self.blocks]
        return replace(self, blocks=blocks)

    def validate(self) -> None:
        """Consistency checks (shapes, value ranges, tables); raises UserError."""
        _validate(self)


# --------------------------------------------------------------------------------------------
# Serialisation (generic over the dataclasses above)
# --------------------------------------------------------------------------------------------


def _fmt_to_json(f: FixedFormat) -> dict:
    return {"bits": f.bits, "frac": f.frac, "signed": f.signed}


def _fmt_from_json(d: Any, where: str) -> FixedFormat:
    if not isinstance(d, dict) or set(d) != {"bits", "frac", "signed"}:
        raise UserError(f"{IR_JSON}: {where} is not a fixed-point format {{bits, frac, signed}}")
    try:
        return FixedFormat(int(d["bits"]), int(d["frac"]), bool(d["signed"]))
    except (TypeError, ValueError) as exc:
        raise UserError(f"{IR_JSON}: {where} is not a valid format ({exc})") from None


def _dtype_for(arr: np.ndarray) -> np.dtype:
    """Narrowest little-endian integer dtype holding the values: unsigned (uint8/16/32) when
    no value is negative, else signed (int8/16/32); int64 beyond.  Recorded in ir.json."""
    lo = int(arr.min()) if arr.size else 0
    hi = int(arr.max()) if arr.size else 0
    cands = ["<u1", "<u2", "<u4", "<i8"] if lo >= 0 else ["<i1", "<i2", "<i4", "<i8"]
    for c in cands:
        info = np.iinfo(np.dtype(c))
        if info.min <= lo and hi <= info.max:
            return np.dtype(c)
    raise ValueError("array values exceed int64")


def _to_json(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, FixedFormat):
        return _fmt_to_json(obj)
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"IR array {path} must be integer, got {arr.dtype}")
        if path in arrays:
            raise ValueError(f"duplicate IR array key {path}")
        arr = arr.astype(_dtype_for(arr))
        arrays[path] = arr
        return {"array": path, "dtype": arr.dtype.name, "shape": list(arr.shape)}
    if is_dataclass(obj):
        out = {"type": type(obj).__name__}
        # arrays of a named op are keyed "<op name>.<field>" (e.g. blocks.0.mlp.fc1.weight)
        base = obj.name if isinstance(getattr(obj, "name", None), str) else path
        for f in fields(obj):
            out[f.name] = _to_json(getattr(obj, f.name), f"{base}.{f.name}" if base else f.name, arrays)
        return out
    if isinstance(obj, (list, tuple)):
        return [_to_json(v, f"{path}.{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return {str(k): _to_json(v, f"{path}.{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    raise TypeError(f"cannot serialise {type(obj).__name__} at {path}")


_KINDS = {c.__name__: c for c in (TableOp, LinearOp, LayerNormOp, PatchEmbedOp, AttentionOp, TokenSelectOp, BlockOp)}


def _from_json(tp: Any, d: Any, where: str, arrays: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if d is None:
            return None
        return _from_json(args[0], d, where, arrays)
    if tp is FixedFormat:
        return _fmt_from_json(d, where)
    if tp is np.ndarray:
        return _array_from_json(d, where, arrays)
    if isinstance(tp, type) and is_dataclass(tp):
        return _dataclass_from_json(tp, d, where, arrays)
    if tp is list or origin is list:
        if not isinstance(d, list):
            raise UserError(f"{IR_JSON}: {where} must be a list")
        (item,) = typing.get_args(tp) or (Any,)
        if item is Any:
            return list(d)
        return [_from_json(item, v, f"{where}.{i}", arrays) for i, v in enumerate(d)]
    if tp is dict or origin is dict:
        if not isinstance(d, dict):
            raise UserError(f"{IR_JSON}: {where} must be an object")
        return d
    if tp is bool:
        if not isinstance(d, bool):
            raise UserError(f"{IR_JSON}: {where} must be true/false")
        return d
    if tp is int:
        if not isinstance(d, int) or isinstance(d, bool):
            raise UserError(f"{IR_JSON}: {where} must be an integer")
        return d
    if tp is float:
        if not isinstance(d, (int, float)) or isinstance(d, bool):
            raise UserError(f"{IR_JSON}: {where} must be a number")
        return float(d)
    if tp is str:
        if not isinstance(d, str):
            raise UserError(f"{IR_JSON}: {where} must be a string")
        return d
    raise TypeError(f"unsupported IR field type {tp!r} at {where}")


def _dataclass_from_json(cls: type, d: Any, where: str, arrays: Any) -> Any:
    if not isinstance(d, dict):
        raise UserError(f"{IR_JSON}: {where or 'top level'} must be an object")
    if d.get("type", cls.__name__) != cls.__name__:
        raise UserError(f"{IR_JSON}: {where} is a {d.get('type')!r}, expected {cls.__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(d) - set(names) - {"type"})
    if unknown:
        raise UserError(f"{IR_JSON}: {where or 'top level'} has unknown fields {unknown}")
    kwargs = {}
    for f in fields(cls):
        sub = f"{where}.{f.name}" if where else f.name
        if f.name not in d:
            if f.default is not MISSING or f.default_factory is not MISSING:
                continue
            raise UserError(f"{IR_JSON}: missing field {sub}")
        kwargs[f.name] = _from_json(hints[f.name], d[f.name], sub, arrays)
    return cls(**kwargs)


def _array_from_json(d: Any, where: str, arrays: Any) -> np.ndarray:
    if not isinstance(d, dict) or "array" not in d or "shape" not in d or "dtype" not in d:
        raise UserError(f"{IR_JSON}: {where} must be an array reference {{array, dtype, shape}}")
    key = d["array"]
    if key not in arrays:
        raise UserError(f"{IR_WEIGHTS} has no array {key!r} (needed by {where}); the IR directory is incomplete, export it again")
    arr = arrays[key]
    if list(arr.shape) != list(d["shape"]):
        raise UserError(f"{IR_WEIGHTS}: array {key!r} has shape {list(arr.shape)}, {IR_JSON} says {d['shape']}")
    if arr.dtype.name != d["dtype"]:
        raise UserError(f"{IR_WEIGHTS}: array {key!r} has dtype {arr.dtype.name}, {IR_JSON} says {d['dtype']}")
    return arr.astype(np.int64)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A deterministic ``.npz`` (uncompressed zip, fixed timestamps, sorted keys)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def ir_to_json(ir: IR) -> tuple[str, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    doc = _to_json(ir, "", arrays)
    return json.dumps(doc, sort_keys=True, indent=1) + "\n", arrays


def save_ir(ir: IR, directory: str | Path) -> None:
    """Write ``ir.json`` and ``weights.npz`` into ``directory`` (created if missing)."""
    ir.validate()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text, arrays = ir_to_json(ir)
    _write_npz(directory / IR_WEIGHTS, arrays)
    (directory / IR_JSON).write_text(text, encoding="utf-8")


def load_ir(directory: str | Path) -> IR:
    """Read and validate an IR directory; every problem is a :class:`UserError`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"IR directory {directory} does not exist; export one with python -m spvit_fpga.export")
    jpath, npath = directory / IR_JSON, directory / IR_WEIGHTS
    for p in (jpath, npath):
        if not p.is_file():
            raise UserError(f"{p} is missing; {directory} is not a complete IR directory (export it again)")
    try:
        doc = json.loads(jpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{jpath} is not valid JSON ({exc}); export the IR again") from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise UserError(f"{jpath} has no schema_version; it is not an spvit_fpga IR")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise UserError(
            f"{jpath} has schema_version {doc['schema_version']!r}; this spvit_fpga reads version {SCHEMA_VERSION}"
        )
    try:
        with np.load(npath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"{npath} is not a readable .npz file ({exc}); export the IR again") from None
    ir = _dataclass_from_json(IR, doc, "", arrays)
    ir.validate()
    return ir


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UserError(f"invalid IR: {msg}")


def _check_range(arr: np.ndarray, fmt: FixedFormat, what: str) -> None:
    if arr.size:
        _check(int(arr.min()) >= fmt.min_int and int(arr.max()) <= fmt.max_int, f"{what} has values outside {fmt}")


def _check_shape(arr: np.ndarray, shape: tuple, what: str) -> None:
    _check(tuple(arr.shape) == tuple(shape), f"{what} has shape {tuple(arr.shape)}, expected {tuple(shape)}")


def _validate_table(t: TableOp) -> None:
    _check(t.kind in ("gelu", "sigmoid"), f"{t.name}: unknown table kind {t.kind!r}")
    ref = (intops.gelu_table if t.kind == "gelu" else intops.sigmoid_table)(t.in_fmt, t.out_fmt).numpy()
    _check(np.array_equal(t.table, ref), f"{t.name}: {t.kind} table differs from its definition")


def _validate_linear(op: LinearOp) -> None:
    _check_shape(op.weight, (op.out_features, op.in_features), f"{op.name}.weight")
    _check_shape(op.bias, (op.out_features,), f"{op.name}.bias")
    _check_range(op.weight, op.w_fmt, f"{op.name}.weight")
    _check_range(op.bias, op.bias_fmt, f"{op.name}.bias")
    _check(op.bias_fmt.frac == op.acc_frac, f"{op.name}: bias frac {op.bias_fmt.frac} != accumulator frac {op.acc_frac}")
    _check(op.acc_bits == linear_acc_bits(op), f"{op.name}: acc_bits {op.acc_bits} is not the proven width {linear_acc_bits(op)}")
    if op.activation is not None:
        _check(op.out_fmt == op.activation.in_fmt, f"{op.name}: table input format differs from the linear output")
        _validate_table(op.activation)


def _validate_layernorm(op: LayerNormOp) -> None:
    _check_shape(op.gamma, (op.channels,), f"{op.name}.gamma")
    _check_shape(op.beta, (op.channels,), f"{op.name}.beta")
    _check_range(op.gamma, op.gamma_fmt, f"{op.name}.gamma")
    _check_range(op.beta, op.beta_fmt, f"{op.name}.beta")
    ref = intops.layernorm_params(op.channels, op.in_fmt, op.eps, mant_bits=op.mant_bits, table_bits=op.table_bits, norm_fmt=op.norm_fmt)
    _check(
        (ref.eps_int, ref.rsqrt_shift, ref.sum_bits, ref.dev_bits, ref.var_bits)
        == (op.eps_int, op.rsqrt_shift, op.sum_bits, op.dev_bits, op.var_bits),
        f"{op.name}: LayerNorm constants differ from their definition",
    )
    _check(np.array_equal(op.rsqrt_table, np.array(ref.table)), f"{op.name}: rsqrt table differs from its definition")


def _validate(ir: IR) -> None:
    cfg = ir.model
    try:
        c, n, nh = int(cfg["embed_dim"]), int(cfg["img_size"]) // int(cfg["patch_size"]), int(cfg["num_heads"])
    except (KeyError, TypeError, ValueError):
        raise UserError("invalid IR: model config lacks embed_dim / img_size / patch_size / num_heads") from None
    n = n * n
    pe = ir.patch_embed
    _validate_linear(pe.linear)
    _check_shape(pe.pos, (n, c), "patch_embed.pos")
    _check_shape(pe.cls, (c,), "patch_embed.cls")
    _check_range(pe.pos, pe.pos_fmt, "patch_embed.pos")
    _check_range(pe.cls, pe.out_fmt, "patch_embed.cls")
    _check(len(ir.blocks) == int(cfg["depth"]), f"{len(ir.blocks)} blocks, model depth {cfg['depth']}")
    for b in ir.blocks:
        if b.selector is not None:
            s = b.selector
            for lin in (s.head_fc1, s.head_fc2, s.in_fc, s.out_fc1, s.out_fc2, s.delta):
                _validate_linear(lin)
            _validate_layernorm(s.norm)
            _validate_table(s.sigma)
            _check(s.decision in ("threshold", "topk"), f"{s.name}: decision {s.decision!r}")
        _validate_layernorm(b.norm1)
        _validate_layernorm(b.norm2)
        for lin in (b.attn.q, b.attn.k, b.attn.v, b.attn.proj, b.fc1, b.fc2):
            _validate_linear(lin)
        ref = intops.exp_table(b.attn.score_fmt, b.attn.exp_frac).numpy()
        _check(np.array_equal(b.attn.exp_table, ref), f"{b.attn.name}: exp table differs from its definition")
    _validate_layernorm(ir.norm)
    _validate_linear(ir.head)
    _check(ir.head.out_features == ir.num_classes, "head outputs != num_classes")


# --------------------------------------------------------------------------------------------
# Widths
# --------------------------------------------------------------------------------------------


def _range(fmt: FixedFormat) -> tuple[int, int]:
    return fmt.min_int, fmt.max_int


def linear_acc_bits(op: LinearOp) -> int:
    """Width that provably holds the accumulator of ``op`` for every input in ``in_fmt``:
    ``sum_k x_k w_mk`` over the *actual* weights of each row (exact interval arithmetic:
    each product lies between ``w * x_min`` and ``w * x_max``), plus the actual bias, plus the
    aligned residual range; the maximum over rows and over the two alignment variants."""
    xl, xh = _range(op.in_fmt)
    w = op.weight.astype(np.int64).reshape(op.out_features, -1)  # |w * x| < 2**26, sums < 2**40
    lo_rows = np.minimum(w * xl, w * xh).sum(axis=1).tolist()
    hi_rows = np.maximum(w * xl, w * xh).sum(axis=1).tolist()
    lo = hi = 0
    for m in range(op.out_features):
        rl, rh = lo_rows[m] + int(op.bias[m]), hi_rows[m] + int(op.bias[m])
        if op.residual_fmt is not None:
            a = op.residual_align
            r_lo, r_hi = _range(op.residual_fmt)
            if a >= 0:
                rl, rh = rl + (r_lo << a), rh + (r_hi << a)
            else:
                rl, rh = (rl << -a) + r_lo, (rh << -a) + r_hi
        lo, hi = min(lo, rl), max(hi, rh)
    return intops.signed_bits_for_range(lo, hi)
