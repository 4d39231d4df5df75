"""Brevitas layers and fixed-point quantizers of the fake-quant SPViT (:mod:`spvit_fpga.quant`).

The QAT forward of :class:`~spvit_fpga.quant.QuantSPViT` runs its linear layers through Brevitas
``QuantLinear`` / ``QuantConv2d`` modules and its requantisations through ``QuantIdentity``
modules, configured so that every value equals the integer model of ``docs/integer_arithmetic.md``
times its power-of-two scale, bit for bit:

* :class:`FixedPointWeightQuant` -- Brevitas' ``Int8WeightPerTensorFixedPoint`` with the
  project's radix-point rule: per tensor, ``scale = 2**-frac`` with ``frac`` the largest one at
  which the largest magnitude rounds without saturating (:func:`fit_format`; Brevitas' own
  ``ceil(log2(max))`` rule can clip a maximum just below a power of two, e.g. 1.0 -> 127/128),
  full (non-narrow) range, any bit width;
* :class:`FixedPointBiasQuant` -- Brevitas' ``Int32Bias`` (scale ``input_scale * weight_scale``,
  i.e. the accumulator's frac) at the accumulator width ``QuantConfig.acc_bits``;
* :class:`FixedPointActQuant` -- Brevitas' ``Int8ActPerTensorFixedPoint`` with a constant scale
  ``2**-frac`` (the frozen, calibrated format of an activation point), any bit width, signed or
  unsigned (input pixels);
* :class:`FixedPointLinear` / :class:`FixedPointConv2d` -- ``QuantLinear`` / ``QuantConv2d``
  with those quantizers whose product is computed in float64, so the accumulator
  ``sum x_int * w_int + b_int`` (times ``2**-(f_x + f_w)``) is exact (``|acc| < 2**53``; a
  float32 product is inexact from ``2**24`` on).  They return the raw accumulator; the caller adds
  a fused residual (exact in float64) and requantises with a :class:`FixedPointIdentity`
  (round half to even, saturate: exactly :func:`spvit_fpga.ir.intops.requantize`);
* :class:`DerivedFixedPointLinear` -- a ``FixedPointLinear`` without parameters of its own whose
  weight and bias are rows of another linear layer's parameters, optionally times a constant
  (the Q / K / V projections are slices of DeiT's fused ``qkv``, with ``1/sqrt(d_head)`` folded
  into Q).  Brevitas quantises the derived tensor, so Q, K and V each get their own format, and
  gradients reach the fused parameter.

Straight-through gradients are Brevitas' own: ``RoundSte`` everywhere, a clamp whose gradient is
zero outside the representable range for activations and biases; the power-of-two scales are
constants (no gradient), as in :mod:`spvit_fpga.quant.qat_ops`.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8WeightPerTensorFixedPoint,
    Int32Bias,
)
from brevitas.quant_tensor import IntQuantTensor, QuantTensor
from torch import Tensor, nn

from ..ir.intops import FixedFormat

__all__ = [
    "fit_format",
    "PowerOfTwoFitScaling",
    "ConstPowerOfTwoScaling",
    "FixedPointWeightQuant",
    "FixedPointBiasQuant",
    "FixedPointActQuant",
    "act_quant_for",
    "FixedPointIdentity",
    "FixedPointLinear",
    "FixedPointConv2d",
    "DerivedFixedPointLinear",
    "quant_format",
    "quant_ints",
    "value_of",
]


def fit_format(max_abs: float, bits: int, signed: bool = True) -> FixedFormat:
    """The ``bits``-wide format with the largest frac in which ``max_abs`` rounds without
    saturating: ``round_half_even(max_abs * 2**frac) <= max_int``.

    This is :meth:`FixedFormat.covering` except when ``max_abs`` lies within half an LSB of the
    next power of two (e.g. a LayerNorm gamma of exactly 1.0), where it takes one frac less.
    A zero (or non-finite) ``max_abs`` gives ``frac = bits - 1`` (signed) / ``bits``.
    """
    if not (max_abs > 0 and math.isfinite(max_abs)):
        return FixedFormat(bits, bits - 1 if signed else bits, signed)
    fmt = FixedFormat.covering(max_abs, bits, signed)
    frac = fmt.frac
    while round(max_abs * 2.0**frac) > fmt.max_int:
        frac -= 1
    return FixedFormat(bits, frac, signed)


# --------------------------------------------------------------------------------------------
# Brevitas scaling implementations (``scaling_impl`` of a ``RescalingIntQuant``)
# --------------------------------------------------------------------------------------------


_POW2_CACHE: dict[tuple[int, torch.dtype, torch.device], Tensor] = {}


def _pow2(frac: int, like: Tensor) -> Tensor:
    """The scalar tensor ``2**-frac`` in ``like``'s float dtype and device (cached: the
    quantizers run at every forward)."""
    dtype = like.dtype if torch.is_floating_point(like) else torch.float32
    key = (frac, dtype, like.device)
    t = _POW2_CACHE.get(key)
    if t is None:
        t = _POW2_CACHE[key] = torch.tensor(2.0 ** (-frac), dtype=dtype, device=like.device)
    return t


class PowerOfTwoFitScaling(nn.Module):
    """Scale ``2**-frac`` of :func:`fit_format` ``(max|x|, bit_width, signed)``, recomputed from
    the tensor at every call; a constant for autograd.  Brevitas passes the integer threshold
    of its ``int_scaling_impl`` as second argument; the scale here is the LSB itself."""

    def __init__(self, bit_width: int, signed: bool) -> None:
        super().__init__()
        self.bits = int(bit_width)
        self.signed = bool(signed)

    def frac(self, x: Tensor) -> int:
        with torch.no_grad():
            m = float(x.detach().abs().max()) if x.numel() else 0.0
        return fit_format(m, self.bits, self.signed).frac

    def forward(self, x: Tensor, threshold: Optional[Tensor] = None) -> Tensor:
        return _pow2(self.frac(x), x)


class ConstPowerOfTwoScaling(nn.Module):
    """Constant scale ``2**-frac`` (a frozen activation format); no state, so nothing is added
    to the model's ``state_dict``."""

    def __init__(self, frac: int) -> None:
        super().__init__()
        self.frac = int(frac)

    def forward(self, x: Tensor, threshold: Optional[Tensor] = None) -> Tensor:
        return _pow2(self.frac, x)

    def extra_repr(self) -> str:
        return f"frac={self.frac}"


