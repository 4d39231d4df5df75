"""Linear layers of the IR as QONNX units, and the integer rows each unit is checked on.

A *unit* is one linear layer of the dense backbone with its requantisation, exactly as the
integer model defines it (``docs/integer_arithmetic.md`` §2.1)::

    x (in_fmt) ─▶ x·Wᵀ + b  (int8 weights, 32-bit bias)  [+ residual, aligned]  ─▶ requantize (RNE, saturate) ─▶ y (out_fmt)

It is built from Brevitas layers with constant power-of-two scales equal to the IR's formats
(weights and biases are the IR's integers times their scale, exact in float32) and exported with
``brevitas.export.export_qonnx``.  A residual is a second graph input, also for the patch
embedding, whose residual is the model's position embedding (fed with its rows: hls4ml treats
the first axis as the batch and cannot add a per-token constant); the classifier has no output
quantiser (its output is the accumulator).

Which layers: those of the dense backbone, the same set as ``export --qonnx`` (patch embedding,
Q/K/V/projection and MLP of every block, classifier).  The selectors' layers are left out: their
row count depends on the image (tokens kept by the previous stage), which a static-shape graph
cannot express.

Rows: the inputs and outputs of every unit on real images come from the golden reference
(:func:`reference.run_reference` with intermediates); random rows cover the whole input range
(every value of the input format, saturating outputs, ties of the rounding) and their expected
outputs come from :func:`intops.int_linear`, the reference's linear operator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from ._project import IR, FixedFormat, LinearOp, UserError, int_linear, quantize_image, run_reference

FLOAT32_EXACT_BITS = 24  # integers up to 2**24 times a power of two are exact in float32


@dataclass(frozen=True)
class LinearUnit:
    """One linear layer of the backbone and where the reference records its input and output."""

    op: LinearOp
    rows: int  # rows of one frame (one image): the op's maximum token count
    input_key: str  # reference intermediate feeding the layer
    output_key: str  # reference intermediate the layer produces
    residual_key: Optional[str] = None  # reference intermediate added before the requantisation
    const_residual: Optional[np.ndarray] = None  # residual that is a model constant [rows, out] (position embedding)
    cost_key: str = ""  # layer name in this project's overlay cost model

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def has_residual_input(self) -> bool:
        return self.residual_key is not None or self.const_residual is not None


@dataclass
class Rows:
    """Integer rows of one unit: inputs, optional residual, expected outputs."""

    x: np.ndarray  # [R, K] int64
    y: np.ndarray  # [R, N] int64
    residual: Optional[np.ndarray] = None  # [R, N] int64
    frames: list[int] = field(default_factory=list)  # rows per image (real images)

    def __len__(self) -> int:
        return int(self.x.shape[0])


def backbone_units(ir: IR) -> list[LinearUnit]:
    """Every linear layer of the dense backbone, in execution order."""
    pe = ir.patch_embed
    units = [LinearUnit(pe.linear, pe.linear.max_tokens, "patch_embed.patches", "patch_embed",
                        const_residual=np.asarray(pe.pos, dtype=np.int64), cost_key="patch_embed")]
    for b in ir.blocks:
        p, c = f"blocks.{b.index}.", f"block{b.index}."
        units += [
            LinearUnit(b.attn.q, b.attn.q.max_tokens, p + "norm1", b.attn.q.name, cost_key=c + "qkv"),
            LinearUnit(b.attn.k, b.attn.k.max_tokens, p + "norm1", b.attn.k.name, cost_key=c + "qkv"),
            LinearUnit(b.attn.v, b.attn.v.max_tokens, p + "norm1", b.attn.v.name, cost_key=c + "qkv"),
            LinearUnit(b.attn.proj, b.attn.proj.max_tokens, p + "attn.context", b.attn.proj.name,
                       residual_key=p + "in", cost_key=c + "proj"),
            LinearUnit(b.fc1, b.fc1.max_tokens, p + "norm2", b.fc1.name, cost_key=c + "fc1"),
            LinearUnit(b.fc2, b.fc2.max_tokens, p + "mlp.gelu", b.fc2.name, residual_key=p + "attn.proj", cost_key=c + "fc2"),
        ]
    units.append(LinearUnit(ir.head, 1, "norm", "logits", cost_key="head"))
    return units


def select_units(units: list[LinearUnit], patterns: Optional[list[str]]) -> list[LinearUnit]:
    """The units whose name equals or starts with one of ``patterns`` (all for None)."""
    if not patterns:
        return units
    chosen = [u for u in units if any(u.name == p or u.name.startswith(p.rstrip(".") + ".") for p in patterns)]
    if not chosen:
        raise UserError(f"--layers {','.join(patterns)} matches no linear layer; names look like "
                        f"{units[0].name}, {units[1].name}, blocks.0.mlp, head")
    return chosen


def unsupported_reason(unit: LinearUnit) -> Optional[str]:
    """Why the unit cannot be written exactly as a float32 QONNX graph, or None."""
    op = unit.op
    big = [n for n, a in (("bias", op.bias), ("weight", op.weight)) if a.size and int(np.abs(a).max()) >= 2**FLOAT32_EXACT_BITS]
    if big:
        return f"{' and '.join(big)} integers need more than {FLOAT32_EXACT_BITS} bits: float32 QONNX initialisers cannot hold them exactly"
    return None


# --------------------------------------------------------------------------------------------
# Brevitas module and QONNX export
# --------------------------------------------------------------------------------------------


def _scale_max(fmt: FixedFormat) -> float:
    return fmt.max_int * 2.0 ** (-fmt.frac)


def _act_quant(fmt: FixedFormat) -> nn.Module:
    """QuantIdentity with the constant scale ``2**-frac`` and ``fmt.bits`` (RNE, saturate)."""
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    quant = Int8ActPerTensorFixedPoint if fmt.signed else Uint8ActPerTensorFixedPoint
    mx = _scale_max(fmt)
    return QuantIdentity(act_quant=quant, bit_width=fmt.bits, scaling_impl_type="const", scaling_init=mx,
                         max_val=mx, return_quant_tensor=True)


def _value(t):
    return t.value if hasattr(t, "value") else t


class UnitModule(nn.Module):
    """The Brevitas form of a :class:`LinearUnit` (inputs: real values on the formats' grids)."""

    def __init__(self, unit: LinearUnit) -> None:
        super().__init__()
        from brevitas.nn import QuantLinear
        from brevitas.quant import Int8WeightPerTensorFixedPoint, Int32Bias

        op = unit.op
        self.q_in = _act_quant(op.in_fmt)
        mx = _scale_max(op.w_fmt)
        self.linear = QuantLinear(
            op.in_features, op.out_features, bias=True, weight_quant=Int8WeightPerTensorFixedPoint,
            weight_bit_width=op.w_fmt.bits, weight_scaling_impl_type="const", weight_scaling_init=mx,
            weight_max_val=mx, bias_quant=Int32Bias, bias_bit_width=op.bias_fmt.bits, return_quant_tensor=False,
        )
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor(op.weight, dtype=torch.float64) * 2.0**-op.w_fmt.frac)
            self.linear.bias.copy_(torch.tensor(op.bias, dtype=torch.float64) * 2.0**-op.bias_fmt.frac)
        self.q_res = _act_quant(op.residual_fmt) if unit.has_residual_input else None
        self.q_out = _act_quant(op.out_fmt) if op.out_fmt is not None else None

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.linear(self.q_in(x))
        if self.q_res is not None:
            y = y + _value(self.q_res(residual))
        return _value(self.q_out(y)) if self.q_out is not None else y


