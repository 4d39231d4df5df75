"""The report on designs written by the current ``generate``: the HLS face of the overlay engine
(``estimate.kernels``: the HLS schedule per instruction with the RTL engine's cycle model beside it)
and the RTL overlay (``rtl.estimate``: its cycle model per instruction, ``rtl.resources``).

Every expected estimate is read from the generated manifest; every measurement (RTL simulation
cycles per instruction, a C-synthesis module, C-simulation records) is written here by hand in the
layouts ``simulate`` / Vitis HLS / ``--csim`` write, so each pairing is checked with known numbers.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from test_report_samples import VITIS_XML, write

def _quiet(main, argv: list[str]) -> str:
    """Run a command's main() in this process (one import of torch and matplotlib for the file);
    its standard output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()[-2000:]
    return out.getvalue()


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """Two designs of the current ``generate`` (in one fixture, so an xdist worker generates them
    once): ``small``, an RTL overlay of L = 8 and 2 ports, another engine than the HLS design's
    (L = 32, 4 ports on zcu102); ``same``, the board's default RTL overlay, the HLS design's engine."""
    from spvit_fpga.generate import main

    root = tmp_path_factory.mktemp("gen")
    common = ["--board", "zcu102", "--images", "1", "--quiet", "--rtl", "--rtl-arch", "overlay"]
    _quiet(main, [*common, "--out", str(root / "small"), "--rtl-lanes", "8", "--rtl-ports", "2"])
    _quiet(main, [*common, "--out", str(root / "same")])
    return {"small": root / "small", "same": root / "same"}


@pytest.fixture
def small_overlay(designs):
    return designs["small"]


@pytest.fixture
def same_overlay(designs):
    return designs["same"]


def _copy(design: Path, tmp_path: Path) -> tuple[Path, dict]:
    out = tmp_path / "design"
    shutil.copytree(design, out)
    return out, json.loads((out / "manifest.json").read_text())


def report_json(path: Path) -> dict:
    from spvit_fpga.report import main

    return json.loads(_quiet(main, [str(path), "--json"]))


def _by_name(j: dict) -> dict:
    return {c["name"]: c for c in j["comparison"]}


def test_estimates_of_the_current_layout(small_overlay, tmp_path):
    design, m = _copy(small_overlay, tmp_path)
    kern, rtl = m["estimate"]["kernels"], m["rtl"]
    j = report_json(design)
    hls = j["estimate"]["hls"]
    assert hls["layout"] == "overlay" and hls["cost_model"] is None and hls["kernels"] is None
    sched, model = hls["schedule"], hls["engine_model"]
    assert (sched["total_cycles"], sched["stall_cycles"]) == (kern["total_cycles"], kern["stall_cycles"])
    assert (sched["param_stream_bytes"], sched["ddr_bound_cycles"]) == (kern["param_stream_bytes"],
                                                                        kern["ddr_bound_cycles"])
    assert [(x["name"], x["op"], x["cycles"], x["stall"], x["trips"]) for x in sched["layers"]] == [
        (x["name"], x["op"], x["cycles"], x["stall"], x["trips"]) for x in kern["layers"]]
    assert model["total_cycles"] == kern["rtl_engine_cycles"]
    assert [x["cycles"] for x in model["layers"]] == [x["rtl_cycles"] for x in kern["layers"]]
    assert hls["engine"] == {"lanes": m["hls"]["engine"]["lanes"], "ports": m["hls"]["engine"]["ports"]}
    assert hls["resources"]["DSP"] == m["resources"]["dsp"]["total"]
    assert hls["resources"]["BRAM_18K"] == m["resources"]["bram18"]["total"]

    r = j["estimate"]["rtl"]
    assert (r["architecture"], r["engine"]) == ("overlay", {"lanes": 8, "ports": 2})
    assert (r["cycles"], r["kept_tokens"]) == (rtl["estimate"]["cycles"], rtl["estimate"]["kept_tokens"])
    assert [(x["name"], x["cycles"]) for x in r["per_instruction"]] == [
        (x["name"], x["cycles"]) for x in rtl["estimate"]["per_layer"]]

    c = _by_name(j)
    assert c["design latency (HLS)"]["estimate"] == kern["total_cycles"]
    assert c["design latency (HLS)"]["estimate_source"] == "estimate.hls.schedule"
    assert c["design latency (RTL engine model of the HLS engine)"]["estimate"] == kern["rtl_engine_cycles"]
    assert c["design latency (RTL overlay, cycle model)"]["estimate"] == rtl["estimate"]["cycles"]
    assert c["DSP (RTL design)"]["estimate"] == rtl["resources"]["dsp"]["total"]
    assert c["BRAM_18K (RTL design)"]["estimate"] == rtl["resources"]["bram18"]["total"]
    assert c["BRAM_18K (HLS design)"]["estimate"] == m["resources"]["bram18"]["total"]
    # nothing measured yet: the estimates stand alone, no flag raised
    assert all(e["measurement"] is None for e in j["comparison"])
    assert not any(j["flags"].values())


