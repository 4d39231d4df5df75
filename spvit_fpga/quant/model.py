"""Quantisation-aware (fake-quant) SPViT whose forward pass is the integer model, bit for bit.

:class:`QuantSPViT` has the public surface of :class:`spvit_fpga.nn.model.SPViT` (it subclasses
it: same parameter names, ``cfg``, ``tau``, ``decision``, ``forward``, ``forward_physical``,
``embed``, ``backbone_parameters``, ``selector_parameters``) so float checkpoints load into it
and the trainer, the evaluator and :func:`spvit_fpga.nn.evaluation.calibrate_thresholds` work
unchanged.  Its forward passes are the integer definitions of :mod:`spvit_fpga.ir.intops` with
straight-through gradients, so every activation it produces is exactly
``integer_reference * 2**-frac`` (float32 holds these values exactly; the classifier logits are
exact while ``|logit_int| < 2**24``):

* the linear layers are Brevitas modules (:mod:`spvit_fpga.quant.brevitas_layers`): ``QuantLinear``
  (patch embedding ``QuantConv2d``) with fixed-point weight / bias quantizers and an exact
  float64 accumulator, holding the model's own Parameters (the state_dict is the float
  model's); Q / K / V are parameter-free ``QuantLinear`` views of the fused ``qkv``;
* every activation point has a Brevitas ``QuantIdentity`` (``act_quant``; constant power-of-two
  scale, the frozen format) that requantises the linear layers' and the attention products'
  accumulators and feeds layer inputs to Brevitas as ``QuantTensor``;
* the integer nonlinearities (LayerNorm, softmax, GELU / sigmoid tables, the selector's means,
  keep probability and package token) and the position embedding's quantiser run through
  :mod:`spvit_fpga.quant.qat_ops` (Brevitas has no bit-exact counterpart).

Formats (all power-of-two scales, see ``docs/integer_arithmetic.md`` §8):

* weights, LayerNorm gamma, the position embedding: per tensor, ``QuantConfig.weight_bits``
  (position embedding: ``residual_bits``), derived from the tensor's current max-abs at every
  forward (:func:`fit_format`: Brevitas' ``Int8WeightPerTensorFixedPoint`` with a radix-point
  rule that never saturates the largest weight);  biases and LayerNorm beta: ``acc_bits`` at
  accumulator frac;
* activations: one frozen format per tensor (the names of :func:`activation_points`),
  ``act_bits`` wide (``residual_bits`` for the residual stream), calibrated once from the float
  model's statistics by :meth:`QuantSPViT.calibrate` and then frozen;
* fixed formats: attention probabilities ``prob_format(prob_bits)``, head weights ``w``, their
  sigmoid ``sigma`` and the keep probability ``p``: ``prob_format(selector_prob_bits)``.

Bit-exactness with Brevitas: a stock ``QuantLinear`` multiplies in the input's float dtype
(inexact beyond 2**24 in float32) and its fixed-point weight quantizer rounds the radix point
up (clipping a maximum of 1.0 to 127/128); :mod:`spvit_fpga.quant.brevitas_layers` computes the product
in float64 and plugs the project's radix-point rule into the Brevitas quantizer.  The traced
integers of the IR (:meth:`QuantSPViT.trace_ops`) are read from the Brevitas quantizers.

Inference threshold: ``tau`` holds, per selector stage, a real threshold on the keep score
``sum_h w_h (s_keep,h - s_prune,h)`` -- the same unit as the float model's ``tau``.  The integer
rule is ``z >= ceil(tau * 2**(f_w + f_delta))`` with ``z = sum_h w_int,h * delta_int,h``, which
is exactly ``z * 2**-(f_w + f_delta) >= tau``; the stage traces report that real score, so
:func:`~spvit_fpga.nn.evaluation.calibrate_thresholds` calibrates it directly.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..ir import intops
from ..ir.intops import FixedFormat, prob_format
from ..nn.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, Checkpoint, _torch_load, check_state_dict, save_checkpoint
from ..nn.config import ModelConfig
from ..nn.model import PhysicalOutput, SPViT, SPViTOutput, StageTrace
from ..nn.token_select import DECISION_MODES, gumbel_keep, topk_keep
from . import qat_ops as Q
from .brevitas_layers import (
    DerivedFixedPointLinear,
    FixedPointConv2d,
    FixedPointIdentity,
    FixedPointLinear,
    fit_format,
    quant_format,
    quant_ints,
    value_of,
)

__all__ = [
    "QuantConfig",
    "QuantSPViT",
    "activation_points",
    "fit_format",
    "quantize_model",
    "infer_input_format",
    "saturation_report",
    "save_quant_checkpoint",
    "load_quant_checkpoint",
    "is_quant_checkpoint",
    "build_model",
    "QUANT_CHECKPOINT_KEY",
]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantConfig:
    """Bit widths of the integer model (see ``docs/integer_arithmetic.md`` §1.5 and §8)."""

    weight_bits: int = intops.DEFAULT_WEIGHT_BITS
    act_bits: int = intops.DEFAULT_ACT_BITS
    residual_bits: int = intops.DEFAULT_RESIDUAL_BITS
    # attention probabilities: unsigned, frac == bits (8 or 10)
    prob_bits: int = intops.DEFAULT_PROB_BITS
    # token selector: head weights w, sigmoid(delta), keep probability p (unsigned, frac == bits)
    selector_prob_bits: int = 8
    # accumulator / bias / LayerNorm-beta register width
    acc_bits: int = intops.DEFAULT_ACC_BITS
    exp_frac: int = intops.DEFAULT_EXP_FRAC
    rsqrt_mant_bits: int = intops.DEFAULT_RSQRT_MANT_BITS
    # input pixels: unsigned ``input_bits`` integers with ``input_frac_bits`` fractional bits
    # (the data set's ``input_frac_bits``: digits 4, uint8 images 8); required by quantize_model
    input_bits: int = 8
    input_frac_bits: Optional[int] = None
    # activation calibration: percentile (over calibration images) of each image's max |x|;
    # 100 = the plain maximum
    calib_percentile: float = 100.0

    def __post_init__(self) -> None:
        for name in ("weight_bits", "act_bits", "residual_bits", "prob_bits", "selector_prob_bits", "input_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 2 <= v <= 16:
                raise UserError(f"QuantConfig.{name} must be an integer in 2..16, got {v!r}")
        if self.act_bits > 10:
            raise UserError(f"QuantConfig.act_bits={self.act_bits}: table inputs (GELU, sigmoid, softmax) are at most 10 bits")
        if self.prob_bits > 10 or self.selector_prob_bits > 10:
            raise UserError("QuantConfig.prob_bits / selector_prob_bits must be at most 10")
        if not 16 <= self.acc_bits <= 48:
            raise UserError(f"QuantConfig.acc_bits must be in 16..48, got {self.acc_bits}")
        if not 0.0 < self.calib_percentile <= 100.0:
            raise UserError(f"QuantConfig.calib_percentile must be in (0, 100], got {self.calib_percentile}")

    @property
    def input_fmt(self) -> FixedFormat:
        if self.input_frac_bits is None:
            raise UserError("QuantConfig.input_frac_bits is not set; pass the data set's input_frac_bits")
        return FixedFormat(self.input_bits, int(self.input_frac_bits), signed=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QuantConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"quant config has unknown fields {sorted(unknown)}; was it written by a newer spvit_fpga?")
        return cls(**d)


def param_format(t: torch.Tensor, bits: int) -> FixedFormat:
    """Per-tensor format of a parameter (weights, gamma, position embedding) from its max-abs."""
    with torch.no_grad():
        m = float(t.detach().abs().max()) if t.numel() else 0.0
    return fit_format(m, bits)


# Activation points of one block / selector stage: name suffix -> "act" | "residual".
_BLOCK_POINTS = (
    ("norm1", "act"),
    ("attn.q", "act"),
    ("attn.k", "act"),
    ("attn.v", "act"),
    ("attn.scores", "act"),
    ("attn.context", "act"),
    ("attn.proj", "residual"),
    ("norm2", "act"),
    ("mlp.fc1", "act"),
    ("mlp.gelu", "act"),
    ("mlp.fc2", "residual"),
)
_SELECTOR_POINTS = (
    "head_mean",
    "head_fc1",
    "head_gelu",
    "head_fc2",
    "norm",
    "in_fc",
    "in_gelu",
    "out_fc1",
    "out_gelu1",
    "out_fc2",
    "out_gelu2",
    "delta",
)


# The selector's linear layers (all Brevitas FixedPointLinear in QuantSPViT).
_SELECTOR_LINEARS = ("head_fc1", "head_fc2", "in_fc", "out_fc1", "out_fc2", "out_fc3")


def _act_key(point: str) -> str:
    """ModuleDict key of an activation point's QuantIdentity (dots are not allowed)."""
    return point.replace(".", "_")