def input_names(unit: LinearUnit) -> list[str]:
    return ["x", "residual"] if unit.has_residual_input else ["x"]


def export_unit(unit: LinearUnit, path: Path) -> Path:
    """Write the unit as QONNX (one frame: ``unit.rows`` rows) to ``path``."""
    from brevitas.export import export_qonnx

    module = UnitModule(unit).eval()
    op = unit.op
    args = [torch.zeros(unit.rows, op.in_features)]
    if unit.has_residual_input:
        args.append(torch.zeros(unit.rows, op.out_features))
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        # the TorchScript exporter: one self-contained file, ~20x faster than dynamo for these graphs
        export_qonnx(module, args=tuple(args), export_path=str(path), dynamo=False,
                     input_names=input_names(unit), output_names=["y"])
    return path


def to_real(values: np.ndarray, fmt: Optional[FixedFormat], frac: int) -> np.ndarray:
    """Integers -> their real values (float64, exact) at ``frac`` (``fmt.frac`` when given)."""
    return np.asarray(values, dtype=np.float64) * 2.0 ** -(fmt.frac if fmt is not None else frac)


class OffGridError(ValueError):
    """A tool returned values that are not integers of the output format."""


def to_int(real: np.ndarray, frac: int) -> np.ndarray:
    """Real outputs -> integers; raises OffGridError if a value is off the grid (never rounds)."""
    scaled = np.asarray(real, dtype=np.float64) * 2.0**frac
    ints = np.round(scaled)
    if not np.array_equal(ints, scaled):
        raise OffGridError("output values are not on the integer grid of the output format")
    return ints.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def reference_rows(ir: IR, images: torch.Tensor, units: list[LinearUnit], progress=None) -> dict[str, Rows]:
    """Inputs/outputs of every unit on real images [B,C,H,W] (float, on the input grid), from
    the golden reference with intermediates (pruned tokens physically removed)."""
    parts: dict[str, list[tuple[np.ndarray, Optional[np.ndarray], np.ndarray]]] = {u.name: [] for u in units}
    for img in images:
        inter = run_reference(ir, quantize_image(ir, img), return_intermediates=True).intermediates
        assert inter is not None
        for u in units:
            x = np.atleast_2d(inter[u.input_key])
            y = np.atleast_2d(inter[u.output_key])
            r = np.atleast_2d(inter[u.residual_key]) if u.residual_key else u.const_residual
            parts[u.name].append((x, r, y))
        if progress is not None:
            progress.update(1)
    out = {}
    for u in units:
        xs, rs, ys = zip(*parts[u.name])
        out[u.name] = Rows(np.concatenate(xs).astype(np.int64), np.concatenate(ys).astype(np.int64),
                           np.concatenate(rs).astype(np.int64) if u.has_residual_input else None, [len(x) for x in xs])
    return out