CSYNTH_GEMM_WORST = 1030  # the submodule's worst-case latency in VITIS_XML


def _measurements(design: Path, m: dict) -> dict:
    """RTL simulation (first instruction 50 % slower than its estimate, the rest as estimated), a
    Vitis C-synthesis report naming the top ``spvit_top`` and a GEMM unit module, and a C-sim record."""
    per = [{"name": x["name"], "cycles": x["cycles"]} for x in m["rtl"]["estimate"]["per_layer"]]
    per[0]["cycles"] = per[0]["cycles"] * 3 // 2
    total = sum(x["cycles"] for x in per) + 40
    sim = {"architecture": "overlay", "images": 1, "bit_exact": 1, "cycles_per_image": [total],
           "engine_cycles": [total - 40], "mean_cycles": float(total), "per_layer_cycles": per,
           "ddr_bytes": [1000], "per_image": [{"index": 0, "cycles": total, "kept": [40, 30, 20],
                                               "logits": [0, 0, 5, 0, 0, 0, 0, 0, 0, 0]}]}
    write(design, "rtl_sim.json", json.dumps(sim))
    xml = VITIS_XML.replace("accel_Pipeline_MAC", "ov_gemm_Cfg_OvIn_s").replace("accel", "spvit_top")
    write(design / "spvit_hls_prj" / "solution1" / "syn" / "report", "csynth.xml", xml)
    write(design, "csim.json", json.dumps({
        "images": 2, "bit_exact": 2, "all_bit_exact": True, "summary": "2/2 bit-exact", "accuracy": 1.0,
        "per_image": [{"index": 0, "kept": [40, 30, 20], "estimated_latency_ms": {"hls": 0.1, "rtl_engine": 0.09}},
                      {"index": 1, "kept": [42, 28, 18], "estimated_latency_ms": {"hls": 0.2, "rtl_engine": 0.11}}]}))
    return sim