def activation_points(cfg: ModelConfig) -> dict[str, str]:
    """Names of the calibrated activation tensors, in execution order -> ``"act"`` (int
    ``act_bits``) or ``"residual"`` (``residual_bits``).  The name is that of the op producing
    the tensor (``blocks.3.attn.proj`` = the residual stream after block 3's attention)."""
    pts: dict[str, str] = {"embed": "residual"}
    stage = 0
    for i in range(cfg.depth):
        if stage < cfg.num_stages and cfg.selector_blocks[stage] == i:
            for n in _SELECTOR_POINTS:
                pts[f"selectors.{stage}.{n}"] = "act"
            stage += 1
        for n, kind in _BLOCK_POINTS:
            pts[f"blocks.{i}.{n}"] = kind
    pts["norm"] = "act"
    return pts


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class _A(NamedTuple):
    """An activation: its float value (on the grid of ``fmt`` in quant mode), format (None in
    float mode) and the activation point that produced it (whose QuantIdentity turns it into a
    Brevitas QuantTensor when it feeds a linear layer)."""

    v: torch.Tensor
    fmt: Optional[FixedFormat]
    point: Optional[str] = None


class QuantSPViT(SPViT):
    """Fake-quant SPViT: the integer model of ``docs/integer_arithmetic.md`` §8 with
    straight-through gradients.  Build it with :func:`quantize_model` (or
    :func:`load_quant_checkpoint`)."""

    def __init__(
        self,
        cfg: ModelConfig,
        qcfg: QuantConfig,
        formats: Optional[dict[str, FixedFormat]] = None,
    ) -> None:
        super().__init__(cfg)
        self.qcfg = qcfg
        self.input_fmt = qcfg.input_fmt
        self._install_brevitas_layers()
        # one Brevitas QuantIdentity per activation point (and the input), built by set_formats
        self.act_quant = nn.ModuleDict()
        self.formats: dict[str, FixedFormat] = {}
        if formats is not None:
            self.set_formats(formats)
        # modes (not state): float mode with a statistics hook (calibration), or quant mode
        # with an optional hook (saturation counting) and op tracer (IR extraction)
        self._float_mode = False
        self._hook: Optional[Callable[[str, torch.Tensor, Optional[FixedFormat]], None]] = None
        self._tracer: Optional[dict[str, dict[str, Any]]] = None

    # --- formats ---------------------------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        return bool(self.formats)

    def set_formats(self, formats: dict[str, FixedFormat]) -> None:
        expected = activation_points(self.cfg)
        missing = sorted(set(expected) - set(formats))
        unknown = sorted(set(formats) - set(expected))
        if missing or unknown:
            raise UserError(
                f"activation formats do not fit the model: missing {missing[:5]}, unknown {unknown[:5]}; "
                "the quant section belongs to another architecture"
            )
        for name, kind in expected.items():
            bits = self.qcfg.residual_bits if kind == "residual" else self.qcfg.act_bits
            f = formats[name]
            if f.bits != bits or not f.signed:
                raise UserError(f"activation format of {name} is {f}, expected signed {bits} bits")
        self.formats = {k: formats[k] for k in expected}
        quantizers = {"input": FixedPointIdentity(self.input_fmt)}
        quantizers.update({_act_key(k): FixedPointIdentity(f) for k, f in self.formats.items()})
        self.act_quant = nn.ModuleDict(quantizers).to(self.pos_embed.device).train(self.training)

    def _install_brevitas_layers(self) -> None:
        """Swap the float linear layers for Brevitas ones holding the same Parameter objects
        (so the state_dict is unchanged) and add the derived Q / K / V projections."""
        wb, bb = self.qcfg.weight_bits, self.qcfg.acc_bits

        def wrap(lin: nn.Linear) -> FixedPointLinear:
            return FixedPointLinear.wrap(lin, weight_bits=wb, bias_bits=bb)

        self.patch_embed.proj = FixedPointConv2d.wrap(self.patch_embed.proj, weight_bits=wb, bias_bits=bb)
        c = self.cfg.embed_dim
        for blk in self.blocks:
            attn = blk.attn
            attn.proj = wrap(attn.proj)
            # DeiT's fused qkv stays the parameter; Q (with 1/sqrt(d_head) folded in), K and V
            # are Brevitas layers over its rows, each with its own weight format
            attn.q = DerivedFixedPointLinear(attn.qkv, (0, c), attn.scale, weight_bits=wb, bias_bits=bb)
            attn.k = DerivedFixedPointLinear(attn.qkv, (c, 2 * c), None, weight_bits=wb, bias_bits=bb)
            attn.v = DerivedFixedPointLinear(attn.qkv, (2 * c, 3 * c), None, weight_bits=wb, bias_bits=bb)
            blk.mlp.fc1, blk.mlp.fc2 = wrap(blk.mlp.fc1), wrap(blk.mlp.fc2)
        for sel in self.selectors:
            for n in _SELECTOR_LINEARS:
                setattr(sel, n, wrap(getattr(sel, n)))
        self.head = wrap(self.head)

    @property
    def prob_fmt(self) -> FixedFormat:
        return prob_format(self.qcfg.prob_bits)

    @property
    def sel_prob_fmt(self) -> FixedFormat:
        return prob_format(self.qcfg.selector_prob_bits)

    def weight_format(self, w: torch.Tensor) -> FixedFormat:
        return param_format(w, self.qcfg.weight_bits)

    def bias_format(self, acc_frac: int, extra_bits: int = 0) -> FixedFormat:
        return FixedFormat(self.qcfg.acc_bits + extra_bits, acc_frac, True)

    def quant_state(self) -> dict[str, Any]:
        """What a checkpoint needs besides the state_dict to rebuild this model."""
        return {
            "config": self.qcfg.to_dict(),
            "formats": {k: [f.bits, f.frac, f.signed] for k, f in self.formats.items()},
        }

    @classmethod
    def from_quant_state(cls, cfg: ModelConfig, quant: dict[str, Any]) -> "QuantSPViT":
        try:
            qcfg = QuantConfig.from_dict(quant["config"])
            formats = {k: FixedFormat(int(v[0]), int(v[1]), bool(v[2])) for k, v in quant["formats"].items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UserError(f"malformed quant section in checkpoint ({exc})") from None
        return cls(cfg, qcfg, formats)

    # --- effective float parameters (shared by the forward and the IR) -----------------------
    def linear_module(self, name: str) -> nn.Module:
        """The Brevitas layer of a linear op (``patch_embed``: a ``QuantConv2d``)."""
        if name == "patch_embed":
            return self.patch_embed.proj
        if name == "head":
            return self.head
        parts = name.split(".")
        if parts[0] == "blocks" and len(parts) == 4 and parts[2] in ("attn", "mlp"):
            blk = self.blocks[int(parts[1])]
            if parts[2:] in (["attn", "q"], ["attn", "k"], ["attn", "v"], ["attn", "proj"]):
                return getattr(blk.attn, parts[3])
            if parts[3] in ("fc1", "fc2"):
                return getattr(blk.mlp, parts[3])
        if parts[0] == "selectors" and len(parts) == 3 and parts[2] in _SELECTOR_LINEARS:
            return getattr(self.selectors[int(parts[1])], parts[2])
        raise KeyError(name)

    def linear_params(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight [out, in], bias [out]) of a linear op, as the integer model uses them.

        ``patch_embed``: the conv kernel flattened in (channel, row, column) order; ``attn.q``:
        the Q rows of ``qkv`` with the softmax scale ``1/sqrt(d_head)`` folded in (float32),
        ``attn.k`` / ``attn.v``: the K / V rows (the weights of the derived Brevitas layers).
        """
        mod = self.linear_module(name)
        if name == "patch_embed":
            return mod.weight.reshape(mod.weight.shape[0], -1), mod.bias
        return mod.weight, mod.bias

    # --- op helpers: float mode (calibration) or fake-quant mode ------------------------------
    def _fmt(self, name: str) -> FixedFormat:
        try:
            return self.formats[name]
        except KeyError:
            raise RuntimeError("QuantSPViT is not calibrated: build it with quantize_model() or call calibrate()") from None

    def _out(self, name: str, y: torch.Tensor, fmt: Optional[FixedFormat]) -> _A:
        if self._hook is not None:
            self._hook(name, y, fmt)
        return _A(y, fmt, name)

    def _trace(self, name: str, **rec: Any) -> None:
        if self._tracer is not None:
            self._tracer[name] = rec

    def _quant_in(self, x: _A):
        """``x`` as a Brevitas ``QuantTensor``, through the QuantIdentity of the activation
        point that produced it (an exact identity on the values, already on that grid)."""
        q = self.act_quant[_act_key(x.point)] if x.point is not None and _act_key(x.point) in self.act_quant else None
        if q is None or q.fmt != x.fmt:
            raise RuntimeError(f"linear input {x.point!r} ({x.fmt}) has no activation quantizer")
        return q(x.v)

    def _requant(self, point: str, acc: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Requantise an exact (float64) accumulator with the QuantIdentity of ``point``:
        round half to even and saturate, i.e. :func:`intops.requantize`."""
        return value_of(self.act_quant[_act_key(point)](acc)).to(dtype)

    def _brevitas_linear(self, lin: nn.Module, x: _A) -> tuple[torch.Tensor, Any]:
        """(float64 accumulator, input QuantTensor) of a Brevitas layer on ``x``."""
        xq = self._quant_in(x)
        return lin(xq), xq

    def _trace_params(self, lin: nn.Module, xq: Any) -> tuple[FixedFormat, torch.Tensor, FixedFormat, torch.Tensor]:
        """(w_fmt, w_int [out, in], b_fmt, b_int) exactly as the Brevitas quantizers produce them."""
        qw = lin.quant_weight()
        qb = lin.bias_quant(lin.bias, xq, qw)
        wi = quant_ints(qw)
        return quant_format(qw), wi.reshape(wi.shape[0], -1), quant_format(qb), quant_ints(qb)

    def _linear(self, name: str, x: _A, residual: Optional[_A] = None) -> _A:
        if self._float_mode:
            w, b = self.linear_params(name)
            y = F.linear(x.v, w, b)
            return self._out(name, y if residual is None else y + residual.v, None)
        out = self._fmt(name)
        lin = self.linear_module(name)
        acc, xq = self._brevitas_linear(lin, x)
        if residual is not None:  # fused epilogue: added in the accumulator, rounded once
            acc = acc + residual.v.to(torch.float64)
        y = self._requant(name, acc, x.v.dtype)
        if self._tracer is not None:
            w_fmt, wi, b_fmt, bi = self._trace_params(lin, xq)
            self._trace(name, in_fmt=x.fmt, w_fmt=w_fmt, b_fmt=b_fmt, out_fmt=out,
                        residual_fmt=None if residual is None else residual.fmt, weight=wi, bias=bi)
        return self._out(name, y, out)

    def _head_linear(self, x: _A) -> torch.Tensor:
        """Classifier: raw accumulator (computed in float64, returned as float32)."""
        if self._float_mode:
            w, b = self.linear_params("head")
            y = F.linear(x.v, w, b)
            self._out("head", y, None)
            return y
        y, xq = self._brevitas_linear(self.head, x)
        if self._tracer is not None:
            w_fmt, wi, b_fmt, bi = self._trace_params(self.head, xq)
            self._trace("head", in_fmt=x.fmt, w_fmt=w_fmt, b_fmt=b_fmt, out_fmt=None, residual_fmt=None,
                        weight=wi, bias=bi)
        self._out("head", y, None)
        return y.to(x.v.dtype)

    def _table(self, name: str, kind: str, x: _A, out_fmt: Optional[FixedFormat] = None) -> _A:
        fn = {"gelu": F.gelu, "sigmoid": torch.sigmoid}[kind]
        if self._float_mode:
            return self._out(name, fn(x.v), None)
        out = self._fmt(name) if out_fmt is None else out_fmt
        q_fn = Q.q_gelu if kind == "gelu" else Q.q_sigmoid
        self._trace(name, kind=kind, in_fmt=x.fmt, out_fmt=out)
        return self._out(name, q_fn(x.v, in_fmt=x.fmt, out_fmt=out), out)

    def _ln(self, name: str, x: _A, ln: torch.nn.LayerNorm) -> _A:
        if self._float_mode:
            return self._out(name, F.layer_norm(x.v, ln.normalized_shape, ln.weight, ln.bias, ln.eps), None)
        out = self._fmt(name)
        g_fmt = self.weight_format(ln.weight)
        norm_fmt = intops.DEFAULT_NORM_FMT
        b_fmt = self.bias_format(g_fmt.frac + norm_fmt.frac)
        y = Q.q_layernorm(
            x.v, ln.weight, ln.bias, in_fmt=x.fmt, gamma_fmt=g_fmt, out_fmt=out, eps=ln.eps,
            mant_bits=self.qcfg.rsqrt_mant_bits, norm_fmt=norm_fmt, beta_bits=b_fmt.bits,
        )
        self._trace(name, in_fmt=x.fmt, gamma_fmt=g_fmt, beta_fmt=b_fmt, norm_fmt=norm_fmt, out_fmt=out,
                    eps=float(ln.eps), gamma=g_fmt.to_int(ln.weight.detach()), beta=b_fmt.to_int(ln.bias.detach()))
        return self._out(name, y, out)

    # --- embedding -----------------------------------------------------------------------------
    def patches(self, images: torch.Tensor) -> torch.Tensor:
        """[B, N, C*P*P] flattened patches in (channel, row, column) order, row-major grid."""
        p = self.cfg.patch_size
        return F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)

    def _embed(self, images: torch.Tensor) -> _A:
        pos = self.pos_embed[0]
        cls = self.cls_token[0, 0] + pos[0]
        b = images.shape[0]
        if self._float_mode:
            e = self._linear("patch_embed", _A(self.patches(images), None), residual=_A(pos[1:], None))
            y = torch.cat([cls.expand(b, 1, -1), e.v], dim=1)
            return self._out("embed", y, None)
        out = self._fmt("embed")
        # patch embedding: Brevitas QuantConv2d on the quantised image (exact float64
        # accumulator) + the quantised position embedding (fused epilogue), one rounding
        conv = self.patch_embed.proj
        img_q = self.act_quant["input"](images)
        acc = conv(img_q).flatten(2).transpose(1, 2)  # [B, N, C], row-major grid
        pos_fmt = param_format(pos[1:], self.qcfg.residual_bits)
        pos_q = Q.fake_quant(pos[1:], pos_fmt)
        e = self._requant("embed", acc + pos_q.to(torch.float64), images.dtype)
        cls_q = self._requant("embed", cls, cls.dtype)
        if self._tracer is not None:
            w_fmt, wi, b_fmt, bi = self._trace_params(conv, img_q)
            self._trace("patch_embed", in_fmt=self.input_fmt, w_fmt=w_fmt, b_fmt=b_fmt, out_fmt=out,
                        residual_fmt=pos_fmt, weight=wi, bias=bi)
        self._trace("embed", pos_fmt=pos_fmt, pos=pos_fmt.to_int(pos[1:].detach()), cls=out.to_int(cls.detach()), out_fmt=out)
        self._out("patch_embed", e, out)
        return self._out("embed", torch.cat([cls_q.expand(b, 1, -1), e], dim=1), out)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Token sequence [B, 1+N, C] after patch embedding, class token and position embedding
        (on the grid of the ``embed`` format)."""
        return self._embed(images).v

    # --- encoder block ---------------------------------------------------------------------
    def _block(self, i: int, x: _A, key_policy: Optional[torch.Tensor]) -> _A:
        blk, pre = self.blocks[i], f"blocks.{i}."
        b, t, c = x.v.shape
        nh, dh = self.cfg.num_heads, self.cfg.head_dim
        h = self._ln(pre + "norm1", x, blk.norm1)

        def heads(a: _A) -> _A:
            return _A(a.v.reshape(b, t, nh, dh).transpose(1, 2), a.fmt)

        q = heads(self._linear(pre + "attn.q", h))
        k = heads(self._linear(pre + "attn.k", h))
        v = heads(self._linear(pre + "attn.v", h))
        mask = None
        if key_policy is not None:
            eye = torch.eye(t, dtype=x.v.dtype, device=x.v.device)
            mask = key_policy[:, None, None, :] * (1.0 - eye) + eye
        if self._float_mode:
            s = self._out(pre + "attn.scores", q.v @ k.v.transpose(-2, -1), None)
            if mask is None:
                p = s.v.softmax(-1)
            else:
                p = s.v.masked_fill(mask <= 0.5, float("-inf")).softmax(-1)
            p = self._out(pre + "attn.softmax", p, None)
            o = self._out(pre + "attn.context", p.v @ v.v, None)
        else:
            s_fmt, c_fmt, p_fmt = self._fmt(pre + "attn.scores"), self._fmt(pre + "attn.context"), self.prob_fmt
            # Q @ K^T and P @ V: exact float64 products of on-grid values, requantised by the
            # points' QuantIdentity (= intops.int_attention_scores / int_attention_context)
            dt = x.v.dtype
            s_acc = torch.matmul(q.v.to(torch.float64), k.v.to(torch.float64).transpose(-1, -2))
            s = self._out(pre + "attn.scores", self._requant(pre + "attn.scores", s_acc, dt), s_fmt)
            pv = Q.q_softmax(s.v, in_fmt=s_fmt, prob_fmt=p_fmt, exp_frac=self.qcfg.exp_frac, mask=mask)
            p = self._out(pre + "attn.softmax", pv, p_fmt)
            o_acc = torch.matmul(p.v.to(torch.float64), v.v.to(torch.float64))
            o = self._out(pre + "attn.context", self._requant(pre + "attn.context", o_acc, dt), c_fmt)
            self._trace(pre + "attn", q_fmt=q.fmt, k_fmt=k.fmt, v_fmt=v.fmt, score_fmt=s_fmt, prob_fmt=p_fmt, context_fmt=c_fmt)
        o = _A(o.v.transpose(1, 2).reshape(b, t, c), o.fmt, o.point)
        x = self._linear(pre + "attn.proj", o, residual=x)
        h = self._ln(pre + "norm2", x, blk.norm2)
        a = self._table(pre + "mlp.gelu", "gelu", self._linear(pre + "mlp.fc1", h))
        return self._linear(pre + "mlp.fc2", a, residual=x)

    # --- token selector ---------------------------------------------------------------------
    def _selector(self, st: int, x: _A, alive: Optional[torch.Tensor]):
        """Scores the patch tokens ``x`` [B,N,C] (``alive`` [B,N] float or None = all).

        Returns (w, delta, z, score, p): head weights [B,N,H], logit differences [B,N,H]
        (activations), the integer keep score ``z`` [B,N] (int64, None in float mode), the
        real keep score [B,N] and the keep probability [B,N] (float)."""
        sel, pre = self.selectors[st], f"selectors.{st}."
        b, n, c = x.v.shape
        nh, dh = self.cfg.num_heads, self.cfg.head_dim
        half = dh // 2
        # head weights (SE): per-head channel mean -> Linear -> GELU -> Linear -> Sigmoid
        if self._float_mode:
            u = self._out(pre + "head_mean", x.v.reshape(b, n, nh, dh).mean(-1), None)
        else:
            u_fmt = self._fmt(pre + "head_mean")
            u = self._out(pre + "head_mean", Q.q_head_mean(x.v, num_heads=nh, in_fmt=x.fmt, out_fmt=u_fmt), u_fmt)
            self._trace(pre + "head_mean", in_fmt=x.fmt, out_fmt=u_fmt)
        a = self._table(pre + "head_gelu", "gelu", self._linear(pre + "head_fc1", u))
        w = self._table(pre + "head_w", "sigmoid", self._linear(pre + "head_fc2", a), out_fmt=self.sel_prob_fmt)
        # per-head scores (one MLP shared by the heads)
        xh = _A(x.v.reshape(b, n, nh, dh), x.fmt)
        f = self._table(pre + "in_gelu", "gelu", self._linear(pre + "in_fc", self._ln(pre + "norm", xh, sel.norm)))
        local, glob = f.v[..., :half], f.v[..., half:].transpose(1, 2)  # glob [B,H,N,d/2]
        live = None if alive is None else alive[:, None, :].expand(b, nh, n)
        if self._float_mode:
            if live is None:
                g = glob.mean(-2)
            else:
                g = (glob * live[..., None]).sum(-2) / live.sum(-1, keepdim=True).clamp(min=1)
        else:
            g = Q.q_token_mean(glob, in_fmt=f.fmt, out_fmt=f.fmt, live=live)
        g = self._out(pre + "global", g, f.fmt)  # [B,H,d/2]
        z_in = _A(torch.cat([local, g.v[:, None].expand(b, n, nh, half)], dim=-1), f.fmt, f.point)
        a = self._table(pre + "out_gelu1", "gelu", self._linear(pre + "out_fc1", z_in))
        a = self._table(pre + "out_gelu2", "gelu", self._linear(pre + "out_fc2", a))
        delta = self._delta(st, a)
        if self._float_mode:
            score = (w.v * delta.v).sum(-1)
            p = (w.v * torch.sigmoid(delta.v)).sum(-1) / w.v.sum(-1)
            self._out(pre + "score", score, None)
            return w, delta, None, score, self._out(pre + "keep_prob", p, None).v
        zf = w.fmt.frac + delta.fmt.frac
        with torch.no_grad():
            z = (w.fmt.to_int(w.v) * delta.fmt.to_int(delta.v)).sum(-1)
        score = z.to(x.v.dtype) * (2.0 ** (-zf))
        pf = self.sel_prob_fmt
        p = Q.q_keep_prob(w.v, delta.v, w_fmt=w.fmt, delta_fmt=delta.fmt, sig_fmt=pf, out_fmt=pf)
        self._trace(pre + "keep", w_fmt=w.fmt, delta_fmt=delta.fmt, sig_fmt=pf, p_fmt=pf, score_frac=zf)
        return w, delta, z, score, self._out(pre + "keep_prob", p, pf).v

    def _delta(self, st: int, a: _A) -> _A:
        """``delta = s_keep - s_prune``: the difference of the two rows of ``out_fc3`` taken in
        the accumulator (an int9 weight row ``w_keep - w_prune``, bias ``b_keep - b_prune``)."""
        lin, name = self.selectors[st].out_fc3, f"selectors.{st}.delta"
        if self._float_mode:
            s = F.linear(a.v, lin.weight, lin.bias)
            return self._out(name, s[..., 0] - s[..., 1], None)
        out = self._fmt(name)
        # the Brevitas layer quantises both rows (int8, one format); the difference of the two
        # exact float64 accumulators is the accumulator of the int9 row w_keep - w_prune with
        # bias b_keep - b_prune (acc_bits + 1), rounded once
        acc, aq = self._brevitas_linear(lin, a)
        y = self._requant(name, acc[..., 0] - acc[..., 1], a.v.dtype)
        if self._tracer is not None:
            w_fmt, wi, b_fmt, bi = self._trace_params(lin, aq)
            self._trace(name, in_fmt=a.fmt, w_fmt=FixedFormat(w_fmt.bits + 1, w_fmt.frac),
                        b_fmt=FixedFormat(b_fmt.bits + 1, b_fmt.frac), out_fmt=out,
                        residual_fmt=None, weight=(wi[0] - wi[1])[None], bias=(bi[0] - bi[1])[None])
        return self._out(name, y, out)

    def _package(self, st: int, x: _A, pruned: torch.Tensor, p: torch.Tensor) -> _A:
        """Package token [B,1,C] of the tokens ``pruned`` (float [B,N]) weighted by ``p``."""
        name = f"selectors.{st}.package"
        if self._float_mode:
            weight = pruned * p
            total = weight.sum(1)[:, None, None]
            num = (weight[:, :, None] * x.v).sum(1, keepdim=True)
            y = torch.where(total > 0, num / total.clamp(min=torch.finfo(x.v.dtype).tiny), torch.zeros_like(num))
            return self._out(name, y, None)
        y = Q.q_package_token(x.v, p, x_fmt=x.fmt, p_fmt=self.sel_prob_fmt, pruned=pruned)
        return self._out(name, y[:, None], x.fmt)

    def _decide(self, st, decision, w, delta, z, score, alive, generator) -> torch.Tensor:
        """Keep decisions [B,N] in {0,1} (float; straight-through gradients for gumbel)."""
        if decision == "gumbel":
            # two-class logits (delta, 0) have the log-softmax of (s_keep, s_prune); quantised
            # head weights may all be 0: then the heads count equally (as in int_keep_prob)
            s = torch.stack([delta.v, torch.zeros_like(delta.v)], dim=-1)
            wg = w.v + (w.v.sum(-1, keepdim=True) <= 0).to(w.v.dtype)
            return gumbel_keep(wg, s, generator) * alive
        if decision == "threshold":
            if z is None:
                return (score >= self.tau[st]).to(score.dtype) * alive
            tau_int = intops.tau_to_int(self.tau[st], w.fmt.frac + delta.fmt.frac)
            return (z >= tau_int).to(score.dtype) * alive
        if decision == "topk":
            k = self.topk_count(st)
            if z is None:
                return topk_keep(score, alive, k)
            return intops.topk_decision(z, k, alive > 0.5).to(score.dtype)
        raise ValueError(f"decision must be one of {DECISION_MODES}, got {decision!r}")

    # --- forward passes ----------------------------------------------------------------------
    def forward(
        self,
        images: torch.Tensor,
        decision: str | None = None,
        generator: torch.Generator | None = None,
    ) -> SPViTOutput:
        """Batched fake-quant forward with keep masks (see :meth:`SPViT.forward`).

        Pruned tokens stay in the tensor and are excluded from every attention key set
        (integer masked softmax), from the selector's global mean and from later package
        tokens; the live tokens get exactly the integers of the physical forward."""
        if decision is None:
            decision = "gumbel" if self.training else self.decision
        cfg = self.cfg
        x = self._embed(images)
        b, n = x.v.shape[0], cfg.num_patches
        alive = x.v.new_ones(b, n)
        stages: list[StageTrace] = []
        for i in range(cfg.depth):
            if len(stages) < cfg.num_stages and cfg.selector_blocks[len(stages)] == i:
                st = len(stages)
                patches = _A(x.v[:, 1 : 1 + n], x.fmt)
                w, delta, z, score, p = self._selector(st, patches, alive)
                keep = self._decide(st, decision, w, delta, z, score, alive, generator)
                pkg = self._package(st, patches, alive - keep, p)
                x = _A(torch.cat([x.v, pkg.v], dim=1), x.fmt)
                stages.append(StageTrace(alive, keep, p, score))
                alive = keep
            key_policy = None
            if stages:
                key_policy = torch.cat([alive.new_ones(b, 1), alive, alive.new_ones(b, len(stages))], dim=1)
            x = self._block(i, x, key_policy)
        x = self._ln("norm", x, self.norm)
        return SPViTOutput(self._head_linear(_A(x.v[:, 0], x.fmt, x.point)), x.v, alive, stages)

    @torch.no_grad()
    def forward_physical(self, image: torch.Tensor, decision: str | None = None) -> PhysicalOutput:
        """One image [C,H,W], pruned tokens physically removed (the hardware semantics)."""
        decision = decision or self.decision
        if decision == "gumbel":
            raise ValueError("physical removal is for deterministic decisions (threshold or topk)")
        cfg = self.cfg
        x = self._embed(image[None])
        idx = torch.arange(cfg.num_patches)
        kept_indices: list[list[int]] = []
        counts: list[int] = []
        for i in range(cfg.depth):
            st = len(kept_indices)
            if st < cfg.num_stages and cfg.selector_blocks[st] == i:
                m = idx.numel()
                patches = _A(x.v[:, 1 : 1 + m], x.fmt)
                w, delta, z, score, p = self._selector(st, patches, None)
                alive = score.new_ones(1, m)
                keep = self._decide(st, decision, w, delta, z, score, alive, None)[0] > 0.5
                pkg = self._package(st, patches, (~keep).to(x.v.dtype)[None], p)
                x = _A(torch.cat([x.v[:, :1], patches.v[:, keep], x.v[:, 1 + m :], pkg.v], dim=1), x.fmt)
                idx = idx[keep]
                kept_indices.append(idx.tolist())
            counts.append(int(x.v.shape[1]))
            x = self._block(i, x, None)
        cls = self._ln("norm", _A(x.v[:, :1], x.fmt), self.norm)
        return PhysicalOutput(self._head_linear(_A(cls.v[0, 0], cls.fmt, cls.point)), kept_indices, counts)

    # --- integer view ---------------------------------------------------------------------------
    def logits_frac(self) -> int:
        """Frac of the classifier accumulator: ``logits_int = logits * 2**logits_frac()``."""
        w, _ = self.linear_params("head")
        return self._fmt("norm").frac + self.weight_format(w).frac

    @torch.no_grad()
    def trace_ops(self) -> dict[str, dict[str, Any]]:
        """Formats and integer parameters of every op, exactly as the forward uses them
        (recorded while running the physical forward on a blank image)."""
        self._tracer = {}
        try:
            img = torch.zeros(self.cfg.in_chans, self.cfg.img_size, self.cfg.img_size)
            self.forward_physical(img, decision="topk" if self.cfg.prunes else None)
            return self._tracer
        finally:
            self._tracer = None

    # --- calibration ------------------------------------------------------------------------------
    @torch.no_grad()
    def calibrate(self, images: torch.Tensor, decision: str | None = None) -> dict[str, FixedFormat]:
        """Choose and freeze the activation formats from float statistics.

        Runs the *float* model (this model's parameters, float ops, float decisions with
        ``tau`` / top-k) one image at a time with pruned tokens physically removed, records
        each image's max |x| at every activation point, takes the ``calib_percentile``
        percentile over the images (100 = max) and picks :func:`fit_format` of that value
        (``act_bits`` or ``residual_bits`` wide).  A point that never saw a value (e.g. a
        selector after everything was pruned) gets ``frac = bits - 1``.
        """
        if images.ndim != 4 or images.shape[0] == 0:
            raise UserError(f"calibration needs a non-empty image batch [B,C,H,W], got {tuple(images.shape)}")
        was_training = self.training
        self.eval()
        stats: dict[str, list[float]] = {}

        def record(name: str, y: torch.Tensor, fmt) -> None:
            if y.numel():
                stats.setdefault(name, []).append(float(y.detach().abs().max()))

        self._float_mode, self._hook = True, record
        try:
            for img in images:
                self.forward_physical(img, decision=decision)
        finally:
            self._float_mode, self._hook = False, None
            self.train(was_training)
        formats = {}
        pct = self.qcfg.calib_percentile
        for name, kind in activation_points(self.cfg).items():
            bits = self.qcfg.residual_bits if kind == "residual" else self.qcfg.act_bits
            vals = stats.get(name, [])
            m = 0.0
            if vals:
                t = torch.tensor(vals, dtype=torch.float64)
                m = float(t.max()) if pct >= 100.0 else float(torch.quantile(t, pct / 100.0))
            formats[name] = fit_format(m, bits)
        self.set_formats(formats)
        return dict(self.formats)

    @torch.no_grad()
    def float_forward_physical(self, image: torch.Tensor, decision: str | None = None) -> PhysicalOutput:
        """The float model (no quantisation) on one image, physical removal (for comparisons)."""
        self._float_mode = True
        try:
            return self.forward_physical(image, decision=decision)
        finally:
            self._float_mode = False


# --------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------


def infer_input_format(images: torch.Tensor, qcfg: QuantConfig) -> FixedFormat:
    """``qcfg.input_fmt`` after checking that the images lie exactly on its grid and range."""
    fmt = qcfg.input_fmt
    x = images.to(torch.float64) * 2.0**fmt.frac
    if not torch.equal(x, torch.round(x)):
        raise UserError(
            f"calibration images are not multiples of 2^-{fmt.frac}; set QuantConfig.input_frac_bits to the data set's input_frac_bits"
        )
    if x.numel() and (float(x.min()) < fmt.min_int or float(x.max()) > fmt.max_int):
        raise UserError(f"calibration images leave the input range of {fmt} ([{fmt.min_value}, {fmt.max_value}])")
    return fmt


class _ImageSet:
    """Minimal data set over a tensor of images (labels unused) for threshold calibration."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images
        self.labels = torch.zeros(images.shape[0], dtype=torch.int64)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def quantize_model(
    float_model: SPViT,
    calib_images: torch.Tensor,
    qcfg: QuantConfig,
    *,
    recalibrate_tau: bool = True,
) -> QuantSPViT:
    """Build the fake-quant twin of ``float_model``: same parameters, activation formats
    calibrated on ``calib_images`` [B,C,H,W] (see :meth:`QuantSPViT.calibrate`) and frozen.

    With ``recalibrate_tau`` (default) and selectors present, the thresholds are recalibrated on
    the integer keep scores of ``calib_images`` (``evaluation.calibrate_thresholds`` with the
    config's keep ratios); otherwise the float model's ``tau`` (same unit) is kept.
    """
    infer_input_format(calib_images, qcfg)
    q = QuantSPViT(float_model.cfg, qcfg)
    q.load_state_dict(float_model.state_dict())
    q.decision = float_model.decision
    q.calibrate(calib_images)
    q.eval()
    if recalibrate_tau and q.cfg.prunes:
        from ..nn.evaluation import calibrate_thresholds

        calibrate_thresholds(q, _ImageSet(calib_images))
    return q


