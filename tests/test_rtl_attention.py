"""spvit_attention (rtl/spvit_attention.sv) against intops: the q, k, v token streams of frames
back to back through the cocotb testbench rtl_sim/tb_attention.py (random idle cycles on each
input stream, random back-pressure on the output, data / tlast / tuser compared exactly, and a
full-rate run checking the header's cycle formula).

Configurations: a small one (C=8, H=2, DH=4, T_MAX=5, SIMD=2) with 1-, 2- and 5-token frames and
saturating all-min / all-max / split frames; the embedded micro model's first attention
(C=64, H=2, DH=32, SIMD=8, formats and shifts from spvit_fpga/default_model/ir) with 66- and
20-token frames; and one with three heads, one MAC beat per head (SIMD = DH), unequal q / k / v
widths, 11-bit scores (the exp table's index clamp), 10-bit probabilities and a 9-bit context;
and the degenerate one (one head, one SIMD slice per token, T_MAX = 1).  The same with QP query
rows in parallel: the small one with QP=4 (frames of 5 = one full group + one row, 4 = one full
group, 3, 2 and 1 < QP), the three-head one with QP=3 (7 = 2 groups + 1 row, 3, 2, 1), the
degenerate one with QP=2 (T_MAX = 1 < QP) and the micro model's with QP=4 (66 = 16 groups + 2
rows, 20, 1, 3) and the generator's choice SIMD = 16, DIV_STEPS = P_W + 1 (NB = 2 MAC beats a
score = the softmax divider interval D = 2: the divide pass paces the pipelined softmax rows,
the sum pass the 1-token rows).  With FRAMES = 2 (ping-pong frame buffers, frame i+1 received
while frame i is computed): the small one, the three-head one with QP=3 (long frames next to
1-token frames: a load waiting for a free half), the degenerate one and the generator's micro
unit (SIMD=16, DIV_STEPS=9, QP=2).  Every case also checks the header's cycle model exactly, at
full rate and with the q/k/v tokens paced slower than the computation (as the upstream GEMM
units deliver them: the receive-limited steady state).
"""
from __future__ import annotations

import pytest

from spvit_fpga.ir.intops import FixedFormat
from spvit_fpga.rtl import runner
from spvit_fpga.rtl.vectors import attention as vectors_attention

TOP = "spvit_attention"
TB = "rtl_sim.tb_attention"

CASES = [
    ("attention-c8h2-t5-simd2", vectors_attention.attention_vectors, {}),
    (
        "attention-micro-c64h2-t66-simd8",
        vectors_attention.micro_model_vectors,
        dict(frames=(66, 20, (1, "max"))),
    ),
    (
        "attention-c12h3-t7-nb1-score11-p10",
        vectors_attention.attention_vectors,
        dict(
            seed=3, channels=12, heads=3, simd=4, t_max=7, q_fmt=FixedFormat(8, 5), k_fmt=FixedFormat(6, 4),
            v_fmt=FixedFormat(10, 7), score_fmt=FixedFormat(11, 5), prob_bits=10, ctx_fmt=FixedFormat(9, 7),
            div_steps=4, frames=((7, "min"), 1, 7, (7, "split"), 3, (7, "max"), (4, "peak"), 2),
        ),
    ),
    (
        "attention-c4h1-t1-one-slice",
        vectors_attention.attention_vectors,
        dict(seed=4, channels=4, heads=1, simd=4, t_max=1, frames=(1, (1, "min"), 1, (1, "max"), (1, "split"))),
    ),
    (
        "attention-c8h2-t5-simd2-qp4",
        vectors_attention.attention_vectors,
        dict(seed=5, qp=4, frames=(5, 4, (5, "min"), 1, (5, "split"), 3, (2, "max"), (4, "peak"), 5)),
    ),
    (
        "attention-c12h3-t7-nb1-qp3",
        vectors_attention.attention_vectors,
        dict(
            seed=6, channels=12, heads=3, simd=4, t_max=7, q_fmt=FixedFormat(8, 5), k_fmt=FixedFormat(6, 4),
            v_fmt=FixedFormat(10, 7), score_fmt=FixedFormat(11, 5), prob_bits=10, ctx_fmt=FixedFormat(9, 7),
            div_steps=4, qp=3, frames=(7, 1, (7, "split"), 3, 2, (7, "max"), (6, "peak"), 7),
        ),
    ),
    (
        "attention-c4h1-t1-one-slice-qp2",
        vectors_attention.attention_vectors,
        dict(seed=7, channels=4, heads=1, simd=4, t_max=1, qp=2, frames=(1, (1, "min"), 1, (1, "max"))),
    ),
    (
        "attention-micro-c64h2-t66-simd16-d2-qp4",
        vectors_attention.micro_model_vectors,
        dict(seed=8, qp=4, simd=16, div_steps=9, frames=(66, 20, (1, "max"), (3, "split"))),
    ),
    # FRAMES = 2 (ping-pong frame buffers: frame i+1 is received while frame i is computed)
    ("attention-c8h2-t5-simd2-f2", vectors_attention.attention_vectors, dict(seed=9, buffers=2)),
    (
        "attention-c12h3-t7-nb1-qp3-f2",
        vectors_attention.attention_vectors,
        dict(
            seed=10, channels=12, heads=3, simd=4, t_max=7, q_fmt=FixedFormat(8, 5), k_fmt=FixedFormat(6, 4),
            v_fmt=FixedFormat(10, 7), score_fmt=FixedFormat(11, 5), prob_bits=10, ctx_fmt=FixedFormat(9, 7),
            div_steps=4, qp=3, buffers=2, frames=(7, 1, 1, (7, "split"), 3, 7, 2, (7, "max"), (6, "peak"), 1, 7),
        ),
    ),
    (
        "attention-c4h1-t1-one-slice-qp2-f2",
        vectors_attention.attention_vectors,
        dict(seed=11, channels=4, heads=1, simd=4, t_max=1, qp=2, buffers=2,
             frames=(1, (1, "min"), 1, (1, "max"), 1)),
    ),
    (
        "attention-micro-c64h2-t66-simd16-d2-qp2-f2",  # the generator's micro model unit
        vectors_attention.micro_model_vectors,
        dict(seed=12, qp=2, simd=16, div_steps=9, buffers=2, frames=(66, 66, 20, (1, "max"), 66)),
    ),
]


@pytest.mark.parametrize("build_vectors,kwargs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_attention_bit_exact(build_vectors, kwargs):
    params, vec = build_vectors(**kwargs)
    runner.lint(runner.sources_for(TOP), TOP, parameters=params)
    result = runner.run(top=TOP, test_module=TB, parameters=params, vectors=vec)
    assert result.tests == 3 and result.failed == 0


def test_attention_testbench_checks_tuser():
    """A wrong token kind on one context token must fail the run (tuser is compared)."""
    params, vec = vectors_attention.attention_vectors()
    vec["outputs"]["m_axis"][3][2] ^= 1
    with pytest.raises(runner.RTLSimError, match="tuser"):
        runner.run(top=TOP, test_module=TB, parameters=params, vectors=vec, testcase="attention_matches_intops")
