"""Claims of docs/integer_arithmetic.md that code depends on, read from the document itself.

* §4.3: the softmax numerator ``E_j * 2^P`` needs ``16 + P`` bits; the HLS kernel and both RTL
  softmax units declare exactly that width (their width expressions are evaluated with the
  parameters the generators give them).
* §3: the normalised LayerNorm value (int16, frac 10) never saturates for ``C`` up to the bound the
  document gives, and does saturate at ``C = 1023`` and ``1024`` on the rows it names.
"""
from __future__ import annotations

import ast
import math
import operator
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from spvit_fpga.ir import intops
from spvit_fpga.ir.intops import FixedFormat

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "integer_arithmetic.md").read_text()
PROBS = (8, 10)  # the probability widths the contract allows (P = bits = frac)
NORM_MAX = (2**15 - 1) / 2**10  # int16, frac 10


def _doc(pattern: str) -> re.Match:
    found = re.search(pattern, DOC)
    assert found, f"docs/integer_arithmetic.md no longer states {pattern!r}"
    return found


def _width_expr(path: Path, pattern: str) -> str:
    found = re.search(pattern, path.read_text())
    assert found, f"{path.relative_to(REPO)}: no {pattern!r}"
    return found.group(1)


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _evaluate(expr: str, **names: int) -> int:
    """An integer width expression of C++/SystemVerilog source (names, integers, + - *)."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return names[node.id]
        raise ValueError(f"unexpected width expression {expr!r}")

    return ev(ast.parse(expr, mode="eval").body)


def _doc_numerator_base() -> int:
    return int(_doc(r"numerator `(\d+) \+ P` bits").group(1))


@pytest.mark.parametrize("p", PROBS)
def test_softmax_numerator_width_in_the_doc_is_what_intops_needs(p):
    base = _doc_numerator_base()
    for frac in range(0, 8):  # every int8 score format's table starts at E[0] = 2^15
        table = intops.exp_table(FixedFormat(8, frac, True))
        biggest = int(table.max()) << p  # E_j * 2^P with the largest E_j
        assert biggest.bit_length() == base + p
    assert (int(intops.exp_table(FixedFormat(8, 4, True))[0]) << p).bit_length() > 15 + p  # the old text was short


def test_hls_softmax_numerator_is_the_doc_width():
    """The HLS softmax divides a numerator of 16 + PF_MAX bits, PF_MAX the widest probability fraction
    of the design (at least 8): the doc's 16 + P for the widest P the design holds."""
    from spvit_fpga.hls.plan import build_plan
    from spvit_fpga.hw.boards import load_board
    from spvit_fpga.hw.source import default_model_ir

    expr = _width_expr(REPO / "hls" / "spvit_ov_softmax.h", r"const ap_uint<([^>]+)> num = ").replace("C::", "")
    ir = default_model_ir().ir
    plan = build_plan(ir, load_board("zcu102"))
    pf_max = plan.consts["PF_MAX"]
    assert pf_max == max(b.attn.prob_fmt.frac for b in ir.blocks)  # the default model's P is 8
    assert _evaluate(expr, PF_MAX=pf_max) == _doc_numerator_base() + pf_max


def test_rtl_softmax_numerators_are_the_doc_width():
    from spvit_fpga.hw.source import default_model_ir
    from spvit_fpga.rtl.generator import _bits_of

    base = _doc_numerator_base()
    dataflow = _width_expr(REPO / "rtl" / "spvit_softmax.sv", r"localparam int NUM_W = ([^;]+);")
    attn = default_model_ir().ir.blocks[0].attn
    exp_w = _bits_of(np.asarray(attn.exp_table, dtype=np.int64)) - 1  # EXP_W as the generator sets it
    assert _evaluate(dataflow, EXP_W=exp_w, P_W=attn.prob_fmt.bits) == base + attn.prob_fmt.bits
    overlay = _width_expr(REPO / "rtl" / "spvit_ov_softmax.sv", r"localparam int NUM_W = ([^;]+);")
    for p in PROBS:
        assert _evaluate(dataflow, EXP_W=exp_w, P_W=p) == base + p
        assert _evaluate(overlay, PF_MAX=p) == base + p


def _norm_bound(channels: int, mant_bits: int = 10) -> float:
    """The §3 bound on the computed |n_i| (eps >= 0): sqrt((C-1)/C) * max_j sqrt(m_j + 1) T[j] 2^-R
    plus half an output LSB."""
    table, r = intops.rsqrt_table(channels, mant_bits)
    lo = 1 << (mant_bits - 2)
    worst = max(math.sqrt(lo + j + 1) * int(t) for j, t in enumerate(table.tolist()))
    return math.sqrt((channels - 1) / channels) * worst * 2.0**-r + 2.0**-11


def test_layernorm_norm_value_never_saturates_up_to_the_doc_bound():
    limit = int(_doc(r"for every `C ≤ (\d+)`, so\s+there `n` never saturates").group(1))
    assert all(_norm_bound(c) <= NORM_MAX for c in range(2, limit + 1))
    assert _norm_bound(limit + 1) > NORM_MAX  # the bound is the largest this argument gives


def test_layernorm_norm_value_saturates_at_1023_and_1024_on_the_doc_rows():
    found = _doc(r"one\s+channel (\d+) LSB above the other 1022, or (\d+) LSB above the other 1023, gives (\d+) and (\d+)")
    deltas, values = (int(found.group(1)), int(found.group(2))), (int(found.group(3)), int(found.group(4)))
    fmt = FixedFormat(16, 8, True)
    for channels, delta, value in zip((1023, 1024), deltas, values):
        wide = intops.layernorm_params(channels, fmt, 1e-6, norm_fmt=FixedFormat(32, 10, True))  # no saturation
        row = torch.full((1, channels), fmt.min_int, dtype=torch.int64)
        row[0, 0] += delta
        n = intops.int_layernorm_normalize(row, wide)
        assert int(n[0, 0]) == value > 2**15 - 1
        narrow = intops.layernorm_params(channels, fmt, 1e-6)  # the int16/10 default: saturated
        assert int(intops.int_layernorm_normalize(row, narrow)[0, 0]) == 2**15 - 1
