"""The HLS cycle estimate (spvit_fpga/hls/estimate.py) and the shape-only IR it can run on
(spvit_fpga/hw/overlay/shapes.py), without a compiler: it follows the overlay's instruction
sequence and counts, its DDR rate is that of the ports used, pruning shortens it, and a shape-only
program has the structure and stream of the real one.  The trip counts are checked against the
C-simulation in tests/test_generate.py."""
from __future__ import annotations

import functools

import pytest

from spvit_fpga.builder.design import design_for
from spvit_fpga.hls import estimate
from spvit_fpga.hls.plan import build_plan, gemm_slots
from spvit_fpga.hw import source as models
from spvit_fpga.hw.boards import load_board
from spvit_fpga.hw.overlay.cycles import counts_for_kept
from spvit_fpga.hw.overlay.program import Gemm, instruction_fields
from spvit_fpga.hw.overlay.shapes import shape_ir
from spvit_fpga.nn.config import model_config


@functools.lru_cache(maxsize=None)
def _plan(model: str, ports=None):
    ir = shape_ir(model_config(model), models.default_model_ir().ir)
    return design_for(models.ModelSource(ir, model, None), load_board("zcu102"), ports=ports).plan


def test_shape_ir_program_equals_the_real_one_for_the_default_model():
    """The shape-only IR of the default model's config gives its program: the same instructions,
    fields (but thresholds and shifts, which come from values), blobs and counts."""
    real = models.default_model_ir().ir
    board = load_board("zcu102")
    a = build_plan(real, board).program
    b = build_plan(shape_ir(model_config("micro"), real), board).program
    assert [i.name for i in a.instructions] == [i.name for i in b.instructions]
    assert [x.beats for x in a.stream.blobs] == [x.beats for x in b.stream.blobs]
    value_fields = {"tau", "shift", "res_align", "eps", "rsqrt_shift", "topk", "up0"}
    for x, y in zip(a.instructions, b.instructions):
        fx, fy = instruction_fields(a, x), instruction_fields(b, y)
        assert {k: v for k, v in fx.items() if k not in value_fields} == \
               {k: v for k, v in fy.items() if k not in value_fields}, x.name
    assert (a.bank_words, a.xb_rows, a.t_max) == (b.bank_words, b.xb_rows, b.t_max)


def test_estimate_follows_the_overlay_sequence():
    plan = _plan("deit-tiny")
    kept = [121, 72, 27]
    s = estimate.hls_summary(plan, kept)
    steps = counts_for_kept(plan.program, kept)
    assert [x["name"] for x in s["layers"]] == [i.name for i in plan.program.instructions]
    assert sum(x["cycles"] for x in s["layers"]) == s["total_cycles"]
    for ins, st, lay in zip(plan.program.instructions, steps, s["layers"]):
        assert lay["trips"] == estimate.unit_trips(plan, ins, st)
        if ins.op in ("LAYERNORM", "SOFTMAX"):  # three processes at once: the longest one's trips
            assert 3 * lay["cycles"] >= lay["trips"] + 3 * estimate.DISPATCH
        else:  # one loop after the other: every loop costs its trips plus its depth
            assert lay["cycles"] >= lay["trips"] + estimate.DISPATCH
        if isinstance(ins, Gemm):
            assert lay["trips"] >= gemm_slots(ins, st["rows"], st["k_in"], st["n_out"], plan.cfg)
    # the GEMM loop of a tile-bound layer: R rows of 197, 64-beat tiles: max(R, 64) slots a tile
    q = next(i for i in plan.program.instructions if i.name == "blocks.0.attn.q")
    assert gemm_slots(q, 197, 192, 192, plan.cfg) == 4 + 64 + 3 * 2 * 197 + 2 * 197 + 197
    assert gemm_slots(q, 30, 192, 192, plan.cfg) == 4 + 64 + 3 * 2 * 64 + 2 * 68 + 30


def test_pruning_shortens_and_the_target_is_below_heatvit():
    plan = _plan("deit-small")
    n = 196
    totals = [estimate.hls_summary(plan, k)["latency_ms"] for k in ([n] * 3, [121, 72, 27], [60, 36, 14], [0, 0, 0])]
    assert totals == sorted(totals, reverse=True) and totals[1] < 9.15
    assert totals[0] / totals[1] > 1.5  # keep-all / top-k
    e = estimate.estimates(plan)
    assert e["target_kept"] == [121, 72, 27] and e["kernels"]["latency_ms"] == pytest.approx(totals[1])
    assert "pipeline depths of each loop (DEPTH)" in e["assumptions"]["assumed_not_calibrated"]


def test_ddr_rate_is_that_of_the_ports_used():
    full = estimate.hls_summary(_plan("deit-small"), [121, 72, 27])
    by_ports = {}
    for p in (1, 2):
        plan = _plan("deit-small", p)
        assert plan.cfg.ports == p and plan.cfg.stream_bytes == 16 * p
        s = estimate.hls_summary(plan, [121, 72, 27])
        rate = min(16 * p, plan.cfg.ddr_bytes_per_cycle)
        assert s["ddr_bound_cycles"] == pytest.approx(s["param_stream_bytes"] / rate, rel=0.001)
        assert s["total_cycles"] > s["ddr_bound_cycles"]  # the weights alone take that long
        by_ports[p] = s["total_cycles"]
    assert full["ddr_bound_cycles"] == pytest.approx(full["param_stream_bytes"] / 51.2, rel=0.001)
    assert by_ports[1] > by_ports[2] > full["total_cycles"]
    assert by_ports[1] > 1.9 * full["total_cycles"]  # one HP port makes DeiT-S bound by weight traffic