# --------------------------------------------------------------------------------------------
# Quantizers (Brevitas injectors)
# --------------------------------------------------------------------------------------------


class FixedPointWeightQuant(Int8WeightPerTensorFixedPoint):
    """Per-tensor fixed-point weights, ``scale = 2**-fit_format(max|w|, bit_width).frac``,
    full signed range (the format's ``min_int`` is never reached: the maximum magnitude does
    not saturate).  Set the width with ``weight_bit_width=``."""

    narrow_range = False
    scaling_impl = PowerOfTwoFitScaling


class FixedPointBiasQuant(Int32Bias):
    """Bias at the accumulator's scale (``input_scale * weight_scale``), round half to even,
    saturating at ``bias_bit_width`` (default 32, ``QuantConfig.acc_bits``)."""


class FixedPointActQuant(Int8ActPerTensorFixedPoint):
    """Constant power-of-two activation quantizer: ``scale = 2**-frac`` with ``frac``,
    ``bit_width`` and ``signed`` given per instance (see :func:`act_quant_for`)."""

    scaling_impl = ConstPowerOfTwoScaling
    narrow_range = False
    frac = 0


def act_quant_for(fmt: FixedFormat) -> Any:
    """The :class:`FixedPointActQuant` injector of a fixed-point format."""
    return FixedPointActQuant.let(bit_width=fmt.bits, frac=fmt.frac, signed=fmt.signed)


class FixedPointIdentity(QuantIdentity):
    """``QuantIdentity`` onto the grid of ``fmt``: ``saturate(round_half_even(x * 2**frac)) *
    2**-frac`` (exact in the input's dtype: the scale is a power of two).  Returns a
    ``QuantTensor`` by default (what a :class:`FixedPointLinear` needs as input)."""

    def __init__(self, fmt: FixedFormat, return_quant_tensor: bool = True) -> None:
        super().__init__(act_quant=act_quant_for(fmt), return_quant_tensor=return_quant_tensor)
        self.fmt = fmt

    def extra_repr(self) -> str:
        return f"fmt={self.fmt}"


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def value_of(t: Union[Tensor, QuantTensor, None]) -> Optional[Tensor]:
    return t.value if isinstance(t, QuantTensor) else t


def _double(t: Union[Tensor, QuantTensor, None]) -> Optional[Tensor]:
    v = value_of(t)
    return None if v is None else v.to(torch.float64)


def _quant_kwargs(weight_bits: int, bias_bits: int) -> dict[str, Any]:
    return dict(
        weight_quant=FixedPointWeightQuant,
        weight_bit_width=int(weight_bits),
        bias_quant=FixedPointBiasQuant,
        bias_bit_width=int(bias_bits),
        return_quant_tensor=False,
    )