# --------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def saturation_report(qmodel: QuantSPViT, images: torch.Tensor, decision: str | None = None) -> dict[str, float]:
    """Fraction of elements at the limits of their format, per activation point (physical
    forward on each image).  Re-check after QAT: frozen formats can saturate once weights move."""
    hits: dict[str, list[int]] = {}
    points = activation_points(qmodel.cfg)

    def count(name: str, y: torch.Tensor, fmt) -> None:
        if fmt is None or name not in points or not y.numel():
            return
        q = fmt.to_int(y)
        h = hits.setdefault(name, [0, 0])
        h[0] += int(((q == fmt.min_int) | (q == fmt.max_int)).sum())
        h[1] += q.numel()

    qmodel._hook = count
    try:
        for img in images:
            qmodel.forward_physical(img, decision=decision)
    finally:
        qmodel._hook = None
    return {k: (v[0] / v[1] if v[1] else 0.0) for k, v in hits.items()}


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------

QUANT_CHECKPOINT_KEY = "quant"


def save_quant_checkpoint(path: str | os.PathLike, qmodel: QuantSPViT, dataset: dict | None = None, **meta: Any) -> None:
    """Like :func:`spvit_fpga.nn.checkpoint.save_checkpoint` plus a ``"quant"`` section
    (``QuantConfig`` and the frozen activation formats).  Written atomically."""
    if not qmodel.calibrated:
        raise UserError("refusing to save an uncalibrated QuantSPViT; build it with quantize_model()")
    save_checkpoint(path, qmodel, dataset, sections={QUANT_CHECKPOINT_KEY: qmodel.quant_state()}, **meta)


