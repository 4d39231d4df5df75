"""Memory images of the RTL dataflow design (``rtl/DATAFLOW.md``): weight-bus words of a GEMM
unit (``rtl/spvit_mvau.sv``), its bias ROM and table files.  Pure Python + numpy (no torch).

Weight image of one ``spvit_mvau`` (``PE`` outputs x ``SIMD`` inputs a MAC beat, ``W`` an
``[M, K]`` integer matrix, ``w_bits``-bit two's complement or unsigned lanes):

* the weight RAM has ``ROWS = (M/PE) * (K/SIMD)`` rows; row ``r = g*(K/SIMD) + b`` holds
  ``W[g*PE + p][b*SIMD + s]`` at bits ``[(p*SIMD + s)*w_bits +: w_bits]``;
* a row is :func:`words_per_row` ``= ceil(PE*SIMD*w_bits / wb_bits)`` bus words, little end first,
  the bits above the row in its last word zero; the unit's words are row 0's words, then row 1's,
  ... (:func:`mvau_weight_words`), placed at word index ``WB_BASE`` of ``weights.bin``
  (little-endian ``wb_bits``-bit words, :func:`words_bytes`).

Bias ROM of one ``spvit_mvau`` (:func:`bias_memh`, the ``BIAS_FILE`` parameter): ``M/PE`` lines,
line ``g`` one ``PE*bias_w``-bit hexadecimal word holding ``bias[g*PE + p]`` (two's complement)
at bits ``[p*bias_w +: bias_w]``.

``$readmemh`` text (:func:`memh_text`, :func:`table_memh`): one hexadecimal word a line,
``ceil(width/4)`` digits, two's complement masked to ``width`` bits — the format of
``spvit_fpga.rtl.runner.write_memh``.
"""
from __future__ import annotations

from typing import Iterable, List, Sequence

import numpy as np

__all__ = [
    "words_per_row",
    "mvau_weight_words",
    "words_bytes",
    "memh_text",
    "bias_memh",
    "table_memh",
]


