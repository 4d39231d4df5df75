"""A design folder written by ``python -m spvit_fpga.generate``: every estimate and measurement in it.

Sources, each under its own key and null when absent:

* ``estimate``: the manifest's ``estimate`` (cost model and generated-kernel cycles per layer,
  kept tokens, latency table), ``resources`` (DSP/BRAM/LUT estimates) and ``rtl.estimate`` with
  ``rtl.dsp_estimate`` / ``rtl.bram18_estimate``; ``per_layer_cycles`` and ``hls`` (e.g. ``drc``)
  when the manifest has them;
* ``csim``: ``csim.json`` (g++ C-simulation against the reference);
* ``rtl_simulation``: ``rtl_sim.json``, else the manifest's ``rtl.simulation`` (Verilator cycles);
* ``yosys``: the manifest's ``rtl.synth`` (Yosys cell counts);
* ``vendor``: any Vivado/Vitis HLS project below the folder (``spvit_hls_prj/solution1/syn/report``
  after ``vitis_hls -f run_hls.tcl``), co-simulation reports, Vivado utilisation and timing
  reports;
* ``interop``: the manifest's ``interop`` (FINN or hls4ml results), or ``interop.json``.

The manifest is read tolerantly: any key may be missing, and keys this reader does not know are
listed under ``design.other_manifest_keys`` instead of being dropped silently.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from spvit_fpga.errors import UserError

from ._board import board_for_part, board_summary
from ._text import read_text
from .hls_folder import Solution, _relative, find_report_folders, read_solution, walk
from .vivado_timing import TimingSummary, is_timing_summary, parse_vivado_timing
from .vivado_util import UtilizationReport, is_utilization, parse_vivado_util

KNOWN_MANIFEST_KEYS = {"generator", "model", "board", "interfaces", "parallelism", "resources", "weights", "estimate",
                       "test_vectors", "files", "rtl", "hls", "per_layer_cycles", "interop"}


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _num(value: Any) -> Optional[float]:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_json(path: Path, what: str) -> Any:
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); truncated or damaged {what}") from None


@dataclass
class VendorReports:
    solutions: list[Solution] = field(default_factory=list)
    utilization: list[UtilizationReport] = field(default_factory=list)
    timing: list[TimingSummary] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.solutions or self.utilization or self.timing)

    def to_json(self, base: Path) -> Optional[dict]:
        if not self:
            return None
        return {
            "hls": [s.to_json(base) for s in self.solutions],
            "vivado_utilization": [dict(u.to_json(), path=_relative(u.source, base)) for u in self.utilization],
            "vivado_timing": [dict(t.to_json(), path=_relative(t.source, base)) for t in self.timing],
        }

    @property
    def csynth(self):
        """The first synthesised solution's report (the one compared with the estimates)."""
        return next((s.csynth for s in self.solutions if s.csynth is not None), None)

    @property
    def cosim(self):
        return next((s.cosim for s in self.solutions if s.cosim is not None), None)


def find_vendor_reports(root: Path) -> VendorReports:
    """Every vendor report below ``root``: HLS solutions, and Vivado ``.rpt`` files by content."""
    out = VendorReports(solutions=[read_solution(rf) for rf in find_report_folders(root)])
    for here, _, files in walk(root):
        if here.name == "report" and here.parent.name in ("syn", "sim"):
            continue
        for name in files:
            if not name.endswith(".rpt"):
                continue
            path = here / name
            try:
                with open(path, "r", errors="replace") as fh:
                    head = fh.read(8000)
            except OSError:
                continue
            if is_utilization(head):
                out.utilization.append(parse_vivado_util(path))
            elif is_timing_summary(head):
                out.timing.append(parse_vivado_timing(path))
    return out


def _layers(series: Any, name_key: str = "name") -> list[dict]:
    out = []
    for item in _list(series):
        if isinstance(item, dict) and _num(item.get("cycles")) is not None:
            out.append({"name": str(item.get(name_key, item.get("unit", item.get("name", "?")))),
                        "cycles": item["cycles"], "tokens": item.get("tokens")})
    return out


def _per_layer(value: Any) -> list[dict]:
    """``per_layer_cycles`` as ``[{name, cycles}]`` from a dict or a list of records."""
    if isinstance(value, dict):
        return [{"name": str(k), "cycles": v} for k, v in value.items() if _num(v) is not None]
    return _layers(value)


