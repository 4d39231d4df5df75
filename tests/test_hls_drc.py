"""The design-rule check of generated HLS projects (spvit_fpga/hls/drc.py): it passes on the
generated designs (the micro model, and DeiT-S on zcu102 where the engine uses most of the DSPs),
its result is in the manifest, a failed rule makes ``generate`` exit 1 after writing the project,
and every rule fails on a bad input (a mutated source, declaration, program or board).
No compiler needed: the check reads the sources."""
from __future__ import annotations

import dataclasses
import functools
import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

from spvit_fpga import generate
from spvit_fpga.builder.design import design_for
from spvit_fpga.builder.project import build_project
from spvit_fpga.hls import drc as drc_mod
from spvit_fpga.hls import kernels
from spvit_fpga.hw import source as models
from spvit_fpga.hw.boards import load_board
from spvit_fpga.hw.overlay.shapes import shape_ir
from spvit_fpga.hw import vectors as vec_mod
from spvit_fpga.nn.config import model_config


def _vectors(ir) -> "vec_mod.TestVectors":
    n = int(np.prod(ir.input_shape))
    return vec_mod.TestVectors(np.zeros((1, n), np.int64), np.full(1, -1), np.zeros((1, ir.num_classes), np.int64),
                       np.zeros((1, len(ir.selectors)), np.int64), "zeros")


@functools.lru_cache(maxsize=None)
def _project(model: str = "micro"):
    """(design, files) of a generated project: the embedded default model, or a DeiT's shapes."""
    if model == "micro":
        src = models.default_model_ir()
    else:
        src = models.ModelSource(shape_ir(model_config(model), models.default_model_ir().ir), model, None)
    d = design_for(src, load_board("zcu102"))
    return d, build_project(d, _vectors(src.ir), "test")


def _drc(files, plan, board=None):
    return {r.rule: r for r in drc_mod.run_drc(files, plan, board).rules}


def _mutate(files, path, old, new, count=1):
    text = files[path].decode()
    assert text.count(old) >= 1, (path, old)
    return {**files, path: text.replace(old, new, count).encode()}


def test_generated_designs_pass_and_the_manifest_records_it():
    for model in ("micro", "deit-small"):
        d, files = _project(model)
        m = json.loads(files["manifest.json"])
        drc = m["hls"]["drc"]
        assert drc["passed"] and [r["rule"] for r in drc["rules"]] == list(drc_mod.RULES)
        assert all(r["passed"] and r["checked"] > 0 for r in drc["rules"]), drc
        assert "does not replace" in drc["note"]
    # DeiT-S on zcu102: the check passes with the engine using most of the DSPs (not a shrunk design)
    d, files = _project("deit-small")
    dsp = _drc(files, d.plan)["dsp_budget"].checked
    assert d.plan.lanes == 64 and 0.85 * 2520 <= dsp <= 2520


def test_axi_port_rule():
    d, files = _project()
    assert _drc(files, d.plan)["axi_ports"].passed
    narrow = _mutate(files, "src/spvit_top.h", "typedef ap_uint<128> wport_t;", "typedef ap_uint<64> wport_t;")
    r = _drc(narrow, d.plan)["axi_ports"]
    assert not r.passed and "narrower than the 128-bit HP port" in r.failures[0] and len(r.failures) == 4
    bytes8 = _mutate(files, "src/spvit_top.h", "typedef ap_uint<128> wport_t;", "typedef unsigned char wport_t;")
    assert "is not ap_uint<W>" in _drc(bytes8, d.plan)["axi_ports"].failures[0]
    single = _mutate(files, "src/spvit_top.cpp", "num_read_outstanding = 4", "num_read_outstanding = 1", count=8)
    assert any("reads outstanding" in f for f in _drc(single, d.plan)["axi_ports"].failures)
    short = _mutate(files, "src/spvit_top.cpp", "max_read_burst_length = 256", "max_read_burst_length = 16", count=8)
    assert any("max_read_burst_length 16" in f for f in _drc(short, d.plan)["axi_ports"].failures)


def test_burst_loop_rule():
    d, files = _project()
    r = _drc(files, d.plan)["burst_loops"]
    assert r.passed and r.checked == 1  # ov_fetch, the one loop reading a port
    strided = _mutate(files, "hls/spvit_ov_io.h", "f.write(port[i]);", "f.write(port[2 * i]);")
    assert "not contiguous" in _drc(strided, d.plan)["burst_loops"].failures[0]
    cond = _mutate(files, "hls/spvit_ov_io.h", "f.write(port[i]);", "if (i % 2 == 0) f.write(port[i]);")
    assert "conditional" in _drc(cond, d.plan)["burst_loops"].failures[0]
    unpiped = _mutate(files, "hls/spvit_ov_io.h", "fetch:\n  for (int i = 0; i < C::STREAM_BEATS; i++) {\n#pragma HLS pipeline II = 1",
                      "fetch:\n  for (int i = 0; i < C::STREAM_BEATS; i++) {")
    assert "not pipelined" in _drc(unpiped, d.plan)["burst_loops"].failures[0]