def _ints(values) -> List[int]:
    """Python ints of a flat or nested sequence, numpy array or tensor (anything with ``tolist``)."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    out: List[int] = []
    stack = [iter(values if isinstance(values, (list, tuple)) else list(values))]
    while stack:
        for v in stack[-1]:
            if isinstance(v, (list, tuple)):
                stack.append(iter(v))
                break
            out.append(int(v))
        else:
            stack.pop()
    return out


def _check_fits(vals: Sequence[int], width: int, what: str) -> None:
    lo, hi = -(1 << (width - 1)), (1 << width) - 1
    for v in vals:
        if not lo <= v <= hi:
            raise ValueError(f"{what} value {v} does not fit {width} bits")


def words_per_row(pe: int, simd: int, w_bits: int, wb_bits: int) -> int:
    """Bus words per weight-RAM row: ``ceil(pe*simd*w_bits / wb_bits)``."""
    if min(pe, simd, w_bits, wb_bits) < 1:
        raise ValueError("pe, simd, w_bits and wb_bits must be positive")
    return -(-(pe * simd * w_bits) // wb_bits)


def mvau_weight_words(w, pe: int, simd: int, w_bits: int, wb_bits: int) -> List[int]:
    """The weight-bus words of one ``spvit_mvau`` (``ROWS * WPR`` Python ints, ``wb_bits`` each).

    ``w``: integer array ``[M, K]`` (anything ``numpy.asarray`` takes), every value in
    ``[-2**(w_bits-1), 2**w_bits - 1]`` (stored as ``w_bits``-bit two's complement).
    Word ``r*WPR + j`` is bits ``[j*wb_bits +: wb_bits]`` of row ``r`` (layout in the module doc).
    """
    a = np.asarray(w)
    if a.ndim != 2:
        raise ValueError(f"weight matrix must be [M, K], got shape {a.shape}")
    if a.dtype.kind not in "iu":
        raise TypeError(f"weight matrix must be integers, got {a.dtype}")
    if not 1 <= w_bits <= 62:
        raise ValueError(f"w_bits must be in 1..62, got {w_bits}")
    m, k = a.shape
    if m % pe or k % simd:
        raise ValueError(f"PE={pe} must divide M={m} and SIMD={simd} must divide K={k}")
    a = a.astype(np.int64)
    lo, hi = -(1 << (w_bits - 1)), (1 << w_bits) - 1
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise ValueError(f"weights outside {w_bits} bits: [{int(a.min())}, {int(a.max())}]")
    g, kb = m // pe, k // simd
    rows = g * kb
    wpr = words_per_row(pe, simd, w_bits, wb_bits)
    # [G, PE, KB, SIMD] -> [G, KB, PE, SIMD] -> rows of PE*SIMD lanes (lane p*SIMD + s)
    lanes = a.reshape(g, pe, kb, simd).transpose(0, 2, 1, 3).reshape(rows, pe * simd)
    u = (lanes & ((1 << w_bits) - 1)).astype(np.uint64)
    row_bits = pe * simd * w_bits
    word_bits = -(-wb_bits // 8) * 8  # whole bytes for packbits; the pad is zero
    bits = np.zeros((rows, wpr * wb_bits), dtype=np.uint8)
    view = bits[:, :row_bits].reshape(rows, pe * simd, w_bits)
    for i in range(w_bits):
        view[:, :, i] = ((u >> np.uint64(i)) & np.uint64(1)).astype(np.uint8)
    words = bits.reshape(rows * wpr, wb_bits)
    if word_bits != wb_bits:
        words = np.concatenate([words, np.zeros((rows * wpr, word_bits - wb_bits), np.uint8)], axis=1)
    packed = np.packbits(words, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def words_bytes(words: Iterable[int], wb_bits: int) -> bytes:
    """``wb_bits``-bit words as little-endian bytes (the ``weights.bin`` image; ``wb_bits % 8 == 0``)."""
    if wb_bits % 8:
        raise ValueError(f"the weight image needs whole-byte words, got wb_bits={wb_bits}")
    n = wb_bits // 8
    out = bytearray()
    for v in words:
        v = int(v)
        if not 0 <= v < (1 << wb_bits):
            raise ValueError(f"word {v} does not fit {wb_bits} unsigned bits")
        out += v.to_bytes(n, "little")
    return bytes(out)


def memh_text(values: Iterable[int], width: int) -> str:
    """``$readmemh`` text: one ``width``-bit word a line, two's complement masked, ``ceil(width/4)``
    hex digits (the format of ``spvit_fpga.rtl.runner.write_memh``); values in ``[-2**(width-1), 2**width - 1]``."""
    if width < 1:
        raise ValueError("width must be positive")
    vals = _ints(values)
    _check_fits(vals, width, "memory")
    digits = max(1, (width + 3) // 4)
    mask = (1 << width) - 1
    return "".join(f"{v & mask:0{digits}x}\n" for v in vals)


def bias_memh(bias, pe: int, bias_w: int) -> str:
    """Bias ROM text of one ``spvit_mvau``: ``M/PE`` lines, line ``g`` = the ``PE*bias_w``-bit word
    with ``bias[g*PE + p]`` (two's complement, ``bias_w`` bits) at bits ``[p*bias_w +: bias_w]``."""
    vals = _ints(bias)
    if len(vals) % pe:
        raise ValueError(f"PE={pe} must divide the {len(vals)} biases")
    _check_fits(vals, bias_w, "bias")
    mask = (1 << bias_w) - 1
    words = []
    for g in range(len(vals) // pe):
        word = 0
        for p in range(pe):
            word |= (vals[g * pe + p] & mask) << (p * bias_w)
        words.append(word)
    return memh_text(words, pe * bias_w)


def table_memh(table, width: int) -> str:
    """Table ROM text (``TABLE_FILE``): entry ``i`` (for input ``min_int + i``) on line ``i``."""
    return memh_text(_ints(table), width)


def layernorm_params(lp, *, g_w: int, beta_w: int, out_shift: int, out_w: int, out_signed: bool) -> dict:
    """``spvit_layernorm`` parameters of an ``intops.LayerNormParams`` ``lp`` (the widths intops
    proves, the table's shape) and the affine/output formats; the callers add the file
    parameters (``RSQRT_FILE``, ``GB_FILE``) and the parallelism (``LANES``, ``OVERLAP``)."""
    return dict(
        C=lp.channels, IN_W=lp.in_fmt.bits, SUM_W=lp.sum_bits, DEV_W=lp.dev_bits, VAR_W=lp.var_bits,
        EPS_INT=f"64'd{lp.eps_int}", M=lp.mant_bits, T_W=lp.table_bits, R=lp.rsqrt_shift,
        NORM_W=lp.norm_fmt.bits, NORM_FRAC=lp.norm_fmt.frac, G_W=g_w, BETA_W=beta_w, OUT_SHIFT=out_shift,
        OUT_W=out_w, OUT_SIGNED=int(out_signed),
    )