def random_rows(unit: LinearUnit, frames: int, seed: int) -> Rows:
    """``frames`` frames of random inputs over the whole input range (a quarter of the values at
    the format's extremes) and the reference's outputs for them."""
    op = unit.op
    g = np.random.default_rng(seed)
    n = frames * unit.rows

    def ints(fmt: FixedFormat, shape: tuple[int, int]) -> np.ndarray:
        v = g.integers(fmt.min_int, fmt.max_int + 1, size=shape, dtype=np.int64)
        ext = g.random(shape) < 0.25
        v[ext] = g.choice(np.array([fmt.min_int, fmt.max_int], dtype=np.int64), size=int(ext.sum()))
        return v

    x = ints(op.in_fmt, (n, op.in_features))
    res = None
    if unit.const_residual is not None:
        res = np.tile(np.asarray(unit.const_residual, dtype=np.int64), (frames, 1))
    elif unit.has_residual_input:
        res = ints(op.residual_fmt, (n, op.out_features))
    y = _reference_linear(unit, x, res)
    return Rows(x, y, res, [unit.rows] * frames)


def _reference_linear(unit: LinearUnit, x: np.ndarray, residual: Optional[np.ndarray]) -> np.ndarray:
    op = unit.op
    r = residual
    y = int_linear(
        torch.as_tensor(x), torch.as_tensor(np.asarray(op.weight, dtype=np.int64)), torch.as_tensor(np.asarray(op.bias, dtype=np.int64)),
        shift=op.shift, out_fmt=op.out_fmt, residual=None if r is None else torch.as_tensor(r), residual_align=op.residual_align,
    )
    return y.numpy().astype(np.int64)


def frames_of(rows: Rows, unit: LinearUnit) -> list[tuple[np.ndarray, Optional[np.ndarray], int]]:
    """The rows cut into frames of ``unit.rows`` (zero-padded): (x, residual, valid rows)."""
    out = []
    start = 0
    for count in rows.frames:
        x = np.zeros((unit.rows, unit.op.in_features), dtype=np.int64)
        x[:count] = rows.x[start : start + count]
        r = None
        if rows.residual is not None:
            r = np.zeros((unit.rows, unit.op.out_features), dtype=np.int64)
            r[:count] = rows.residual[start : start + count]
        out.append((x, r, count))
        start += count
    return out