def test_partition_limit_rule():
    d, files = _project()
    assert _drc(files, d.plan)["partition_limit"].passed
    c = d.plan.consts
    assert c["ACC_ROWS"] * c["L"] > 1024
    wide = _mutate(files, "hls/spvit_ov_gemm.h", "#pragma HLS array_reshape variable = accbuf complete dim = 2",
                   "#pragma HLS array_partition variable = accbuf complete dim = 0")
    r = _drc(wide, d.plan)["partition_limit"]
    assert not r.passed and f"accbuf: {c['ACC_ROWS'] * c['L']} ways" in r.failures[0]
    cyclic = _mutate(files, "hls/spvit_ov_gemm.h", "#pragma HLS array_partition variable = tbl complete dim = 1",
                     "#pragma HLS array_partition variable = tbl cyclic factor = 2048 dim = 2")
    assert any("tbl: 2048 ways" in f for f in _drc(cyclic, d.plan)["partition_limit"].failures)


def test_array_ports_rule(monkeypatch):
    d, files = _project()
    assert _drc(files, d.plan)["array_ports"].passed
    # the per-lane table copies are gone: L reads a cycle of one LUT-RAM
    one = _mutate(files, "hls/spvit_ov_gemm.h", "#pragma HLS array_partition variable = tbl complete dim = 1", "")
    fails = _drc(one, d.plan)["array_ports"].failures
    assert any("tbl: 1 partition(s) in the sources" in f for f in fails)
    assert any(f.startswith("gemm/gemm_slots: tbl") for f in fails)
    # a loop that would read a bank three times a cycle, and a stream twice
    loops = kernels.declared_loops(d.plan)
    bad = [dataclasses.replace(x, reads={**x.reads, "am1": 3, "ps": 2}) if x.loop == "gemm_slots" else x for x in loops]
    monkeypatch.setattr(drc_mod, "declared_loops", lambda plan: bad)
    fails = _drc(files, d.plan)["array_ports"].failures
    assert any("am1 4 accesses an iteration, 1 partition(s) x 2 port(s)" in f for f in fails)
    assert any("stream ps read 2 times" in f for f in fails)
    # a declared loop that the sources do not have
    monkeypatch.setattr(drc_mod, "declared_loops", lambda plan: loops + [kernels.LoopDecl("gemm", "no_such_loop")])
    assert any("no_such_loop" in f for f in _drc(files, d.plan)["array_ports"].failures)


def test_dsp_budget_rule():
    d, files = _project("deit-small")
    assert _drc(files, d.plan)["dsp_budget"].passed
    r = _drc(files, d.plan, load_board("ultra96v2"))["dsp_budget"]
    assert not r.passed and "ultra96v2 has 360" in r.failures[0] and "gemm/gemm_slots 2048" in r.failures[0]


def test_loop_tripcount_rule():
    d, files = _project()
    assert _drc(files, d.plan)["loop_tripcount"].passed
    gone = _mutate(files, "hls/spvit_ov_softmax.h", "#pragma HLS loop_tripcount min = 1 max = C::SM_MAX_CHUNKS\n", "")
    r = _drc(gone, d.plan)["loop_tripcount"]
    assert not r.passed and "sm_max/max: run-time bound 'rows * w_row' without loop_tripcount" in r.failures[0]
    unrolled = _mutate(files, "hls/spvit_ov_select.h", "  for (int i = 0; i < n; i++) {\n#pragma HLS pipeline II = 1",
                       "  for (int i = 0; i < n; i++) {\n#pragma HLS unroll")
    assert any("unrolled with a run-time bound 'n'" in f for f in _drc(unrolled, d.plan)["loop_tripcount"].failures)


def test_disjoint_access_rule():
    d, files = _project()
    assert _drc(files, d.plan)["disjoint_access"].passed
    prog = d.plan.program
    i, g = next((i, x) for i, x in enumerate(prog.instructions) if getattr(x, "dst_kind", "") == "am")
    bad_prog = dataclasses.replace(prog, instructions=list(prog.instructions))
    bad_prog.instructions[i] = dataclasses.replace(g, dst=g.act)  # writes the tensor it reads
    bad = dataclasses.replace(d.plan, program=bad_prog)
    r = _drc(files, bad)["disjoint_access"]
    assert not r.passed and r.failures[0].startswith(f"{g.name}: reads bank")


def test_generate_exits_1_after_writing_the_project_when_a_rule_fails(tmp_path, monkeypatch):
    loops = kernels.declared_loops

    def bad(plan):
        return [dataclasses.replace(x, reads={**x.reads, "xb": 3}) if x.loop == "sums" else x for x in loops(plan)]

    monkeypatch.setattr(drc_mod, "declared_loops", bad)
    out = tmp_path / "p"
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = generate.main(["--board", "zcu102", "--out", str(out), "--images", "1", "--quiet"])
    assert code == 1
    assert "design-rule check FAILED: array_ports" in buf.getvalue()
    m = json.loads((out / "manifest.json").read_text())
    assert not m["hls"]["drc"]["passed"] and (out / "src" / "spvit_top.cpp").is_file()