def _estimate(manifest: dict) -> Optional[dict]:
    est, res, rtl = _dict(manifest.get("estimate")), _dict(manifest.get("resources")), _dict(manifest.get("rtl"))
    if not (est or res or rtl.get("estimate")):
        return None
    cm, kernels = _dict(est.get("cost_model")), _dict(est.get("kernels"))
    rtl_est = _dict(rtl.get("estimate"))
    dsp = _dict(res.get("dsp"))
    cost = _dict(res.get("cost_model"))
    out = {
        "clock_mhz": est.get("clock_mhz"),
        "target_kept": est.get("target_kept"),
        "kept_tokens": est.get("kept_tokens"),
        "hls": {
            "cost_model": {"total_cycles": cm.get("total_cycles"), "latency_ms": cm.get("latency_ms"),
                           "layers": _layers(cm.get("layers"))} if cm else None,
            "kernels": {"total_cycles": kernels.get("total_cycles"), "latency_ms": kernels.get("latency_ms"),
                        "layers": _layers(kernels.get("layers"))} if kernels else None,
            "latency_table": _list(est.get("latency_table")),
            "resources": {"DSP": dsp.get("total", cost.get("dsp")), "BRAM_18K": cost.get("bram18"),
                          "LUT": cost.get("lut"), "FF": cost.get("ff"), "URAM": cost.get("uram")} if (dsp or cost) else None,
            "resources_cost_model": {"DSP": cost.get("dsp"), "BRAM_18K": cost.get("bram18"), "LUT": cost.get("lut"),
                                     "FF": cost.get("ff"), "URAM": cost.get("uram")} if cost else None,
        },
        "rtl": {
            "architecture": rtl.get("architecture"),
            "kept_tokens": rtl_est.get("kept_tokens"),
            "unit_cycles": _layers(rtl_est.get("unit_cycles"), name_key="unit"),
            "busiest_unit_cycles": rtl_est.get("busiest_unit_cycles"),
            "sum_unit_cycles": rtl_est.get("sum_unit_cycles"),
            "resources": {"DSP": _dict(rtl.get("dsp_estimate")).get("total"),
                          "BRAM_18K": _dict(rtl.get("bram18_estimate")).get("total"),
                          "LUT": None, "FF": None, "URAM": None},
        } if rtl else None,
        "per_layer_cycles": None,
        "hls_checks": manifest.get("hls") if isinstance(manifest.get("hls"), dict) else None,
    }
    for where in (manifest, est, rtl):
        if "per_layer_cycles" in where:
            out["per_layer_cycles"] = _per_layer(where["per_layer_cycles"])
            break
    return out


def _kept_stats(per_image: list) -> Optional[list[dict]]:
    kept = [r.get("kept") for r in per_image if isinstance(r, dict) and isinstance(r.get("kept"), list)]
    if not kept:
        return None
    stages = min(len(k) for k in kept)
    out = []
    for s in range(stages):
        vals = [k[s] for k in kept if _num(k[s]) is not None]
        if vals:
            out.append({"stage": s, "mean": round(sum(vals) / len(vals), 3), "min": min(vals), "max": max(vals)})
    return out


def _csim(folder: Path) -> Optional[dict]:
    path = folder / "csim.json"
    if not path.is_file():
        return None
    data = _dict(read_json(path, "csim.json"))
    per = _list(data.get("per_image"))
    return {
        "images": data.get("images"), "bit_exact": data.get("bit_exact"), "all_bit_exact": data.get("all_bit_exact"),
        "summary": data.get("summary"), "accuracy": data.get("accuracy"), "compiler": data.get("compiler"),
        "kept_per_stage": _kept_stats(per),
    }


def _argmax(values: list) -> Optional[int]:
    nums = [v for v in values if _num(v) is not None]
    if not nums or len(nums) != len(values):
        return None
    return max(range(len(values)), key=lambda i: (values[i], -i))


def _rtl_simulation(folder: Path, manifest: dict) -> Optional[dict]:
    path = folder / "rtl_sim.json"
    data = _dict(read_json(path, "rtl_sim.json")) if path.is_file() else _dict(_dict(manifest.get("rtl")).get("simulation"))
    if not data:
        return None
    per = _list(data.get("per_image"))
    labels = _list(_dict(manifest.get("test_vectors")).get("labels"))
    accuracy = None
    preds = [_argmax(_list(r.get("logits"))) for r in per if isinstance(r, dict)]
    if per and labels and len(preds) <= len(labels) and all(p is not None for p in preds):
        idx = [r.get("index", i) for i, r in enumerate(per)]
        hits = sum(1 for p, i in zip(preds, idx) if isinstance(i, int) and i < len(labels) and labels[i] == p)
        accuracy = round(hits / len(preds), 6)
    images = data.get("images")
    bit_exact = data.get("bit_exact")
    return {
        "source": "rtl_sim.json" if path.is_file() else "manifest.rtl.simulation",
        "images": images, "bit_exact": bit_exact,
        "all_bit_exact": (bit_exact == images) if isinstance(images, int) and isinstance(bit_exact, int) else None,
        "stream": data.get("stream"), "cycles_per_image": data.get("cycles_per_image"),
        "mean_cycles": data.get("mean_cycles"), "interval_cycles": data.get("interval_cycles"),
        "load_cycles": data.get("load_cycles"), "accuracy": accuracy,
        "kept_per_stage": _kept_stats(per),
    }