class FixedPointLinear(QuantLinear):
    """``QuantLinear`` with :class:`FixedPointWeightQuant` weights and
    :class:`FixedPointBiasQuant` biases, whose product runs in float64 (exact accumulator).

    Call it on a ``QuantTensor`` (the output of a :class:`FixedPointIdentity`): the bias scale is
    the input's scale times the weight's.  Returns the accumulator as a float64 tensor."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        weight_bits: int = 8,
        bias_bits: int = 32,
        device: Optional[torch.device | str] = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device=device, **_quant_kwargs(weight_bits, bias_bits))

    @classmethod
    def wrap(cls, lin: nn.Linear, *, weight_bits: int, bias_bits: int) -> "FixedPointLinear":
        """A FixedPointLinear holding ``lin``'s Parameter objects (same names, no copy)."""
        new = cls(lin.in_features, lin.out_features, lin.bias is not None, weight_bits=weight_bits,
                  bias_bits=bias_bits, device="meta")
        new.weight = lin.weight
        if lin.bias is not None:
            new.bias = lin.bias
        return new

    def inner_forward_impl(self, x: Any, quant_weight: Any, quant_bias: Any) -> Tensor:
        return F.linear(_double(x), _double(quant_weight), _double(quant_bias))


class FixedPointConv2d(QuantConv2d):
    """``QuantConv2d`` counterpart of :class:`FixedPointLinear` (the patch embedding)."""

    @classmethod
    def wrap(cls, conv: nn.Conv2d, *, weight_bits: int, bias_bits: int) -> "FixedPointConv2d":
        if conv.padding_mode != "zeros" or conv.groups != 1:
            raise ValueError("FixedPointConv2d.wrap supports plain zero-padded convolutions")
        new = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, bias=conv.bias is not None, device="meta",
            **_quant_kwargs(weight_bits, bias_bits),
        )
        new.weight = conv.weight
        if conv.bias is not None:
            new.bias = conv.bias
        return new

    def inner_forward_impl(self, x: Any, quant_weight: Any, quant_bias: Any) -> Tensor:
        return F.conv2d(_double(x), _double(quant_weight), _double(quant_bias), self.stride, self.padding, self.dilation)


class DerivedFixedPointLinear(FixedPointLinear):
    """A :class:`FixedPointLinear` whose weight and bias are ``source.weight[rows] * factor`` and
    ``source.bias[rows] * factor`` (``factor=None``: no multiplication), recomputed at every
    access from the source layer's parameters.

    It owns no parameters (nothing in ``state_dict``; the optimiser sees the source's), and holds
    the source layer as a plain reference, not a child module."""

    def __init__(
        self,
        source: nn.Linear,
        rows: tuple[int, int],
        factor: Optional[float] = None,
        *,
        weight_bits: int = 8,
        bias_bits: int = 32,
    ) -> None:
        start, stop = int(rows[0]), int(rows[1])
        super().__init__(source.in_features, stop - start, source.bias is not None, weight_bits=weight_bits,
                         bias_bits=bias_bits, device="meta")
        del self.weight
        if source.bias is not None:
            del self.bias
        self.rows = (start, stop)
        self.factor = factor
        self.__dict__["_source"] = (source,)  # a plain reference: not registered as a child
        # the quantizers were built around the placeholder (meta) parameters: rebuild them
        # around the derived tensors (dtype and device of the source)
        for proxy in (self.weight_quant, self.bias_quant):
            training = proxy.training
            proxy.init_tensor_quant()
            proxy.train(training)

    def _derived(self, name: str) -> Optional[Tensor]:
        t = getattr(self.__dict__["_source"][0], name)
        if t is None:
            return None
        t = t[self.rows[0] : self.rows[1]]
        return t if self.factor is None else t * self.factor

    def __getattr__(self, name: str) -> Any:
        if name in ("weight", "bias") and "_source" in self.__dict__:
            return self._derived(name)
        return super().__getattr__(name)

    def extra_repr(self) -> str:
        f = "" if self.factor is None else f", factor={self.factor!r}"
        return f"{super().extra_repr()}, rows={self.rows}{f}"


# --------------------------------------------------------------------------------------------
# Reading Brevitas quant tensors as fixed-point integers
# --------------------------------------------------------------------------------------------


def quant_format(qt: IntQuantTensor) -> FixedFormat:
    """The :class:`FixedFormat` of a per-tensor power-of-two ``IntQuantTensor``."""
    scale = float(qt.scale.detach().reshape(-1)[0])
    if qt.scale.numel() != 1 and not bool((qt.scale == qt.scale.reshape(-1)[0]).all()):
        raise ValueError("not a per-tensor scale")
    m, e = math.frexp(scale)
    if m != 0.5:
        raise ValueError(f"scale {scale} is not a power of two")
    return FixedFormat(int(round(float(qt.bit_width))), 1 - e, bool(qt.signed))


def quant_ints(qt: IntQuantTensor) -> Tensor:
    """The integers of a power-of-two ``IntQuantTensor`` (int64; checked to be exact)."""
    fmt = quant_format(qt)
    v = qt.value.detach().to(torch.float64) * 2.0**fmt.frac
    q = torch.round(v)
    if not torch.equal(q, v):
        raise ValueError("quant tensor values are not on their grid")
    return q.to(torch.int64)
