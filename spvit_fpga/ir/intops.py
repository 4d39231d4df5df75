"""The integer arithmetic of every operator of the soft-pruned ViT, defined once.

Every function here takes and returns integer torch tensors (int64 internally; int32 inputs
are accepted) and uses only operations a fixed-point datapath has: shifts, integer multiply and
add, integer comparison, exact integer division with a stated rounding rule and small lookup
tables whose contents are built once, deterministically, and stored as integers.  The HLS C++
kernels and the SystemVerilog modules implement exactly these definitions; the QAT modules
(:mod:`spvit_fpga.quant.qat_ops`) use them as their forward pass.  The specification for hardware
engineers is ``docs/integer_arithmetic.md``; names and symbols there match this file.

Conventions
-----------
* A fixed-point tensor is an integer ``q`` with a :class:`FixedFormat` ``(bits, frac, signed)``;
  its real value is ``q * 2**-frac``.  All scales are powers of two.
* One rounding rule everywhere: round to nearest, ties to even (``torch.round``, HLS
  ``AP_RND_CONV``).  This holds for right shifts (:func:`round_shift`) and for divisions
  (:func:`int_rounded_div`); a division by ``2**s`` equals a right shift by ``s``.
* One overflow rule everywhere: saturate to the target format (HLS ``AP_SAT``).
* Accumulators are exact (sized by :func:`accumulator_bits` so they cannot overflow).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import torch

__all__ = [
    "FixedFormat",
    "DEFAULT_ACT_BITS",
    "DEFAULT_WEIGHT_BITS",
    "DEFAULT_RESIDUAL_BITS",
    "DEFAULT_ACC_BITS",
    "DEFAULT_PROB_BITS",
    "DEFAULT_EXP_FRAC",
    "DEFAULT_RSQRT_MANT_BITS",
    "DEFAULT_RSQRT_TABLE_BITS",
    "DEFAULT_NORM_FMT",
    "prob_format",
    "signed_bits_for_range",
    "unsigned_bits_for_max",
    "accumulator_bits",
    "round_shift",
    "saturate",
    "requantize",
    "int_rounded_div",
    "int_matmul",
    "int_linear",
    "int_attention_scores",
    "int_attention_context",
    "int_add",
    "exp_table",
    "exp_table_entries",
    "int_softmax",
    "gelu_table",
    "sigmoid_table",
    "table_lookup",
    "int_gelu",
    "int_sigmoid",
    "LayerNormParams",
    "rsqrt_table",
    "layernorm_params",
    "int_layernorm_normalize",
    "int_layernorm",
    "int_head_mean",
    "int_token_mean",
    "int_keep_prob",
    "keep_decision",
    "tau_to_int",
    "topk_decision",
    "keep_decision_bits",
    "int_package_token",
]

IntTensor = torch.Tensor
Shift = Union[int, torch.Tensor]

# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------

DEFAULT_ACT_BITS = 8
"""Activations entering a multiplier (linear inputs, Q, K, V, scores, GELU/sigmoid inputs)."""
DEFAULT_WEIGHT_BITS = 8
DEFAULT_RESIDUAL_BITS = 16
"""Residual stream (block inputs/outputs, LayerNorm inputs, token selector and package token)."""
DEFAULT_ACC_BITS = 32
"""Accumulator / bias register width used by the default hardware (proved sufficient by
:func:`accumulator_bits` for every int8 x int8 layer with fan-in <= 2**16 and a bias of
at most 30 bits: 2**16 * 2**14 + 2**29 < 2**31)."""
DEFAULT_PROB_BITS = 8
"""Softmax probabilities: unsigned, ``frac == bits`` (8 or 10)."""
DEFAULT_EXP_FRAC = 15
"""Softmax exp table: entries are ``round(2**15 * exp(-k * 2**-f_in))``, i.e. unsigned 16 bit."""
DEFAULT_RSQRT_MANT_BITS = 10
"""LayerNorm: mantissa width of the variance; rsqrt table has ``3 * 2**(M-2)`` = 768 entries."""
DEFAULT_RSQRT_TABLE_BITS = 16
"""LayerNorm: rsqrt table entries are unsigned 16 bit."""


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format: ``bits`` wide, ``frac`` fractional bits, two's complement if signed.

    ``frac`` may be negative or larger than ``bits`` (it is only the power-of-two scale).  The
    HLS type is ``ap_fixed<bits, bits-frac, AP_RND_CONV, AP_SAT>`` (``ap_ufixed`` if unsigned).
    """

    bits: int
    frac: int
    signed: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or not isinstance(self.frac, int):
            raise TypeError("FixedFormat bits and frac must be Python ints")
        if self.bits < 1 or self.bits > 62:
            raise ValueError(f"FixedFormat bits must be in 1..62, got {self.bits}")
        if self.signed and self.bits < 2:
            raise ValueError("a signed FixedFormat needs at least 2 bits")

    # integer range -------------------------------------------------------------------------
    @property
    def min_int(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def num_values(self) -> int:
        return 1 << self.bits

    # real range ----------------------------------------------------------------------------
    @property
    def scale(self) -> float:
        """Value of one LSB, ``2**-frac``."""
        return 2.0 ** (-self.frac)

    @property
    def min_value(self) -> float:
        return self.min_int * self.scale

    @property
    def max_value(self) -> float:
        return self.max_int * self.scale

    @property
    def int_bits(self) -> int:
        """The ``I`` parameter of ``ap_fixed<W, I>`` (integer bits including the sign bit)."""
        return self.bits - self.frac

    def hls_type(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.bits}, {self.int_bits}, AP_RND_CONV, AP_SAT>"

    def with_frac(self, frac: int) -> "FixedFormat":
        return FixedFormat(self.bits, frac, self.signed)

    # conversion ----------------------------------------------------------------------------
    def to_int(self, x: torch.Tensor) -> IntTensor:
        """Quantise a real tensor: ``saturate(round_half_even(x * 2**frac))`` as int64.

        Computed in float64, so it is exact for float32 inputs and for any input already on the
        grid.  Integer inputs are taken as already-quantised integers and only saturated.
        """
        if not torch.is_floating_point(x):
            return saturate(x.to(torch.int64), self)
        y = torch.round(x.to(torch.float64) * (2.0 ** self.frac))
        y = torch.clamp(y, float(self.min_int), float(self.max_int))
        return y.to(torch.int64)

    def to_float(self, q: IntTensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Real value of integers ``q``: ``q * 2**-frac`` in ``dtype``.

        Exact when ``|q| < 2**24`` (float32) or ``2**53`` (float64).
        """
        return q.to(dtype) * (2.0 ** (-self.frac))

    def contains(self, q: IntTensor) -> bool:
        if q.numel() == 0:
            return True
        return bool(q.min().item() >= self.min_int and q.max().item() <= self.max_int)

    @classmethod
    def covering(cls, max_abs: float, bits: int, signed: bool = True) -> "FixedFormat":
        """The format of width ``bits`` with the largest ``frac`` whose range holds ``max_abs``.

        Used for calibration: ``frac = bits - 1 - ceil(log2(max_abs))`` (signed), so that
        ``max_abs <= 2**(bits-1-frac)``; values between ``max_int*2**-frac`` and that bound
        saturate by at most one LSB.
        """
        if max_abs <= 0 or not math.isfinite(max_abs):
            raise ValueError(f"max_abs must be positive and finite, got {max_abs}")
        mag_bits = bits - 1 if signed else bits
        frac = mag_bits - math.ceil(math.log2(max_abs))
        return cls(bits, int(frac), signed)


def prob_format(bits: int = DEFAULT_PROB_BITS) -> FixedFormat:
    """Unsigned probability format with ``frac == bits`` (range ``[0, 1 - 2**-bits]``)."""
    return FixedFormat(bits, bits, signed=False)


DEFAULT_NORM_FMT = FixedFormat(16, 10, True)
"""LayerNorm: the normalised value (x - mean) / std, before gamma/beta (range +-32)."""


# --------------------------------------------------------------------------------------------
# Width helpers (Python integers; used by the docs, the tests and the code generators)
# --------------------------------------------------------------------------------------------


def signed_bits_for_range(lo: int, hi: int) -> int:
    """Smallest two's-complement width W with ``-2**(W-1) <= lo`` and ``hi <= 2**(W-1) - 1``."""
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def unsigned_bits_for_max(hi: int) -> int:
    """Smallest unsigned width W with ``hi <= 2**W - 1`` (at least 1)."""
    return max(1, int(hi).bit_length())


def _int_range(bits: int, signed: bool) -> Tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def accumulator_bits(
    in_bits: int,
    w_bits: int,
    fan_in: int,
    bias_bits: Optional[int] = None,
    *,
    in_signed: bool = True,
    w_signed: bool = True,
) -> int:
    """Signed width that provably holds ``sum_{i<fan_in} x_i * w_i + b`` for all inputs.

    Argument: each product lies in ``[p_lo, p_hi]`` where ``p_lo``/``p_hi`` are the minimum and
    maximum of the four corner products of the input and weight ranges (a product of two
    intervals is extremal at corners).  A sum of ``fan_in`` products lies in
    ``[fan_in*p_lo, fan_in*p_hi]``; adding a bias from its own range widens that interval by the
    bias extremes.  The result is the smallest two's-complement width containing the interval,
    computed with exact Python integers, so no partial sum (in any order) can overflow either:
    every partial sum is a sum of at most ``fan_in`` products plus possibly the bias and lies in
    the same interval (the interval contains 0).

    For signed int8 x int8 the worst case is ``fan_in * (-128) * (-128) = fan_in * 2**14``,
    giving ``15 + ceil(log2(fan_in)) + 1`` bits (e.g. 26 for fan-in 768, 28 for 3072).
    """
    if fan_in < 0:
        raise ValueError("fan_in must be >= 0")
    xl, xh = _int_range(in_bits, in_signed)
    wl, wh = _int_range(w_bits, w_signed)
    corners = [xl * wl, xl * wh, xh * wl, xh * wh]
    lo = fan_in * min(corners + [0])
    hi = fan_in * max(corners + [0])
    if bias_bits is not None:
        bl, bh = _int_range(bias_bits, True)
        lo += bl
        hi += bh
    return signed_bits_for_range(lo, hi)


# --------------------------------------------------------------------------------------------
# Rounding, saturation, division
# --------------------------------------------------------------------------------------------


def _as_int(x: torch.Tensor, name: str = "x") -> IntTensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if torch.is_floating_point(x) or x.dtype == torch.bool or torch.is_complex(x):
        raise TypeError(f"{name} must be an integer tensor, got {x.dtype}")
    return x.to(torch.int64)


def _check_fmt(q: IntTensor, fmt: FixedFormat, name: str) -> None:
    if not fmt.contains(q):
        raise ValueError(
            f"{name} has values outside {fmt} "
            f"([{int(q.min())}, {int(q.max())}] vs [{fmt.min_int}, {fmt.max_int}])"
        )


def round_shift(x: IntTensor, shift: Shift) -> IntTensor:
    """``round_half_even(x / 2**shift)`` for integer ``x``; a plain left shift when shift <= 0.

    ``shift`` is a Python int or an integer tensor broadcastable to ``x`` (per-element shifts,
    used by LayerNorm).  Hardware: ``q = x >> s`` (arithmetic, i.e. floor), ``r = x & (2**s-1)``,
    ``h = 2**(s-1)``; add 1 to ``q`` iff ``r > h`` or (``r == h`` and ``q`` is odd).
    """
    x = _as_int(x)
    if isinstance(shift, torch.Tensor):
        s = _as_int(shift, "shift")
        if s.numel() and (int(s.max()) > 62 or int(s.min()) < -62):
            raise ValueError("shift out of range [-62, 62]")
        pos = s.clamp(min=0)
        neg = (-s).clamp(min=0)
        xl = x * torch.bitwise_left_shift(torch.ones_like(neg), neg)
        div = torch.bitwise_left_shift(torch.ones_like(pos), pos)
        q = torch.div(xl, div, rounding_mode="floor")
        r = xl - q * div
        half = div // 2
        up = (pos > 0) & ((r > half) | ((r == half) & (q % 2 == 1)))
        return q + up.to(torch.int64)
    shift = int(shift)
    if shift <= 0:
        return x * (1 << (-shift))
    if shift > 62:
        raise ValueError("shift must be <= 62")
    # Same rule in four integer ops: with b = bit `shift` of x (the LSB of floor(x / 2**s)),
    # floor((x + 2**(s-1) - 1 + b) / 2**s) rounds up iff r > h, or r == h and b == 1.
    half = 1 << (shift - 1)
    return (x + (half - 1) + ((x >> shift) & 1)) >> shift


def saturate(x: IntTensor, fmt: FixedFormat) -> IntTensor:
    """Clamp integers to ``[fmt.min_int, fmt.max_int]`` (``AP_SAT``)."""
    return _as_int(x).clamp(fmt.min_int, fmt.max_int)


def requantize(acc: IntTensor, shift: Shift, fmt: FixedFormat) -> IntTensor:
    """``saturate(round_shift(acc, shift), fmt)``: accumulator (frac f_acc) to fmt
    (frac ``f_acc - shift``)."""
    return saturate(round_shift(acc, shift), fmt)


def int_rounded_div(num: IntTensor, den: Union[int, IntTensor]) -> IntTensor:
    """The integer nearest to ``num / den``, ties to even; requires ``den > 0``.

    Hardware: ``q0 = floor(num / den)``, ``r = num - q0*den`` (``0 <= r < den``); add 1 to
    ``q0`` iff ``2r > den`` or (``2r == den`` and ``q0`` odd).  The rule is odd-symmetric, so an
    implementation may divide ``|num|`` with an unsigned divider and negate.  For
    ``den == 2**s`` the result equals :func:`round_shift` ``(num, s)``.
    """
    num = _as_int(num, "num")
    den_t = _as_int(torch.as_tensor(den), "den")
    if den_t.numel() and int(den_t.min()) <= 0:
        raise ValueError("int_rounded_div requires den > 0")
    q = torch.div(num, den_t, rounding_mode="floor")
    r = num - q * den_t
    up = (2 * r > den_t) | ((2 * r == den_t) & (q % 2 == 1))
    return q + up.to(torch.int64)


def _scaled_div(num: IntTensor, den: IntTensor, up: int) -> IntTensor:
    """``round_half_even(num * 2**up / den)`` with one rounding (``up`` may be negative)."""
    if up >= 0:
        return int_rounded_div(num * (1 << up), den)
    return int_rounded_div(num, den * (1 << (-up)))


# --------------------------------------------------------------------------------------------
# Linear layers, matrix products, residual add
# --------------------------------------------------------------------------------------------


def _exact_matmul(a: IntTensor, b: IntTensor, use_float64: Optional[bool] = None) -> IntTensor:
    """Exact integer ``a @ b``.  On CPU in int64; on devices without int64 matmul (CUDA) in
    float64, which is exact because every product and partial sum is an integer of magnitude
    ``<= max|a| * max|b| * K < 2**53`` (checked)."""
    if use_float64 is None:
        use_float64 = a.device.type != "cpu"
    if not use_float64:
        return torch.matmul(a, b)
    k = a.shape[-1]
    amax = int(a.abs().max()) if a.numel() else 0
    bmax = int(b.abs().max()) if b.numel() else 0
    if amax * bmax * k >= 2**53:
        raise ValueError("matmul operands too wide for an exact float64 product on this device")
    return torch.matmul(a.to(torch.float64), b.to(torch.float64)).to(torch.int64)


def int_matmul(
    a: IntTensor,
    b: IntTensor,
    *,
    shift: int,
    out_fmt: Optional[FixedFormat],
) -> IntTensor:
    """``requantize(a @ b, shift, out_fmt)`` with an exact integer accumulator.

    If ``out_fmt`` is None the exact accumulator is returned (``shift`` must be 0).
    """
    acc = _exact_matmul(_as_int(a, "a"), _as_int(b, "b"))
    if out_fmt is None:
        if shift != 0:
            raise ValueError("out_fmt=None returns the raw accumulator; shift must be 0")
        return acc
    return requantize(acc, shift, out_fmt)


def int_linear(
    x: IntTensor,
    w: IntTensor,
    b: Optional[IntTensor] = None,
    *,
    shift: int,
    out_fmt: Optional[FixedFormat],
    residual: Optional[IntTensor] = None,
    residual_align: int = 0,
) -> IntTensor:
    """``y = requantize(x @ w.T + b [+ residual * 2**residual_align], shift, out_fmt)``.

    ``x``: (..., in) integers (frac f_x); ``w``: (out, in) (frac f_w); ``b``: (out,) already in
    accumulator precision (frac ``f_x + f_w``).  Output frac is ``f_x + f_w - shift``.
    ``out_fmt=None`` returns the exact accumulator (classifier logits; ``shift`` must be 0).

    Fused residual epilogue (optional): ``residual`` (frac f_r) is added to the accumulator and
    the sum is rounded once.  With ``residual_align = a = f_x + f_w - f_r``: if ``a >= 0`` the
    residual is shifted left by ``a``; if ``a < 0`` the accumulator is shifted left by ``-a``
    instead (exact; the sum then has frac f_r) and the rounding shift grows to ``shift - a``.
    Either way the output frac is ``f_x + f_w - shift``.
    """
    acc = _exact_matmul(_as_int(x, "x"), _as_int(w, "w").transpose(-1, -2))
    if b is not None:
        acc = acc + _as_int(b, "b")
    if residual is not None:
        r = _as_int(residual, "residual")
        if residual_align >= 0:
            acc = acc + r * (1 << residual_align)
        else:
            acc = acc * (1 << (-residual_align)) + r
            shift = shift - residual_align
    if out_fmt is None:
        if shift != 0:
            raise ValueError("out_fmt=None returns the raw accumulator; shift must be 0")
        return acc
    return requantize(acc, shift, out_fmt)


def int_attention_scores(
    q: IntTensor, k: IntTensor, *, shift: int, out_fmt: FixedFormat
) -> IntTensor:
    """Scores ``requantize(Q @ K^T, shift, out_fmt)``; Q, K: (..., N, d_head).

    The softmax scale ``1/sqrt(d_head)`` is folded into the Q projection (weights and bias
    divided by ``sqrt(d_head)`` before quantisation), so no multiplier is needed here.
    """
    return int_matmul(q, _as_int(k, "k").transpose(-1, -2), shift=shift, out_fmt=out_fmt)


def int_attention_context(
    p: IntTensor, v: IntTensor, *, shift: int, out_fmt: FixedFormat
) -> IntTensor:
    """Context ``requantize(P @ V, shift, out_fmt)``; P: (..., N, N) unsigned probabilities
    (frac f_p), V: (..., N, d_head) (frac f_v); shift = f_p + f_v - f_out."""
    return int_matmul(p, v, shift=shift, out_fmt=out_fmt)


def int_add(
    a: IntTensor,
    b: IntTensor,
    *,
    a_frac: int,
    b_frac: int,
    out_fmt: FixedFormat,
) -> IntTensor:
    """Residual add: align both operands to ``F = max(a_frac, b_frac)`` by left shifts, add
    exactly, then ``requantize(sum, F - out_fmt.frac, out_fmt)`` (one rounding, saturate)."""
    a = _as_int(a, "a")
    b = _as_int(b, "b")
    f = max(a_frac, b_frac)
    s = a * (1 << (f - a_frac)) + b * (1 << (f - b_frac))
    return requantize(s, f - out_fmt.frac, out_fmt)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

_MAX_TABLE_IN_BITS = 10


def _rne(v: float) -> int:
    """Round half to even of a finite float to a Python int (Python's round())."""
    return int(round(v))


def _sat_int(v: int, fmt: FixedFormat) -> int:
    return min(max(v, fmt.min_int), fmt.max_int)


def _table_tensor(values) -> IntTensor:
    return torch.tensor(list(values), dtype=torch.int64)


def _check_table_input(in_fmt: FixedFormat) -> None:
    if in_fmt.bits > _MAX_TABLE_IN_BITS:
        raise ValueError(
            f"table inputs are at most {_MAX_TABLE_IN_BITS} bits (1024 entries); got {in_fmt}"
        )


def _gelu_float(v: float) -> float:
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


def _sigmoid_float(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@functools.lru_cache(maxsize=None)
def _function_table(kind: str, in_fmt: FixedFormat, out_fmt: FixedFormat) -> Tuple[int, ...]:
    _check_table_input(in_fmt)
    f = {"gelu": _gelu_float, "sigmoid": _sigmoid_float}[kind]
    vals = []
    for i in range(in_fmt.num_values):
        x = (in_fmt.min_int + i) * in_fmt.scale
        vals.append(_sat_int(_rne(f(x) * (2.0 ** out_fmt.frac)), out_fmt))
    return tuple(vals)


def gelu_table(in_fmt: FixedFormat, out_fmt: FixedFormat) -> IntTensor:
    """GELU table, ``2**in_fmt.bits`` entries; entry ``i`` is for input ``x_q = min_int + i``:

    ``T[i] = sat_out(round_half_even(gelu((min_int + i) * 2**-f_in) * 2**f_out))`` with the exact
    erf GELU, ``gelu(v) = v/2 * (1 + erf(v/sqrt(2)))``, evaluated in float64 once.
    For a signed input the index is the input with its sign bit inverted.
    """
    return _table_tensor(_function_table("gelu", in_fmt, out_fmt))


def sigmoid_table(in_fmt: FixedFormat, out_fmt: FixedFormat) -> IntTensor:
    """Sigmoid table, same layout as :func:`gelu_table`, ``sigmoid(v) = 1 / (1 + exp(-v))``."""
    return _table_tensor(_function_table("sigmoid", in_fmt, out_fmt))


def table_lookup(x: IntTensor, table: IntTensor, in_fmt: FixedFormat) -> IntTensor:
    """``table[x - in_fmt.min_int]`` (input must lie in ``in_fmt``)."""
    x = _as_int(x)
    _check_fmt(x, in_fmt, "table input")
    return table.to(x.device)[x - in_fmt.min_int]


def int_gelu(x: IntTensor, *, in_fmt: FixedFormat, out_fmt: FixedFormat) -> IntTensor:
    """GELU by a ``2**in_bits``-entry table (see :func:`gelu_table`)."""
    return table_lookup(x, gelu_table(in_fmt, out_fmt), in_fmt)


def int_sigmoid(x: IntTensor, *, in_fmt: FixedFormat, out_fmt: FixedFormat) -> IntTensor:
    """Sigmoid by a ``2**in_bits``-entry table (see :func:`sigmoid_table`)."""
    return table_lookup(x, sigmoid_table(in_fmt, out_fmt), in_fmt)


# --------------------------------------------------------------------------------------------
# Softmax
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _exp_table(in_frac: int, entries: int, exp_frac: int) -> Tuple[int, ...]:
    return tuple(_rne(math.exp(-k * 2.0 ** (-in_frac)) * (2.0 ** exp_frac)) for k in range(entries))


def exp_table_entries(in_fmt: FixedFormat) -> int:
    """Number of exp-table entries for scores in ``in_fmt``: ``min(2**bits, 1024)``."""
    return min(in_fmt.num_values, 1 << _MAX_TABLE_IN_BITS)


def exp_table(in_fmt: FixedFormat, exp_frac: int = DEFAULT_EXP_FRAC) -> IntTensor:
    """``E[k] = round_half_even(2**exp_frac * exp(-k * 2**-f_in))`` for ``k = 0 .. n-1``,
    ``n = min(2**in_bits, 1024)``; the index is ``k = min(max_row - x, n - 1)``.

    With int8 scores, ``k`` spans ``0..255`` exactly, so the clamp never acts.  ``E[0] =
    2**exp_frac``; with the default ``exp_frac = 15`` every entry fits unsigned 16 bit.
    """
    return _table_tensor(_exp_table(in_fmt.frac, exp_table_entries(in_fmt), exp_frac))


def int_softmax(
    x: IntTensor,
    *,
    in_fmt: FixedFormat,
    prob_fmt: FixedFormat = prob_format(DEFAULT_PROB_BITS),
    exp_frac: int = DEFAULT_EXP_FRAC,
    dim: int = -1,
    mask: Optional[torch.Tensor] = None,
) -> IntTensor:
    """Integer softmax along ``dim``.

    1. ``m = max_j x_j``; ``k_j = min(m - x_j, n - 1)`` (unsigned, ``n`` = table size).
    2. ``E_j = exp_table[k_j]`` (frac ``exp_frac``); ``S = sum_j E_j`` (``S >= E[0] > 0``).
    3. ``p_j = sat_p(int_rounded_div(E_j * 2**f_p, S))`` (round half to even, saturate).

    ``p`` is unsigned in ``prob_fmt`` (default 8 bits, frac 8).  A row whose mass sits in one
    element gives ``2**f_p`` which saturates to ``2**bits - 1`` when ``frac == bits``.

    ``mask`` (optional, bool, broadcastable to ``x``; only for batched references of pruned
    models, the hardware removes tokens instead): entries with ``mask == False`` take no part in
    the max and the sum and get ``p = 0``.  The allowed entries of a row then get exactly the
    probabilities of the row with the masked entries removed.  A row without allowed entries
    is all 0.
    """
    x = _as_int(x)
    _check_fmt(x, in_fmt, "softmax input")
    if prob_fmt.signed:
        raise ValueError("prob_fmt must be unsigned")
    if x.numel() == 0:
        return x.clone()
    table = exp_table(in_fmt, exp_frac).to(x.device)
    n = table.numel()
    if mask is None:
        m = x.max(dim=dim, keepdim=True).values
        k = (m - x).clamp(max=n - 1)
        e = table[k]
    else:
        allowed = torch.broadcast_to(mask.to(device=x.device, dtype=torch.bool), x.shape)
        m = torch.where(allowed, x, torch.full_like(x, in_fmt.min_int)).max(dim=dim, keepdim=True).values
        k = (m - x).clamp(min=0, max=n - 1)
        e = torch.where(allowed, table[k], torch.zeros_like(x))
    s = e.sum(dim=dim, keepdim=True)
    p = _scaled_div(e, s.clamp(min=1), prob_fmt.frac)
    return saturate(p, prob_fmt)


# --------------------------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerNormParams:
    """Integer constants of one LayerNorm (everything the hardware needs besides gamma/beta).

    ``eps_int = round_half_even(eps * C**3 * 2**(2*f_in))`` is added to ``V = sum d_i**2``.
    ``rsqrt_shift`` (R) and ``table`` define ``T[j] ~ 2**R * sqrt(C) / sqrt(m_j + 1/2)``,
    ``m_j = 2**(M-2) + j`` (M = ``mant_bits``).  Widths are exact worst-case bounds.
    """

    channels: int
    in_fmt: FixedFormat
    eps: float
    eps_int: int
    mant_bits: int
    table_bits: int
    rsqrt_shift: int
    table: Tuple[int, ...]
    norm_fmt: FixedFormat
    sum_bits: int
    dev_bits: int
    var_bits: int

    def table_tensor(self) -> IntTensor:
        return _table_tensor(self.table)


@functools.lru_cache(maxsize=None)
def _rsqrt_table(channels: int, mant_bits: int, table_bits: int) -> Tuple[Tuple[int, ...], int]:
    if mant_bits < 3 or mant_bits > 12:
        raise ValueError("mant_bits must be in 3..12")
    lo = 1 << (mant_bits - 2)
    hi = 1 << mant_bits
    tmax = (1 << table_bits) - 1
    # largest R with every entry <= 2**table_bits - 1 (largest value is at m = lo)
    biggest = math.sqrt(channels) / math.sqrt(lo + 0.5)
    r = int(math.floor(math.log2(tmax / biggest)))
    while _rne(2.0 ** r * biggest) > tmax:
        r -= 1
    while _rne(2.0 ** (r + 1) * biggest) <= tmax:
        r += 1
    vals = tuple(_rne(2.0 ** r * math.sqrt(channels) / math.sqrt(m + 0.5)) for m in range(lo, hi))
    return vals, r


def rsqrt_table(
    channels: int,
    mant_bits: int = DEFAULT_RSQRT_MANT_BITS,
    table_bits: int = DEFAULT_RSQRT_TABLE_BITS,
) -> Tuple[IntTensor, int]:
    """``(T, R)``: ``T[j] = round_half_even(2**R * sqrt(C) / sqrt(2**(M-2) + j + 1/2))`` for
    ``j = 0 .. 3*2**(M-2) - 1``; R is the largest shift with all entries < ``2**table_bits``."""
    vals, r = _rsqrt_table(channels, mant_bits, table_bits)
    return _table_tensor(vals), r


@functools.lru_cache(maxsize=None)
def layernorm_params(
    channels: int,
    in_fmt: FixedFormat,
    eps: float = 1e-6,
    *,
    mant_bits: int = DEFAULT_RSQRT_MANT_BITS,
    table_bits: int = DEFAULT_RSQRT_TABLE_BITS,
    norm_fmt: FixedFormat = DEFAULT_NORM_FMT,
) -> LayerNormParams:
    """Constants and exact register widths for an integer LayerNorm over ``channels``."""
    c = int(channels)
    if c < 1:
        raise ValueError("channels must be >= 1")
    lo, hi = in_fmt.min_int, in_fmt.max_int
    rng = hi - lo
    sum_bits = signed_bits_for_range(c * lo, c * hi)
    dev_bits = signed_bits_for_range(-(c - 1) * rng, (c - 1) * rng)
    # sum_i (C x_i - S)^2 = C^2 * sum_i (x_i - mu)^2 <= C^2 * C * rng^2 / 4
    eps_int = _rne(eps * c ** 3 * 2.0 ** (2 * in_fmt.frac))
    var_max = (c ** 3 * rng * rng) // 4 + eps_int
    var_bits = unsigned_bits_for_max(var_max)
    if var_bits > 62:
        raise ValueError(f"LayerNorm variance needs {var_bits} bits (> 62); narrow the input")
    table, r = _rsqrt_table(c, mant_bits, table_bits)
    return LayerNormParams(
        channels=c,
        in_fmt=in_fmt,
        eps=float(eps),
        eps_int=eps_int,
        mant_bits=mant_bits,
        table_bits=table_bits,
        rsqrt_shift=r,
        table=table,
        norm_fmt=norm_fmt,
        sum_bits=sum_bits,
        dev_bits=dev_bits,
        var_bits=var_bits,
    )


def _bit_length(v: IntTensor) -> IntTensor:
    """Bit length of non-negative int64 values (0 for 0), by comparisons (exact)."""
    powers = torch.tensor([1 << i for i in range(63)], dtype=torch.int64, device=v.device)
    return (v.unsqueeze(-1) >= powers).sum(dim=-1)


def int_layernorm_normalize(x: IntTensor, params: LayerNormParams) -> IntTensor:
    """The normalised value ``n_i ~ (x_i - mean) / sqrt(var + eps)`` in ``params.norm_fmt``.

    1. ``S = sum_i x_i``; ``d_i = C*x_i - S``; ``V = sum_i d_i**2 + eps_int``.
    2. If ``V == 0``: ``n_i = 0``.  Else ``L = bitlen(V)``, ``k = ceil((L - M) / 2)`` (may be
       negative), ``m = V >> 2k`` (``V << -2k`` if k < 0) so ``2**(M-2) <= m < 2**M``.
    3. ``t = T[m - 2**(M-2)]``;
       ``n_i = sat_norm(round_shift(d_i * t, R + k - f_norm))``.
    """
    x = _as_int(x)
    _check_fmt(x, params.in_fmt, "layernorm input")
    c = params.channels
    if x.shape[-1] != c:
        raise ValueError(f"layernorm over {c} channels got last dim {x.shape[-1]}")
    m_bits = params.mant_bits
    s = x.sum(dim=-1, keepdim=True)
    d = c * x - s
    v = (d * d).sum(dim=-1, keepdim=True) + params.eps_int
    length = _bit_length(v)
    k = torch.div(length - m_bits + 1, 2, rounding_mode="floor")
    kpos = k.clamp(min=0)
    kneg = (-k).clamp(min=0)
    mant = torch.where(k >= 0, v >> (2 * kpos), v << (2 * kneg))
    lo = 1 << (m_bits - 2)
    idx = (mant - lo).clamp(0, 3 * lo - 1)  # clamp only matters for V == 0
    t = params.table_tensor().to(x.device)[idx]
    t = torch.where(v == 0, torch.zeros_like(t), t)
    shift = params.rsqrt_shift + k - params.norm_fmt.frac
    n = round_shift(d * t, shift)
    return saturate(n, params.norm_fmt)


def int_layernorm(
    x: IntTensor,
    gamma: IntTensor,
    beta: Optional[IntTensor],
    *,
    in_fmt: FixedFormat,
    gamma_fmt: FixedFormat,
    out_fmt: FixedFormat,
    eps: float = 1e-6,
    mant_bits: int = DEFAULT_RSQRT_MANT_BITS,
    table_bits: int = DEFAULT_RSQRT_TABLE_BITS,
    norm_fmt: FixedFormat = DEFAULT_NORM_FMT,
) -> IntTensor:
    """Integer LayerNorm over the last dim.

    ``n`` from :func:`int_layernorm_normalize` (frac f_n), then
    ``y = requantize(gamma * n + beta, f_g + f_n - f_out, out_fmt)`` where ``gamma`` is in
    ``gamma_fmt`` (frac f_g) and ``beta`` is in accumulator precision (frac ``f_g + f_n``).
    """
    params = layernorm_params(
        int(x.shape[-1]), in_fmt, eps, mant_bits=mant_bits, table_bits=table_bits, norm_fmt=norm_fmt
    )
    n = int_layernorm_normalize(x, params)
    g = _as_int(gamma, "gamma")
    _check_fmt(g, gamma_fmt, "gamma")
    acc = g * n
    if beta is not None:
        acc = acc + _as_int(beta, "beta")
    return requantize(acc, gamma_fmt.frac + norm_fmt.frac - out_fmt.frac, out_fmt)


# --------------------------------------------------------------------------------------------
# Token selector pieces
# --------------------------------------------------------------------------------------------


def int_head_mean(
    x: IntTensor, *, num_heads: int, in_frac: int, out_fmt: FixedFormat
) -> IntTensor:
    """Per-head channel mean (input of the SE head-weight MLP): (..., C) -> (..., H).

    ``u_h = sat_out(int_rounded_div(sum_{c in slice h} x_c * 2**(f_out - f_in), C/H))`` (if
    ``f_out < f_in`` the divisor is multiplied by ``2**(f_in - f_out)`` instead), one rounding.
    """
    x = _as_int(x)
    c = x.shape[-1]
    if c % num_heads:
        raise ValueError(f"{c} channels do not split into {num_heads} heads")
    dh = c // num_heads
    sums = x.reshape(*x.shape[:-1], num_heads, dh).sum(dim=-1)
    return saturate(_scaled_div(sums, torch.tensor(dh, device=x.device), out_fmt.frac - in_frac), out_fmt)


def int_token_mean(
    x: IntTensor,
    *,
    in_frac: int,
    out_fmt: FixedFormat,
    live: Optional[torch.Tensor] = None,
) -> IntTensor:
    """Mean over live tokens (global feature of the selector): (..., N, C) -> (..., C).

    ``g_c = sat_out(int_rounded_div(sum_{j live} x_jc * 2**(f_out - f_in), n_live))``; with
    ``n_live == 0`` the result is 0.  ``live`` is an optional bool mask (..., N); None = all.
    """
    x = _as_int(x)
    if live is None:
        live = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    live = live.to(torch.bool)
    xm = torch.where(live.unsqueeze(-1), x, torch.zeros_like(x))
    total = xm.sum(dim=-2)
    count = live.to(torch.int64).sum(dim=-1, keepdim=True)
    safe = count.clamp(min=1)
    mean = _scaled_div(total, safe, out_fmt.frac - in_frac)
    mean = torch.where(count > 0, mean, torch.zeros_like(mean))
    return saturate(mean, out_fmt)


def int_keep_prob(
    w: IntTensor,
    delta: IntTensor,
    *,
    w_fmt: FixedFormat,
    delta_fmt: FixedFormat,
    sig_fmt: FixedFormat,
    out_fmt: FixedFormat,
) -> IntTensor:
    """Keep probability ``p = sum_h w_h * sigmoid(delta_h) / sum_h w_h`` (package-token weight).

    ``w``: (..., H) unsigned head weights (frac f_w); ``delta = s_keep - s_prune``: (..., H) in
    ``delta_fmt``.  ``sigma_h = int_sigmoid(delta_h)`` in ``sig_fmt`` (softmax of two classes
    = sigmoid of their difference).  ``A = sum_h w_h sigma_h``, ``W = sum_h w_h``;
    ``p = sat_out(int_rounded_div(A * 2**(f_out - f_sig), W))``.  If ``W == 0`` all heads are
    weighted equally: ``p = sat_out(int_rounded_div(sum_h sigma_h * 2**(f_out - f_sig), H))``.
    """
    w = _as_int(w, "w")
    _check_fmt(w, w_fmt, "head weights")
    sig = int_sigmoid(delta, in_fmt=delta_fmt, out_fmt=sig_fmt)
    heads = sig.shape[-1]
    a = (w * sig).sum(dim=-1)
    wsum = w.sum(dim=-1)
    up = out_fmt.frac - sig_fmt.frac
    weighted = _scaled_div(a, wsum.clamp(min=1), up)
    uniform = _scaled_div(sig.sum(dim=-1), torch.tensor(heads, device=sig.device), up)
    return saturate(torch.where(wsum > 0, weighted, uniform), out_fmt)


def keep_decision(w: IntTensor, delta: IntTensor, tau: Union[int, IntTensor]) -> torch.Tensor:
    """Deterministic keep rule: keep iff ``sum_h w_h * delta_h >= tau`` (bool, (...,)).

    ``w`` (frac f_w, unsigned), ``delta`` (frac f_d, signed); ``tau`` is an integer at frac
    ``f_w + f_d`` (a calibrated per-stage constant).  Width: :func:`keep_decision_bits`.
    """
    z = (_as_int(w, "w") * _as_int(delta, "delta")).sum(dim=-1)
    return z >= _as_int(torch.as_tensor(tau), "tau")


def tau_to_int(tau: torch.Tensor | float, frac: int) -> torch.Tensor:
    """Integer threshold ``ceil(tau * 2**frac)`` (int64) of a real threshold ``tau``.

    For an integer score ``z`` with real value ``z * 2**-frac``: ``z * 2**-frac >= tau``
    iff ``z >= ceil(tau * 2**frac)`` (exact: the product by a power of two is exact in
    float64 for float32/float64 ``tau``).  Infinite thresholds are clamped to +-2**62.
    """
    t = torch.as_tensor(tau, dtype=torch.float64) * (2.0 ** frac)
    t = torch.ceil(t).clamp(-(2.0 ** 62), 2.0 ** 62)
    return t.to(torch.int64)


def topk_decision(z: IntTensor, k: int, live: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Fixed-count keep rule: keep the ``k`` live tokens with the largest score ``z`` (bool,
    (..., N)); ties go to the lower token index; all live tokens if fewer than ``k`` are live.

    ``z`` (..., N) integer keep scores in token order (``sum_h w_h * delta_h``); ``live``
    optional bool (..., N), None = all live.  Equivalent definition for hardware: token ``j``
    is kept iff it is live and fewer than ``k`` live tokens ``i`` rank before it, where ``i``
    ranks before ``j`` iff ``z_i > z_j`` or (``z_i == z_j`` and ``i < j``).  Because only the
    relative order of live tokens matters, a physically compacted stream (live tokens only,
    original order) gives the same decisions.
    """
    z = _as_int(z, "z")
    if live is None:
        live = torch.ones(z.shape, dtype=torch.bool, device=z.device)
    live = live.to(torch.bool)
    if k < 0:
        raise ValueError("k must be >= 0")
    n = z.shape[-1]
    if n == 0:
        return torch.zeros(z.shape, dtype=torch.bool, device=z.device)
    # rank = number of live tokens ranking before each token (pairwise, exact, no sort ties)
    zi = z.unsqueeze(-1)  # (..., N, 1): token i (rows)
    zj = z.unsqueeze(-2)  # (..., 1, N): token j (cols)
    idx = torch.arange(n, device=z.device)
    before = (zj > zi) | ((zj == zi) & (idx.view(1, n) < idx.view(n, 1)))  # [i, j]: j before i
    before = before & live.unsqueeze(-2)
    rank = before.to(torch.int64).sum(dim=-1)
    return live & (rank < k)


def keep_decision_bits(w_fmt: FixedFormat, delta_fmt: FixedFormat, num_heads: int) -> int:
    """Signed width of ``sum_h w_h * delta_h`` (and hence of tau)."""
    return accumulator_bits(
        w_fmt.bits, delta_fmt.bits, num_heads, in_signed=w_fmt.signed, w_signed=delta_fmt.signed
    )


def int_package_token(
    x: IntTensor,
    p: IntTensor,
    *,
    pruned: Optional[torch.Tensor] = None,
) -> IntTensor:
    """Package token ``sum_j p_j x_j / sum_j p_j`` over pruned tokens: (..., N, C) -> (..., C).

    ``x``: tokens (frac f_x); ``p``: (..., N) unsigned keep probabilities (frac f_p);
    ``pruned``: bool (..., N), None = every given token is pruned.  With ``A_c = sum p_j x_jc``,
    ``P = sum p_j``, ``n`` = number of pruned tokens:

    * ``P > 0``: ``int_rounded_div(A_c, P)`` (frac f_x; a convex combination, cannot overflow);
    * ``P == 0`` and ``n > 0``: ``int_rounded_div(sum_j x_jc, n)`` (equal weights);
    * ``n == 0`` (nothing pruned): 0.
    """
    x = _as_int(x, "x")
    p = _as_int(p, "p")
    if p.numel() and int(p.min()) < 0:
        raise ValueError("keep probabilities p must be non-negative")
    if pruned is None:
        pruned = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    pruned = pruned.to(torch.bool)
    pm = torch.where(pruned, p, torch.zeros_like(p))
    xm = torch.where(pruned.unsqueeze(-1), x, torch.zeros_like(x))
    a = (pm.unsqueeze(-1) * xm).sum(dim=-2)
    psum = pm.sum(dim=-1, keepdim=True)
    count = pruned.to(torch.int64).sum(dim=-1, keepdim=True)
    weighted = int_rounded_div(a, psum.clamp(min=1))
    uniform = int_rounded_div(xm.sum(dim=-2), count.clamp(min=1))
    out = torch.where(psum > 0, weighted, uniform)
    return torch.where(count > 0, out, torch.zeros_like(out))