def _yosys(manifest: dict) -> Optional[dict]:
    synth = _dict(_dict(manifest.get("rtl")).get("synth"))
    if not synth:
        return None
    return {
        "resources": {"LUT": synth.get("lut"), "FF": synth.get("ff"), "DSP": synth.get("dsp"),
                      "BRAM_18K": synth.get("bram18"), "URAM": synth.get("uram")},
        "carry": synth.get("carry"), "lutram": synth.get("lutram"), "srl": synth.get("srl"),
        "family": synth.get("family"), "yosys_version": synth.get("yosys_version"),
    }


def _interop(folder: Path, manifest: dict) -> Optional[Any]:
    if manifest.get("interop") is not None:
        return manifest["interop"]
    path = folder / "interop.json"
    return read_json(path, "interop.json") if path.is_file() else None


@dataclass
class DesignReport:
    folder: Path
    design: dict
    board: Optional[dict]
    estimate: Optional[dict]
    csim: Optional[dict]
    rtl_simulation: Optional[dict]
    yosys: Optional[dict]
    vendor: VendorReports
    interop: Optional[Any]
    comparison: list = field(default_factory=list)

    def to_json(self) -> dict:
        from .compare import flag_summary

        return {
            "kind": "design",
            "design": self.design,
            "board": self.board,
            "estimate": self.estimate,
            "csim": self.csim,
            "rtl_simulation": self.rtl_simulation,
            "yosys": self.yosys,
            "vendor": self.vendor.to_json(self.folder),
            "interop": self.interop,
            "comparison": self.comparison,
            "flags": flag_summary(self.comparison),
        }


def read_design(folder: Path, board_name: Optional[str] = None) -> DesignReport:
    """Everything a generated design folder holds, with the comparison list built."""
    from .compare import build_comparison

    manifest = read_json(folder / "manifest.json", "manifest.json")
    if not isinstance(manifest, dict):
        raise UserError(f"{folder / 'manifest.json'}: a JSON {type(manifest).__name__}, not an object: not a "
                        f"design manifest")
    model, mboard, gen = _dict(manifest.get("model")), _dict(manifest.get("board")), _dict(manifest.get("generator"))
    rtl = _dict(manifest.get("rtl"))
    name = board_name or mboard.get("name")
    board = board_summary(name) if board_name else None
    if board is None and isinstance(name, str):
        try:
            board = board_summary(name)
        except UserError:
            board = None
    if board is None:
        board = board_for_part(mboard.get("part"))
    if board is None and isinstance(_dict(manifest.get("resources")).get("board"), dict):
        b = manifest["resources"]["board"]
        board = {"name": mboard.get("name"), "part": mboard.get("part"), "clock_mhz": mboard.get("clock_mhz"),
                 "resources": {"LUT": b.get("lut"), "FF": b.get("ff"), "BRAM_18K": b.get("bram18"),
                               "URAM": b.get("uram"), "DSP": b.get("dsp")}}
    if board is not None and board_name is None and mboard.get("clock_mhz"):
        board = dict(board, clock_mhz=mboard["clock_mhz"])  # the design's clock, not the board default
    cfg = _dict(model.get("config"))
    design = {
        "model": model.get("name"), "description": model.get("description"),
        "random_weights": model.get("random_weights"), "dataset": model.get("dataset"),
        "selector_blocks": cfg.get("selector_blocks"), "keep_ratios": cfg.get("keep_ratios"),
        "num_patches": (cfg["img_size"] // cfg["patch_size"]) ** 2
        if isinstance(cfg.get("img_size"), int) and isinstance(cfg.get("patch_size"), int) and cfg["patch_size"] else None,
        "board": mboard.get("name"), "part": mboard.get("part"), "clock_mhz": mboard.get("clock_mhz"),
        "clock_period_ns": mboard.get("clock_period_ns"), "generator_version": gen.get("version"),
        "rtl_architecture": rtl.get("architecture"),
        "test_vectors": _dict(manifest.get("test_vectors")).get("source"),
        "other_manifest_keys": sorted(k for k in manifest if k not in KNOWN_MANIFEST_KEYS),
    }
    rep = DesignReport(
        folder=folder, design=design, board=board, estimate=_estimate(manifest), csim=_csim(folder),
        rtl_simulation=_rtl_simulation(folder, manifest), yosys=_yosys(manifest),
        vendor=find_vendor_reports(folder), interop=_interop(folder, manifest),
    )
    rep.comparison = build_comparison(rep)
    return rep