def _read_checkpoint_dict(path: Path) -> dict:
    obj = _torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not an spvit_fpga checkpoint (no '{CHECKPOINT_FORMAT}' header)")
    if obj.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint version {obj.get('version')}, this spvit_fpga reads version {CHECKPOINT_VERSION}")
    return obj


def is_quant_checkpoint(path: str | os.PathLike) -> bool:
    return QUANT_CHECKPOINT_KEY in _read_checkpoint_dict(Path(path))


def qat_hint(path: str | os.PathLike) -> str:
    return f"python -m spvit_fpga.train --qat --init {path} --out DIR"


def build_model(ck: Checkpoint) -> SPViT:
    """The model a loaded checkpoint describes: a :class:`QuantSPViT` with its frozen formats for a
    quantised checkpoint, the float :class:`SPViT` otherwise (eval mode, weights loaded)."""
    if not ck.is_quantized:
        return ck.build_float_model()
    model = QuantSPViT.from_quant_state(ck.config, ck.quant)
    model.load_state_dict(ck.state_dict)
    model.eval()
    return model


def load_quant_checkpoint(path: str | os.PathLike) -> tuple[QuantSPViT, dict, dict]:
    """(model, dataset fingerprint, meta) of a quantised checkpoint; a float-only checkpoint
    raises a :class:`UserError` that says to run QAT first."""
    path = Path(path)
    obj = _read_checkpoint_dict(path)
    if QUANT_CHECKPOINT_KEY not in obj:
        raise UserError(f"{path} is a float checkpoint without quantisation; run QAT first: {qat_hint(path)}")
    cfg = ModelConfig.from_dict(obj["config"])
    model = QuantSPViT.from_quant_state(cfg, obj[QUANT_CHECKPOINT_KEY])
    check_state_dict(model.state_dict(), obj["state_dict"], str(path))
    model.load_state_dict(obj["state_dict"])
    model.eval()
    return model, obj.get("dataset", {}), obj.get("meta", {})