def test_measurements_beside_the_estimates(small_overlay, tmp_path):
    design, m = _copy(small_overlay, tmp_path)
    sim = _measurements(design, m)
    j = report_json(design)
    c = _by_name(j)
    per = m["rtl"]["estimate"]["per_layer"]
    first, second = per[0]["name"], per[1]["name"]
    e = c[f"{first} (RTL engine model)"]
    assert (e["estimate"], e["measurement"]) == (per[0]["cycles"], per[0]["cycles"] * 3 // 2)
    assert e["flags"]["estimate_off"] is True and first + " (RTL engine model)" in j["flags"]["estimate_off"]
    e = c[f"{second} (RTL engine model)"]
    assert (e["estimate"], e["measurement"], e["ratio"]) == (per[1]["cycles"], per[1]["cycles"], 1.0)
    assert e["flags"]["estimate_off"] is False
    assert sum(1 for n in c if n.endswith("(RTL engine model)")) == len(per)
    whole = c["design latency (RTL overlay, cycle model)"]
    assert (whole["estimate"], whole["measurement"]) == (m["rtl"]["estimate"]["cycles"], sim["mean_cycles"])
    # the RTL is another engine than the HLS design's: its simulation does not measure the HLS engine's model
    assert c["design latency (RTL engine model of the HLS engine)"]["measurement"] is None
    assert not any(n.endswith("(RTL engine model of the HLS engine)") and n.startswith(first) for n in c)
    # C-synthesis: the HLS schedule's longest GEMM call against the ov_gemm module's worst case
    gemm = max(x["cycles"] for x in m["estimate"]["kernels"]["layers"] if x["op"] == "GEMM")
    g = c["ov_gemm (HLS schedule, longest call)"]
    assert (g["estimate"], g["measurement"]) == (gemm, CSYNTH_GEMM_WORST)
    assert g["measurement_source"] == "vendor.csynth module ov_gemm_Cfg_OvIn_s (worst case)"
    assert not any(n.startswith("ov_layernorm") for n in c)  # no such module in the report
    assert j["rtl_simulation"]["per_layer_cycles"][0] == {"name": first, "cycles": per[0]["cycles"] * 3 // 2,
                                                          "tokens": None}
    assert j["csim"]["estimated_latency_ms"] == {"hls": 0.15, "rtl_engine": 0.1}


def test_same_engine_pairs_the_hls_engine_model(same_overlay, tmp_path):
    design, m = _copy(same_overlay, tmp_path)
    assert m["rtl"]["engine"]["lanes"] == m["hls"]["engine"]["lanes"]
    sim = _measurements(design, m)
    c = _by_name(report_json(design))
    kern = m["estimate"]["kernels"]["layers"]
    e = c[f"{kern[1]['name']} (RTL engine model of the HLS engine)"]
    assert (e["estimate"], e["measurement"]) == (kern[1]["rtl_cycles"], sim["per_layer_cycles"][1]["cycles"])
    whole = c["design latency (RTL engine model of the HLS engine)"]
    assert (whole["estimate"], whole["measurement"]) == (m["estimate"]["kernels"]["rtl_engine_cycles"],
                                                         sim["mean_cycles"])


class Tables(HTMLParser):
    """Every table of a page with the bold line before it (the page's table caption), rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._strong = None
        self._last_strong = ""
        self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": self._last_strong, "rows": []})
            self._last_strong = ""
        elif tag == "strong":
            self._strong = ""
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "strong" and self._strong is not None:
            self._last_strong, self._strong = self._strong, None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._strong is not None:
            self._strong += data
        elif self._cell is not None:
            self._cell += data


def test_html_per_instruction_table(small_overlay, tmp_path):
    design, m = _copy(small_overlay, tmp_path)
    sim = _measurements(design, m)
    out = tmp_path / "report.html"
    from spvit_fpga.report import main

    _quiet(main, [str(design), "--html", str(out)])
    p = Tables()
    p.feed(out.read_text())
    (table,) = [t for t in p.tables if "cycles per instruction" in t["caption"]]
    header, *rows = table["rows"]
    assert header[:3] == ["instruction", "op", "HLS schedule"]
    kern, rtl_per = m["estimate"]["kernels"]["layers"], m["rtl"]["estimate"]["per_layer"]
    assert len(rows) == len(kern)
    gemm = [i for i, x in enumerate(kern) if x["op"] == "GEMM"][0]
    for i in (0, gemm):
        assert rows[i] == [kern[i]["name"], kern[i]["op"], f"{kern[i]['cycles']:,}", f"{kern[i]['stall']:,}",
                           f"{kern[i]['rtl_cycles']:,}", f"{rtl_per[i]['cycles']:,}",
                           f"{sim['per_layer_cycles'][i]['cycles']:,}",
                           f"{CSYNTH_GEMM_WORST:,}" if kern[i]["op"] == "GEMM" else "\u2013"]
