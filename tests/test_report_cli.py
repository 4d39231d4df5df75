"""``python -m spvit_fpga.report``: PATH dispatch, the ``--json`` schema (checked with jsonschema),
design folders with every source, and one-line errors for broken input.

Expected values come from the hand-written samples of ``test_report_samples`` and from the
manifests written here.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from test_report_samples import (CONV_RPT, COSIM_PASS, LAT_RPT, SUMMARY_RPT_2023, TIMING_FAIL, UTIL_ULTRASCALE,
                                 VITIS_XML, VIVADO_RPT_2018, VIVADO_XML, write, write_solution)

REPO = Path(__file__).resolve().parents[1]
KEYS = ["BRAM_18K", "DSP", "FF", "LUT", "URAM"]
INT_OR_NULL = {"type": ["integer", "null"]}
COUNT = {"oneOf": [{"type": "integer"}, {"type": "null"},
                   {"type": "object", "required": ["min", "max"], "additionalProperties": False,
                    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}}}]}
RESOURCES = {"type": "object", "required": KEYS, "additionalProperties": False,
             "properties": {k: INT_OR_NULL for k in KEYS}}

# The --json schema of issue 12 for one HLS synthesis report.
HLS_CSYNTH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["kind", "tool", "version", "part", "top", "clock_target_ns", "clock_estimated_ns", "latency_cycles",
                 "interval_cycles", "resources", "available", "modules", "loops"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "hls_csynth"},
        "tool": {"enum": ["vivado_hls", "vitis_hls", None]},
        "version": {"type": ["string", "null"]},
        "part": {"type": ["string", "null"]},
        "top": {"type": ["string", "null"]},
        "clock_target_ns": {"type": ["number", "null"]},
        "clock_estimated_ns": {"type": ["number", "null"]},
        "latency_cycles": {"type": "object", "required": ["best", "worst"], "additionalProperties": False,
                           "properties": {"best": INT_OR_NULL, "worst": INT_OR_NULL}},
        "interval_cycles": {"type": "object", "required": ["min", "max"], "additionalProperties": False,
                            "properties": {"min": INT_OR_NULL, "max": INT_OR_NULL}},
        "resources": RESOURCES,
        "available": RESOURCES,
        "modules": {"type": "array", "items": {
            "type": "object", "required": ["name", "latency_cycles", "interval_cycles", "resources", "available"],
            "properties": {"name": {"type": "string"}, "resources": RESOURCES, "available": RESOURCES}}},
        "loops": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "trip_count", "latency", "iteration_latency", "pipeline_ii", "target_ii"],
            "properties": {"name": {"type": "string"}, "trip_count": COUNT, "latency": COUNT,
                           "iteration_latency": COUNT, "pipeline_ii": COUNT, "target_ii": COUNT}}},
    },
}

FLAGS = {"type": "object", "required": ["ii_above_target", "over_board", "clock_missed", "estimate_off"],
         "additionalProperties": False,
         "properties": {k: {"type": ["boolean", "null"]}
                        for k in ["ii_above_target", "over_board", "clock_missed", "estimate_off"]}}
DESIGN_SCHEMA = {
    "type": "object",
    "required": ["kind", "design", "board", "estimate", "csim", "rtl_simulation", "yosys", "vendor", "interop",
                 "comparison", "flags"],
    "properties": {
        "kind": {"const": "design"},
        "comparison": {"type": "array", "items": {
            "type": "object", "required": ["name", "estimate", "measurement", "ratio", "flags"],
            "properties": {"name": {"type": "string"}, "estimate": {"type": ["number", "null"]},
                           "measurement": {"type": ["number", "null"]}, "ratio": {"type": ["number", "null"]},
                           "flags": FLAGS}}},
    },
}


def run(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "spvit_fpga.report", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def run_json(*args) -> dict:
    res = run(*args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)  # standard output holds the JSON and nothing else


@pytest.mark.parametrize("name,text,top", [
    ("conv_csynth.xml", VIVADO_XML, "conv"), ("csynth.xml", VITIS_XML, "accel"),
    ("filter_csynth.rpt", VIVADO_RPT_2018, "filter"), ("csynth.rpt", SUMMARY_RPT_2023, "vit_top"),
])
def test_json_of_one_synthesis_report_follows_the_schema(tmp_path, name, text, top):
    j = run_json(write(tmp_path, name, text))
    jsonschema.validate(j, HLS_CSYNTH_SCHEMA)
    assert j["top"] == top


def test_schema_rejects_a_wrong_shape():
    bad = {"kind": "hls_csynth", "latency_cycles": {"best": 1, "worst": 2, "avg": 1}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, HLS_CSYNTH_SCHEMA)


def test_report_folder_merges_functions_and_target_ii(tmp_path):
    prj = write_solution(tmp_path / "prj")
    j = run_json(prj / "solution1" / "syn" / "report")
    jsonschema.validate(j, HLS_CSYNTH_SCHEMA)
    assert j["top"] == "conv"  # from the project file: there is no csynth.xml
    assert [m["name"] for m in j["modules"]] == ["conv", "filter"]
    loops = {(lp["module"], lp["path"]): lp for lp in j["loops"]}
    assert loops[("conv", "COLS/INNER")]["target_ii"] == 1 and loops[("conv", "COLS/INNER")]["pipeline_ii"] == 2
    assert loops[("filter", "OUTER/INNER")]["target_ii"] == 1
    text = run(prj / "solution1" / "syn" / "report")
    assert text.returncode == 0 and "II above target: conv/COLS/INNER" in text.stdout


def test_project_folder_finds_its_solutions_and_cosim(tmp_path):
    prj = write_solution(tmp_path / "prj")
    write_solution(prj, "solution2")
    j = run_json(prj)
    assert j["kind"] == "hls_project"
    assert [s["solution"] for s in j["solutions"]] == ["solution1", "solution2"]
    jsonschema.validate(j["solutions"][0]["csynth"], HLS_CSYNTH_SCHEMA)
    assert j["solutions"][0]["cosim"]["latency_cycles"] == {"min": 41000, "avg": 42500, "max": 44000}


@pytest.mark.parametrize("name,text,kind", [
    ("impl/accel_utilization_placed.rpt", UTIL_ULTRASCALE, "vivado_utilization"),
    ("impl/timing_summary.rpt", TIMING_FAIL, "vivado_timing"),
    ("sim/report/conv_cosim.rpt", COSIM_PASS, "hls_cosim"),
    ("sim/report/verilog/lat.rpt", LAT_RPT, "hls_cosim"),
])
def test_vivado_and_cosim_files(tmp_path, name, text, kind):
    path = write(tmp_path, name, text)
    assert run_json(path)["kind"] == kind
    res = run(path)
    assert res.returncode == 0 and res.stdout.strip()


def test_board_option_and_part_lookup(tmp_path):
    path = write(tmp_path, "conv_csynth.xml", VIVADO_XML)
    assert "/ 2520 " in run(path).stdout  # zcu102 found by the part (and the report's own available DSP)
    res = run(path, "--board", "pynq-z2")
    assert res.returncode == 0 and "DSP              18 / 220 (8 %)" in res.stdout  # the board asked for
    bad = run(path, "--board", "no-such-board")
    assert bad.returncode == 2 and "unknown board 'no-such-board'" in bad.stderr


# ------------------------------------------------------------------------------------------------
# Design folders
# ------------------------------------------------------------------------------------------------

def write_design(folder: Path, *, vendor: bool = True) -> Path:
    """A design folder with every source filled by hand, its manifest in the old layout (the HLS
    design's cost model and kernels per layer, before issue 11; the current layout is checked on
    generated designs in ``test_report_estimates``) with a dataflow RTL design."""
    manifest = {
        "generator": {"name": "spvit_fpga", "version": "0.1.0"},
        "model": {"name": "tiny", "description": "hand-written test design", "random_weights": False,
                  "config": {"img_size": 8, "patch_size": 2, "selector_blocks": [1], "keep_ratios": [0.5]}},
        "board": {"name": "zcu102", "part": "xczu9eg-ffvb1156-2-e", "clock_mhz": 300.0, "clock_period_ns": 3.333},
        "resources": {"cost_model": {"dsp": 100, "bram18": 10, "lut": 5000},
                      "dsp": {"total": 120, "board": 2520}},
        "estimate": {"clock_mhz": 300.0, "target_kept": [8], "kept_tokens": [8],
                     "cost_model": {"total_cycles": 3000, "latency_ms": 0.01,
                                    "layers": [{"name": "embed", "kind": "gemm", "tokens": 16, "cycles": 1000},
                                               {"name": "block0.attn.scores", "kind": "attention", "cycles": 500},
                                               {"name": "head", "kind": "gemm", "cycles": 1500}]},
                     "kernels": {"total_cycles": 4000, "latency_ms": 0.0133,
                                 "layers": [{"name": "embed", "kind": "gemm", "cycles": 1200},
                                            {"name": "block0.attn", "kind": "attention", "cycles": 1300},
                                            {"name": "head", "kind": "gemm", "cycles": 1500}]},
                     "latency_table": []},
        "test_vectors": {"images": 2, "source": "hand-written", "labels": [3, 5]},
        "rtl": {"architecture": "dataflow", "dsp_estimate": {"total": 100}, "bram18_estimate": {"total": 50},
                "estimate": {"kept_tokens": [8], "busiest_unit_cycles": 900, "sum_unit_cycles": 10000,
                             "unit_cycles": [{"unit": "embed", "tokens": 16, "cycles": 900}]},
                "synth": {"lut": 300000, "ff": 20000, "dsp": 104, "bram18": 52, "uram": 0, "yosys_version": "0.70"}},
        "per_layer_cycles": {"embed": 1250, "head": 2000},
        "hls": {"drc": {"warnings": 0}},
        "interop": {"finn": {"rtlsim_cycles": 5000}},
        "a_key_from_the_future": {"x": 1},
    }
    write(folder, "manifest.json", json.dumps(manifest))
    write(folder, "csim.json", json.dumps({
        "images": 2, "bit_exact": 2, "all_bit_exact": True, "summary": "2/2 bit-exact", "accuracy": 0.5,
        "per_image": [{"index": 0, "kept": [7]}, {"index": 1, "kept": [9]}]}))
    write(folder, "rtl_sim.json", json.dumps({
        "images": 2, "bit_exact": 1, "cycles_per_image": [2900, 3100], "stream": False, "mean_cycles": 3000.0,
        "interval_cycles": [2900, 3100], "per_image": [
            {"index": 0, "cycles": 2900, "logits": [0, 0, 0, 9, 0], "kept": [7], "unit_finish_cycles": {"embed": 950}},
            {"index": 1, "cycles": 3100, "logits": [0, 8, 0, 0, 0], "kept": [9], "unit_finish_cycles": {}}]}))
    if vendor:
        write_solution(folder / "spvit_hls_prj")
        write(folder, "vivado/accel_utilization_placed.rpt", UTIL_ULTRASCALE)
        write(folder, "vivado/timing_summary.rpt", TIMING_FAIL)
    return folder


def _by_name(comparison):
    return {c["name"]: c for c in comparison}


def test_design_folder_with_every_source(tmp_path):
    j = run_json(write_design(tmp_path / "design"))
    jsonschema.validate(j, DESIGN_SCHEMA)
    for key in ("estimate", "csim", "rtl_simulation", "yosys", "vendor", "interop"):
        assert j[key], key
    assert j["design"]["other_manifest_keys"] == ["a_key_from_the_future"]
    assert j["estimate"]["hls_checks"] == {"drc": {"warnings": 0}}
    assert j["estimate"]["hls"]["layout"] == "old" and j["estimate"]["hls"]["schedule"] is None
    assert j["interop"] == {"finn": {"rtlsim_cycles": 5000}}
    assert j["csim"]["kept_per_stage"] == [{"stage": 0, "mean": 8.0, "min": 7, "max": 9}]
    assert j["rtl_simulation"]["accuracy"] == 0.5 and j["rtl_simulation"]["all_bit_exact"] is False
    assert j["vendor"]["hls"][0]["path"] == "spvit_hls_prj/solution1"
    c = _by_name(j["comparison"])
    hls = c["design latency (HLS)"]
    assert (hls["estimate"], hls["measurement"], hls["ratio"]) == (4000, 4109, 1.0272)
    assert hls["flags"]["estimate_off"] is False and hls["estimate_source"] == "estimate.hls.kernels (old layout)"
    assert c["design latency (HLS co-simulation)"]["flags"]["estimate_off"] is True  # 42500 vs 4000
    assert c["design latency (RTL, sum of unit cycles)"]["ratio"] == 0.3
    assert c["embed (HLS kernels)"]["measurement"] == 1250  # per_layer_cycles against the layer estimates
    assert (c["embed (HLS kernels)"]["estimate"], c["embed (cost model)"]["estimate"]) == (1200, 1000)
    assert c["embed (RTL unit)"]["estimate"] == 900
    assert c["DSP (RTL design)"]["flags"] == {"ii_above_target": None, "over_board": False, "clock_missed": None,
                                              "estimate_off": False}
    assert c["LUT (RTL design)"]["flags"]["over_board"] is True  # Yosys 300000 > 274080
    assert c["loop II conv/COLS/INNER"]["flags"]["ii_above_target"] is True
    assert c["loop II conv/ROWS/INNER"]["flags"]["ii_above_target"] is False
    assert c["clock period (HLS estimate)"]["flags"]["clock_missed"] is False
    assert c["clock period (Vivado, clk_pl_0)"]["flags"]["clock_missed"] is True
    assert c["clock period (Vivado, clk_pl_0)"]["measurement"] == 3.845  # 3.333 + 0.512
    assert set(j["flags"]["ii_above_target"]) == {"loop II conv/COLS/INNER", "loop II filter/OUTER/INNER"}
    assert "LUT (RTL design)" in j["flags"]["over_board"]
    text = run(tmp_path / "design")
    assert text.returncode == 0 and "loop II conv/COLS/INNER" in text.stdout


def test_design_folder_without_vendor_tools_still_compares(tmp_path):
    j = run_json(write_design(tmp_path / "design", vendor=False))
    assert j["vendor"] is None
    c = _by_name(j["comparison"])
    assert c["design latency (RTL, sum of unit cycles)"]["measurement"] == 3000
    assert c["DSP (RTL design)"]["measurement"] == 104
    assert c["design latency (HLS)"]["measurement"] is None and c["design latency (HLS)"]["estimate"] == 4000


def test_minimal_manifest_is_read_tolerantly(tmp_path):
    write(tmp_path / "d", "manifest.json", json.dumps({"board": {"name": "kv260"}}))
    j = run_json(tmp_path / "d")
    assert j["board"]["name"] == "kv260"
    assert [j[k] for k in ("estimate", "csim", "rtl_simulation", "yosys", "vendor", "interop")] == [None] * 6
    assert run(tmp_path / "d" / "manifest.json").returncode == 0


# ------------------------------------------------------------------------------------------------
# Errors: one line, naming the file, exit 2, no traceback
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,words", [
    (lambda d: write(d, "csynth.xml", VIVADO_XML[:700]), "not well-formed XML"),
    (lambda d: write(d, "empty_csynth.rpt", ""), "empty"),
    (lambda d: write(d, "notes.txt", "Dear diary,\nthe synthesis ran overnight.\n"), "not a report"),
    (lambda d: write(d, "x_csynth.rpt", CONV_RPT[: CONV_RPT.index("| + INNER")]), "truncated"),
    (lambda d: (d / "nothing").mkdir() or d / "nothing", "nothing to report"),
    (lambda d: d / "missing.xml", "no such file"),
    (lambda d: write(d, "design/manifest.json", '{"board": {"na'), "not valid JSON"),
    (lambda d: write(d, "prj/solution1/syn/report/csynth.xml", "<profile><UserAssignments>"), "not well-formed"),
])
def test_bad_input_gives_one_error_line(tmp_path, make, words):
    path = make(tmp_path)
    res = run(path, "--json")
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], res.stderr
    assert str(path) in lines[0] or path.name in lines[0]
    assert "Traceback" not in res.stderr
