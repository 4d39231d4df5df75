"""The report parsers on real Vivado HLS, Vitis HLS and Vivado reports (third-party files in
``../shared/fixtures/hls_reports``, never copied here).  Every value below is one that the
fixtures' PROVENANCE.md lists; the tests skip, naming the folder, where it is absent.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spvit_fpga.reports._text import read_tables
from spvit_fpga.reports.cosim_rpt import parse_cosim
from spvit_fpga.reports.csynth_rpt import parse_csynth_rpt
from spvit_fpga.reports.csynth_xml import parse_csynth_xml
from spvit_fpga.reports.dispatch import load
from spvit_fpga.reports.hls_folder import _top_from_app, read_report_folder
from spvit_fpga.reports.vivado_util import parse_vivado_util

FIXTURES = Path(os.environ.get("SPVIT_HLS_REPORT_FIXTURES")
                or Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hls_reports")
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"third-party report fixtures not found at {FIXTURES} "
                                "(the ../shared folder beside the checkout; or set SPVIT_HLS_REPORT_FIXTURES)")

FISH = "teozax__fishery/solution1/syn/report"
JPH = "jparkerh__2d_filter_xfopencv/hls_video_block/solution1/syn/report"
H4 = "fastmachinelearning__hls4ml/test/pytest/test_report/Vivado"
HR = "HanderRi__AMD-Pervasive-AI/solution1/syn/report"
GAU = "hashi0203__Vitis_HLS_Gaussian/solution1/syn/report"
IMF = "Imam-f__RL-SOC-Tutorial-Vitis/solution1"
ZH = "zhren711__fastvit_hls/add_ip/add_ip_proj/solution1/syn/report"


def parse(rel: str):
    path = FIXTURES / rel
    return parse_csynth_xml(path) if path.suffix == ".xml" else parse_csynth_rpt(path)


# (files reporting the same values, tool, version, part, top, target, uncertainty, estimated clock,
#  latency best/avg/worst, interval min/max, pipeline type, used BRAM/DSP/FF/LUT/URAM, available or None)
ZU9 = (1824, 2520, 548160, 274080, 0)
ZU7 = (624, 1728, 460800, 230400, 96)
K26 = (288, 1248, 234240, 117120, 64)
Z7 = (280, 220, 106400, 53200, 0)
CASES = [
    # Set 1: Vivado HLS 2019.2
    ([f"{FISH}/csynth.xml", f"{FISH}/net_holes_detection_csynth.rpt"], "vivado_hls", "2019.2", "xczu9eg-ffvb1156-2-e",
     "net_holes_detection", (10.0, 1.25, 8.611), (1319390, None, 1550429), (1190654, 1421693), "dataflow",
     (1110, 32, 132840, 174945, 0), ZU9),
    ([f"{FISH}/AddWeighted_csynth.xml", f"{FISH}/AddWeighted_csynth.rpt"], "vivado_hls", "2019.2",
     "xczu9eg-ffvb1156-2-e", "AddWeighted", (10.0, 1.25, 5.173), (1, None, 130411), (1, 130411), "none",
     (0, 0, 169, 340, 0), ZU9),
    ([f"{FISH}/threshold_csynth.xml", f"{FISH}/threshold_csynth.rpt"], "vivado_hls", "2019.2", "xczu9eg-ffvb1156-2-e",
     "threshold", (10.0, 1.25, 4.667), (129602, 129602, 129602), (129602, 129602), "none", (0, 0, 25, 155, 0), ZU9),
    ([f"{FISH}/compute_a_b208_csynth.xml", f"{FISH}/compute_a_b208_csynth.rpt"], "vivado_hls", "2019.2",
     "xczu9eg-ffvb1156-2-e", "compute_a_b208", (10.0, 1.25, 8.084), (129706, 129706, 129706), (129706, 129706),
     "none", (4, 8, 15470, 12206, 0), ZU9),
    # Set 2: Vivado HLS 2018.3
    ([f"{JPH}/csynth.xml", f"{JPH}/hls_video_block_csynth.xml", f"{JPH}/hls_video_block_csynth.rpt"], "vivado_hls",
     "2018.3", "xczu9eg-ffvb1156-2-i", "hls_video_block", (10.0, 1.25, 5.246), (2772814,) * 3, (1853774, 1853774),
     "dataflow", (9, 0, 783, 1783, 0), ZU9),
    ([f"{JPH}/hls_2DFilter_csynth.xml", f"{JPH}/hls_2DFilter_csynth.rpt"], "vivado_hls", "2018.3",
     "xczu9eg-ffvb1156-2-i", "hls_2DFilter", (10.0, 1.25, 4.874), (1853773,) * 3, (1853773, 1853773), "none",
     (5, 0, 219, 780, 0), ZU9),
    # Set 3: Vivado HLS 2020.1 (hls4ml's test data)
    ([f"{H4}/myproject_csynth.xml", f"{H4}/myproject_csynth.rpt"], "vivado_hls", "2020.1", "xc7z020-clg400-1",
     "myproject", (5.0, 0.62, 4.049), (10, 10, 10), (8, 8), "dataflow", (0, 73, 7969, 2532, 0), Z7),
    # Set 4: Vitis HLS 2022.2
    ([f"{HR}/csynth.xml", f"{HR}/ViT_act_csynth.xml", f"{HR}/ViT_act_csynth.rpt"], "vitis_hls", "2022.2",
     "xck26-sfvc784-2LV-c", "ViT_act", (10.0, 2.70, 7.674), (None, None, None), (None, None), "no",
     (902, 1452, 172584, 270827, 0), K26),
    ([f"{HR}/gelu_csynth.xml", f"{HR}/gelu_csynth.rpt"], "vitis_hls", "2022.2", "xck26-sfvc784-2LV-c", "gelu",
     (10.0, 2.70, 5.886), (2, 2, 2), (1, 1), "yes", (1, 2, 106, 382, 0), K26),
    ([f"{HR}/layernorm_accumulate_csynth.xml", f"{HR}/layernorm_accumulate_csynth.rpt"], "vitis_hls", "2022.2",
     "xck26-sfvc784-2LV-c", "layernorm_accumulate", (10.0, 2.70, 7.300), (34, 34, 35), (24, 24),
     "loop rewind stp(delay=0 clock cycles(s))", (0, 32, 1788, 1722, 0), K26),
    ([f"{HR}/finalize_attn_csynth.xml", f"{HR}/finalize_attn_csynth.rpt"], "vitis_hls", "2022.2",
     "xck26-sfvc784-2LV-c", "finalize_attn", (10.0, 2.70, 7.156), (17087,) * 3, (17087, 17087), "no",
     (15, 72, 23499, 15305, 0), K26),
    ([f"{HR}/exp_32_10_s_csynth.xml", f"{HR}/exp_32_10_s_csynth.rpt"], "vitis_hls", "2022.2", "xck26-sfvc784-2LV-c",
     "exp_32_10_s", (10.0, 2.70, 7.156), (5, 5, 5), (1, 1), "yes", (5, 21, 720, 740, 0), K26),
    ([f"{HR}/compute_q_matmul_k_csynth.xml", f"{HR}/compute_q_matmul_k_csynth.rpt"], "vitis_hls", "2022.2",
     "xck26-sfvc784-2LV-c", "compute_q_matmul_k", (10.0, 2.70, 7.300), (102241,) * 3, (102179, 102179), "dataflow",
     (15, 176, 29575, 23041, 0), K26),
    # Set 5: Vitis HLS 2020.2
    ([f"{GAU}/csynth.xml", f"{GAU}/gaussian_csynth.xml", f"{GAU}/gaussian_csynth.rpt"], "vitis_hls", "2020.2",
     "xczu7ev-ffvc1156-2-e", "gaussian", (10.0, 2.70, 6.427), (262673,) * 3, (262674, 262674), "none",
     (3, 0, 976, 1870, 0), ZU7),
    # Set 6: Vitis HLS 2020.1
    ([f"{IMF}/syn/report/csynth.xml", f"{IMF}/syn/report/VecDotProduct_csynth.rpt"], "vitis_hls", "2020.1",
     "xczu7ev-ffvc1156-2-e", "VecDotProduct", (10.0, 2.70, 7.300), (None, None, None), (None, None), "dataflow",
     (34, 0, 3726, 5322, 0), ZU7),
    ([f"{IMF}/syn/report/Accumulator_csynth.xml", f"{IMF}/syn/report/Accumulator_csynth.rpt"], "vitis_hls", "2020.1",
     "xczu7ev-ffvc1156-2-e", "Accumulator", (10.0, 2.70, 3.060), (None, None, None), (None, None), "none",
     (0, 0, 70, 188, 0), ZU7),
    # Set 7: Vitis HLS 2024.2
    ([f"{ZH}/csynth.xml", f"{ZH}/add_ip_csynth.xml", f"{ZH}/add_ip_csynth.rpt"], "vitis_hls", "2024.2",
     "xc7z020-clg400-1", "add_ip", (7.0, 1.89, 5.728), (None, None, None), (None, None), "no",
     (5, 6, 3392, 3620, 0), Z7),
    ([f"{ZH}/add_ip_Pipeline_ADD_LOOP_csynth.xml", f"{ZH}/add_ip_Pipeline_ADD_LOOP_csynth.rpt"], "vitis_hls",
     "2024.2", "xc7z020-clg400-1", "add_ip_Pipeline_ADD_LOOP", (7.0, 1.89, 5.728), (None, None, None), (0, 0), None,
     (0, 0, 62, 220, 0), Z7),
]
FILES = [(f, case) for case in CASES for f in case[0]]


@pytest.mark.parametrize("rel,case", FILES, ids=[f for f, _ in FILES])
def test_listed_values(rel, case):
    _, tool, version, part, top, clock, latency, interval, ptype, used, avail = case
    r = parse(rel)
    assert (r.tool, r.version, r.part, r.top) == (tool, version, part, top)
    assert (r.clock_target_ns, r.clock_uncertainty_ns, r.clock_estimated_ns) == clock
    best, avg, worst = latency
    assert (r.latency.best, r.latency.worst) == (best, worst)
    if r.form == "xml":  # the text reports print min and max only
        assert r.latency.avg == avg
    assert (r.interval.min, r.interval.max) == interval
    if ptype is not None:
        assert r.pipeline_type == ptype
    assert tuple(r.resources[k] for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")) == used
    assert tuple(r.available[k] for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")) == avail
    j = r.to_json()
    assert j["latency_cycles"] == {"best": best, "worst": worst}


def test_dsp48e_and_dsp_tags_both_become_dsp():
    assert "<DSP48E>32</DSP48E>" in (FIXTURES / FISH / "csynth.xml").read_text()
    assert "<DSP>1452</DSP>" in (FIXTURES / HR / "csynth.xml").read_text()
    assert parse(f"{FISH}/csynth.xml").resources["DSP"] == 32
    assert parse(f"{HR}/csynth.xml").resources["DSP"] == 1452


def test_absolute_latencies():
    fish = parse(f"{FISH}/csynth.xml").latency
    assert (fish.best_ns, fish.avg_ns, fish.worst_ns) == (13194000.0, None, 15504000.0)  # 13.194 ms / undef / 15.504 ms
    add = parse(f"{FISH}/AddWeighted_csynth.xml").latency
    assert (add.best_ns, add.worst_ns) == (10.0, 1304000.0)
    for rel in (f"{HR}/layernorm_accumulate_csynth.xml", f"{HR}/layernorm_accumulate_csynth.rpt"):
        lat = parse(rel).latency
        assert (lat.best_ns, lat.worst_ns) == (340.0, 350.0)  # 0.340 us / 0.350 us
    assert parse(f"{HR}/finalize_attn_csynth.xml").latency.worst_ns == 171000.0
    assert parse(f"{HR}/gelu_csynth.xml").latency.worst_ns == 20.0
    assert parse(f"{HR}/exp_32_10_s_csynth.xml").latency.worst_ns == 50.0
    assert parse(f"{HR}/compute_q_matmul_k_csynth.xml").latency.worst_ns == 1022000.0
    assert parse(f"{GAU}/gaussian_csynth.xml").latency.worst_ns == 2627000.0
    assert parse(f"{FISH}/threshold_csynth.xml").latency.worst_ns == 1296000.0
    assert parse(f"{FISH}/compute_a_b208_csynth.xml").latency.worst_ns == 1297000.0
    assert parse(f"{JPH}/hls_2DFilter_csynth.xml").latency.worst_ns is None  # 2018.3 has no real-time latency
    h4 = parse(f"{H4}/myproject_csynth.xml")
    assert h4.latency.worst_ns == 50.0 and h4.latency.best * h4.clock_target_ns == 50.0  # hls4ml's "(50.0 ns)"


def _loops(rel):
    return {"/".join(lp.path): lp for lp in parse(rel).loops}


def test_set1_loops():
    for rel in (f"{FISH}/AddWeighted_csynth.xml", f"{FISH}/AddWeighted_csynth.rpt"):
        lps = _loops(rel)
        h, w = lps["loop_height"], lps["loop_height/loop_width"]
        assert (h.trip_count.to_json(), h.latency.to_json(), h.iteration_latency.to_json()) == (
            {"min": 0, "max": 270}, {"min": 0, "max": 130410}, {"min": 3, "max": 483})
        assert h.pipeline_ii is None and h.pipelined is False
        assert (w.trip_count.to_json(), w.latency.to_json(), w.pipeline_ii) == ({"min": 0, "max": 480},
                                                                                {"min": 0, "max": 480}, 1)
    assert _loops(f"{FISH}/AddWeighted_csynth.xml")["loop_height/loop_width"].pipeline_depth == 2
    for rel, lat, depth in ((f"{FISH}/threshold_csynth", 129600, 2), (f"{FISH}/compute_a_b208_csynth", 129704, 106)):
        x, t = _loops(rel + ".xml")["Loop1"], _loops(rel + ".rpt")["Loop1"]  # rpt "- Loop 1"
        assert (x.trip_count, x.latency, x.pipeline_ii, x.pipeline_depth) == (129600, lat, 1, depth)
        assert (t.trip_count, t.latency, t.pipeline_ii, t.iteration_latency) == (129600, lat, 1, depth)


def test_set1_utilization_row_is_the_floor_of_used_over_available():
    r = parse(f"{FISH}/net_holes_detection_csynth.rpt")
    pct = [100 * r.resources[k] // r.available[k] if r.available[k] else 0
           for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")]
    assert pct == [60, 1, 24, 63, 0]  # |Utilization (%)  |       60|      1|      24|      63|    0|


def test_set2_ii_achieved_above_target():
    x, t = _loops(f"{JPH}/hls_2DFilter_csynth.xml"), _loops(f"{JPH}/hls_2DFilter_csynth.rpt")
    for lps in (x, t):
        assert (lps["L1"].trip_count, lps["L1"].latency, lps["L1"].iteration_latency) == (723, 1853772, 2564)
        assert lps["L1"].pipeline_ii is None
        assert (lps["L1/L2"].trip_count, lps["L1/L2"].latency, lps["L1/L2"].pipeline_ii) == (1280, 2561, 2)
    assert x["L1/L2"].pipeline_depth == 4 and x["L1/L2"].target_ii is None  # the XML stores PipelineII only
    assert t["L1/L2"].target_ii == 1 and t["L1/L2"].ii_above_target is True
    merged = {"/".join(lp.path): lp for lp in read_report_folder(FIXTURES / JPH).loops if lp.module == "hls_2DFilter"}
    assert merged["L1/L2"].target_ii == 1 and merged["L1/L2"].ii_above_target is True


def test_set3_hls4ml_facts():
    r = parse(f"{H4}/myproject_csynth.xml")
    share = {k: round(100.0 * r.resources[k] / r.available[k], 1) for k in ("BRAM_18K", "DSP", "FF", "LUT")}
    assert share == {"BRAM_18K": 0.0, "DSP": 33.2, "FF": 7.5, "LUT": 4.8}
    assert r.available["URAM"] == 0
    u = parse_vivado_util(FIXTURES / H4 / "vivado_synth.rpt")
    assert (u.version, u.design, u.device, u.state) == ("2020.1", "myproject", "7z020clg400-1", "Synthesized")
    assert u.used == {"BRAM_18K": 0, "DSP": 66, "FF": 2428, "LUT": 1526, "URAM": None}
    assert u.available == {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": None}
    assert (u.bram_tiles, u.bram_tiles_available) == (0.0, 140.0)
    text = (FIXTURES / H4 / "vivado_synth.rpt").read_text()
    assert "Vivado v.2020.1 (lin64) Build 2902540" in text
    iob = next(row for t in read_tables(text) for row in t.rows if row and row[0] == "Bonded IOB")
    assert iob[1] == "384" and iob[-2:] == ["125", "307.20"]
    assert _top_from_app(FIXTURES / H4) == "myproject"  # vivado_hls.app: top="myproject"
    folder = load(FIXTURES / H4)
    assert folder.kind == "hls_csynth" and folder.report.top == "myproject"


def test_set4_vit_over_utilised_and_missing_the_clock():
    r = parse(f"{HR}/csynth.xml")
    assert [k for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM") if r.resources[k] > r.available[k]] == [
        "BRAM_18K", "DSP", "LUT"]
    assert r.clock_missed is True and round(r.clock_target_ns - r.clock_uncertainty_ns - r.clock_estimated_ns, 3) == -0.374
    lps = _loops(f"{HR}/csynth.xml")
    outer, inner = lps["_ln124_for_each_image"], lps["_ln124_for_each_image/_ln131_for_each_layer"]
    assert (outer.trip_count, outer.latency, inner.trip_count, inner.latency) == (1, None, 12, None)
    assert len(r.modules) == 63
    mods = {m.name: m for m in r.modules}
    for fn in ("gelu", "layernorm_accumulate", "finalize_attn", "exp_32_10_s", "compute_q_matmul_k"):
        own = parse(f"{HR}/{fn}_csynth.xml")
        m = mods[fn]
        assert (m.latency.best, m.latency.worst, m.interval.min, m.interval.max) == (
            own.latency.best, own.latency.worst, own.interval.min, own.interval.max), fn
        assert m.resources == own.resources and m.available == own.available, fn
        assert (m.clock_target_ns, m.clock_uncertainty_ns, m.clock_estimated_ns) == (10.0, 2.70, own.clock_estimated_ns)
    assert mods["layernorm_accumulate"].pipeline_type == "loop rewind(delay=0 clock cycles(s))"
    for rel in (f"{HR}/finalize_attn_csynth.xml", f"{HR}/finalize_attn_csynth.rpt"):
        (lp,) = parse(rel).loops
        assert lp.name == "_ln163_for_block_q_patch_unadjusted__ln165_for_each_k_patch__ln167_for_offset_q_patch_unadjusted"
        assert (lp.trip_count, lp.latency, lp.pipeline_ii) == (17028, 17085, 1)
        assert (lp.pipeline_depth if rel.endswith("xml") else lp.iteration_latency) == 59
    for rel in (f"{HR}/layernorm_accumulate_csynth.xml", f"{HR}/layernorm_accumulate_csynth.rpt"):
        (lp,) = parse(rel).loops
        assert (lp.name, lp.trip_count, lp.latency, lp.pipeline_ii) == ("_ln70_for_block_dim", 24, 34, 1)
        assert (lp.pipeline_depth if rel.endswith("xml") else lp.iteration_latency) == 12


def test_set4_summary_rpt_top_row():
    r = parse(f"{HR}/csynth.rpt")
    assert (r.form, r.top, r.version) == ("rpt-summary", "ViT_act", "2022.2")
    assert (r.slack_ns, r.timing_issue, r.clock_missed) == (-0.37, True, True)
    assert (r.latency.worst, r.interval.max) == (None, None)  # "-"
    assert r.resources == {"BRAM_18K": 902, "DSP": 1452, "FF": 172584, "LUT": 270827, "URAM": 0}
    assert r.modules[0].pipeline_type == "no"


def test_set4_cosim_failed():
    c = parse_cosim(FIXTURES / "HanderRi__AMD-Pervasive-AI/solution1/sim/report/ViT_act_cosim.rpt")
    runs = {r.language: r for r in c.runs}
    assert runs["VHDL"].status == "NA" and runs["Verilog"].status == "Fail"
    v = runs["Verilog"]
    assert [v.latency_min, v.latency_avg, v.latency_max, v.interval_min, v.interval_avg, v.interval_max,
            v.total_cycles] == [None] * 7
    assert c.passed is False and (c.solution, c.simulator) == ("solution1", "xsim")


def test_set5_gaussian():
    for rel in (f"{GAU}/csynth.xml", f"{GAU}/gaussian_csynth.xml", f"{GAU}/gaussian_csynth.rpt", f"{GAU}/csynth.rpt"):
        lps = _loops(rel)
        got = {n: (lp.trip_count, lp.latency, lp.pipeline_ii) for n, lp in lps.items()}
        assert got == {"buf_x1": (2, 2, 1), "buf_x2": (512, 512, 1), "win_y_win_x": (4, 5, 1),
                       "for_y_for_x": (262144, 262146, 1)}, rel
    depths = {n: lp.pipeline_depth for n, lp in _loops(f"{GAU}/csynth.xml").items()}
    assert depths == {"buf_x1": 1, "buf_x2": 1, "win_y_win_x": 2, "for_y_for_x": 4}
    top = {n: lp.absolute_latency_ns for n, lp in _loops(f"{GAU}/csynth.xml").items()}
    assert top == {"buf_x1": 20.0, "buf_x2": 5120.0, "win_y_win_x": 50.0, "for_y_for_x": 2621460.0}
    mods = {lp.path[-1]: lp.absolute_latency_ns for lp in parse_csynth_xml(FIXTURES / GAU / "csynth.xml").loops}
    assert mods["for_y_for_x"] == 2621460.0  # the top-level table wins; ModuleInformation says "2.621 ms"
    s = parse(f"{GAU}/csynth.rpt")
    assert (s.latency.worst, s.modules[0].latency.worst_ns, s.interval.max, s.slack_ns) == (262673, 2627000.0, 262674,
                                                                                          -0.87)
    assert s.resources == {"BRAM_18K": 3, "DSP": 0, "FF": 976, "LUT": 1870, "URAM": 0}
    assert s.clock_missed is None  # a negative slack without a Timing issue is not trusted
    assert parse(f"{GAU}/csynth.xml").clock_missed is False  # 6.427 <= 10.00 - 2.70


def test_set6_undef_latency_measured_by_cosim():
    acc = _loops(f"{IMF}/syn/report/Accumulator_csynth.xml")["VITIS_LOOP_70_1"]
    assert (acc.trip_count, acc.latency, acc.pipeline_ii, acc.pipeline_depth) == (None, None, 1, 2)
    acc_t = _loops(f"{IMF}/syn/report/Accumulator_csynth.rpt")["VITIS_LOOP_70_1"]
    assert (acc_t.trip_count, acc_t.latency, acc_t.pipeline_ii, acc_t.iteration_latency) == (None, None, 1, 2)
    c = parse_cosim(FIXTURES / IMF / "sim/report/VecDotProduct_cosim.rpt")
    runs = {r.language: r for r in c.runs}
    v = runs["Verilog"]
    assert (v.status, v.latency_min, v.latency_avg, v.latency_max, v.total_cycles) == ("Pass", 10099, 10099, 10099, 10099)
    assert (v.interval_min, v.interval_avg, v.interval_max) == (None, None, None)
    assert runs["VHDL"].status == "NA" and runs["VHDL"].latency_max is None
    lat = parse_cosim(FIXTURES / IMF / "sim/report/verilog/lat.rpt").main
    assert (lat.latency_min, lat.latency_avg, lat.latency_max, lat.total_cycles) == (10099, 10099, 10099, 10099)
    assert lat.interval_max is None  # $MAX_THROUGHPUT = "0": not measured


def test_set7_vitis_2024():
    ptypes = {parse(f"{ZH}/add_ip_Pipeline_ADD_LOOP_csynth.xml").pipeline_type,
              parse(f"{ZH}/add_ip_Pipeline_ADD_LOOP_csynth.rpt").pipeline_type}
    assert ptypes == {"loop auto-rewind stp (delay=0 cycles)", "loop auto-rewind stp (delay=0 clock cycles(s))"}
    full = parse(f"{ZH}/csynth.xml")
    mods = {m.name: m.resources["LUT"] for m in full.modules}
    assert (full.resources["LUT"], mods) == (3620, {"add_ip": 3622, "add_ip_Pipeline_ADD_LOOP": 222})
    summary = parse(f"{ZH}/csynth.rpt")
    assert summary.resources == {"BRAM_18K": 5, "DSP": 6, "FF": 3392, "LUT": 3622, "URAM": 0}
    assert (summary.slack_ns, summary.clock_missed) == (-0.62, True)
    assert full.clock_missed is True  # 5.728 > 7.00 - 1.89
    (lp,) = [lp for lp in summary.loops]
    assert (lp.name, lp.slack_ns, lp.trip_count, lp.iteration_latency, lp.pipeline_ii, lp.pipelined) == (
        "ADD_LOOP", 5.11, None, 4, 1, True)
    for rel in (f"{ZH}/add_ip_Pipeline_ADD_LOOP_csynth.xml", f"{ZH}/csynth.xml"):
        (lp,) = parse(rel).loops
        assert (lp.trip_count, lp.pipeline_ii, lp.pipeline_depth) == (None, 1, 4)
    u = parse_vivado_util(FIXTURES / "zhren711__fastvit_hls/vivado_impl/fastvit_add_only_200mhz_proj"
                          / "utilization_add_only_200mhz.rpt")
    assert (u.version, u.design, u.device, u.state) == ("2024.2", "fastvit_bd_wrapper", "xc7z020clg400-1",
                                                        "Physopt postRoute")
    assert (u.bram_tiles, u.bram_tiles_available) == (2.5, 140.0)
    assert u.used == {"BRAM_18K": 5, "DSP": 6, "FF": 9392, "LUT": 8077, "URAM": None}
    assert (u.available["DSP"], u.available["FF"], u.available["LUT"]) == (220, 106400, 53200)


@pytest.mark.parametrize("rel", [FISH, JPH, HR, GAU, f"{IMF}/syn/report", ZH])
def test_every_report_folder_through_the_command(rel):
    res = subprocess.run([sys.executable, "-m", "spvit_fpga.report", str(FIXTURES / rel), "--json"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert res.returncode == 0, res.stderr
    j = json.loads(res.stdout)
    assert j["kind"] == "hls_csynth" and j["top"] == parse(f"{rel}/csynth.xml").top
