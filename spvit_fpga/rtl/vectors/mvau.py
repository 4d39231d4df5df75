"""Test vectors for ``spvit_mvau`` (the dataflow GEMM unit): weight-bus writes, token frames and
the expected output tokens from :mod:`spvit_fpga.ir.intops` (``int_linear`` + ``table_lookup``).

The weight words, the bias ROM and the table file come from :mod:`spvit_fpga.rtl.pack`
(the generator's packing), so a passing run checks the packing against the RTL as well.
Same conventions as :mod:`spvit_fpga.rtl.vectors.kernels`: :func:`mvau_vectors` returns ``(parameters,
vectors)``; the vectors hold ``inputs`` / ``outputs`` / ``lanes`` for
:func:`rtl_sim.streams.drive_and_check` plus ``writes`` (``[[addr, data], ...]``: the unit's
words in image order, then words outside its range for the testbench to mix in) and the
expected full-rate timing (``rows``, ``kb``).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ...ir import intops
from ...ir.intops import FixedFormat
from .. import pack as rtlpack
from ..bits import pack
from ..runner import sv_string, write_memh_text
from .kernels import Params, Vectors


def _range(bits: int, signed: bool) -> Tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def memh_file(text: str, name: str) -> Path:
    """``$readmemh`` text at a content-addressed path (the runner's memory-file folder)."""
    return write_memh_text(text, name)


def mvau_vectors(
    *,
    k: int = 16,
    m: int = 8,
    pe: int = 4,
    simd: int = 8,
    x_bits: int = 8,
    x_signed: bool = True,
    w_bits: int = 8,
    w_signed: bool = True,
    bias_bits: Optional[int] = 32,          # None: no bias
    res: Optional[Tuple[int, int]] = None,  # (RES_W, RES_ALIGN) of a fused residual
    shift: int = 8,
    out_fmt: Optional[FixedFormat] = FixedFormat(8, 4),  # None: raw accumulator (classifier)
    table: Optional[str] = None,            # "gelu" / "sigmoid"
    table_fmt: FixedFormat = FixedFormat(8, 4),
    wb_bits: int = 64,
    wb_base: int = 37,
    frames: Sequence[int] = (1, 4, 9),
    seed: int = 0,
) -> Tuple[Params, Vectors]:
    """Random layer with saturation-heavy content: rows of all-min / all-max weights, tokens of
    all-min / all-max activations, biases at the ``bias_bits`` limits, residuals at the limits;
    frames of ``frames`` tokens (kind 0 first, then 1/2 at random; tlast on each frame's last)."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    n_tok = sum(frames)
    xlo, xhi = _range(x_bits, x_signed)
    wlo, whi = _range(w_bits, w_signed)

    w = torch.randint(wlo, whi + 1, (m, k), generator=gen)
    w[0] = whi
    if m > 1:
        w[-1] = wlo
    x = torch.randint(xlo, xhi + 1, (n_tok, k), generator=gen)
    x[min(1, n_tok - 1)] = xhi
    x[min(2, n_tok - 1)] = xlo
    if n_tok > 4:
        x[3] = torch.where(torch.rand(k, generator=gen) < 0.5, xlo, xhi)

    b = None
    if bias_bits is not None:
        blo, bhi = _range(bias_bits, True)
        span = 1 << max(shift + 6, 8)
        b = torch.randint(max(blo, -span), min(bhi, span) + 1, (m,), generator=gen)
        if m >= 2:
            b[0], b[-1] = bhi, blo
        elif rng.random() < 0.5:  # one output: an in-range value that still needs all the bits
            b[0] = blo + rng.randint(0, 1000)
        else:
            b[0] = bhi - rng.randint(0, 1000)
    r = None
    res_w, res_align = res if res else (16, 0)
    if res:
        rlo, rhi = _range(res_w, True)
        r = torch.randint(rlo, rhi + 1, (n_tok, m), generator=gen)
        r[0] = rhi
        if n_tok > 1:
            r[-1] = rlo

    raw = out_fmt is None
    if raw:
        acc_w = intops.accumulator_bits(x_bits, w_bits, k, bias_bits, in_signed=x_signed, w_signed=w_signed)
        out_w, out_signed = acc_w, True
        if shift != 0 or res:
            raise ValueError("raw-accumulator mode has SHIFT = 0 and no residual")
    else:
        acc_w = intops.accumulator_bits(x_bits, w_bits, k, in_signed=x_signed, w_signed=w_signed)
        out_w, out_signed = out_fmt.bits, out_fmt.signed

    y = intops.int_linear(x, w, b, shift=shift, out_fmt=out_fmt, residual=r, residual_align=res_align)
    params: Params = dict(
        K=k, M=m, PE=pe, SIMD=simd, X_W=x_bits, X_SIGNED=int(x_signed), W_W=w_bits,
        W_SIGNED=int(w_signed), ACC_W=acc_w, HAS_BIAS=int(b is not None), HAS_RES=int(r is not None),
        SHIFT=shift, OUT_W=out_w, OUT_SIGNED=int(out_signed), HAS_TABLE=int(table is not None),
        WB_W=wb_bits, WB_BASE=wb_base,
    )
    if b is not None:
        params["BIAS_W"] = bias_bits
        params["BIAS_FILE"] = sv_string(memh_file(rtlpack.bias_memh(b.numpy(), pe, bias_bits), "mvau_bias"))
    if r is not None:
        params["RES_W"] = res_w
        params["RES_ALIGN"] = res_align
    y_w, y_signed = out_w, out_signed
    if table:
        builders = {"gelu": intops.gelu_table, "sigmoid": intops.sigmoid_table}
        tab = builders[table](out_fmt, table_fmt)
        y = intops.table_lookup(y, tab, out_fmt)
        params["TABLE_W"] = table_fmt.bits
        params["TABLE_FILE"] = sv_string(memh_file(rtlpack.table_memh(tab.numpy(), table_fmt.bits),
                                                   f"mvau_{table}"))
        y_w, y_signed = table_fmt.bits, table_fmt.signed

    # weight bus: the unit's words (image order), then foreign words (below / above its range)
    words = rtlpack.mvau_weight_words(w.numpy(), pe, simd, w_bits, wb_bits)
    assert len(words) == (m // pe) * (k // simd) * rtlpack.words_per_row(pe, simd, w_bits, wb_bits)
    writes: List[List[int]] = [[wb_base + i, v] for i, v in enumerate(words)]
    end = wb_base + len(words)
    foreign = [end, end + 1, end + rng.randint(2, 5000), (1 << 32) - 1]
    if wb_base > 0:
        foreign += [wb_base - 1, 0, rng.randrange(wb_base)]
    foreign_writes = [[a, rng.getrandbits(wb_bits)] for a in foreign for _ in range(2)]

    kinds: List[int] = []
    lasts: List[int] = []
    for n in frames:
        for t in range(n):
            kinds.append(0 if t == 0 else rng.choice((1, 2)))
            lasts.append(int(t == n - 1))
    inputs: Dict[str, List] = {
        "s_axis_x": [[pack(x[i].tolist(), x_bits), lasts[i], kinds[i]] for i in range(n_tok)]
    }
    if r is not None:
        inputs["s_axis_r"] = [[pack(r[i].tolist(), res_w), 0, 0] for i in range(n_tok)]
    outputs = {"m_axis": [[pack(y[i].tolist(), y_w), lasts[i], kinds[i]] for i in range(n_tok)]}
    vec: Vectors = dict(
        params=params,
        inputs=inputs,
        outputs=outputs,
        lanes={"m_axis": [y_w, m, int(y_signed)]},
        writes=writes,
        foreign_writes=foreign_writes,
        rows=(m // pe) * (k // simd),
        kb=k // simd,
    )
    return params, vec
