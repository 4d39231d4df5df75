"""A design folder written by ``python -m spvit_fpga.generate``: every estimate and measurement in it.

Sources, each under its own key and null when absent:

* ``estimate``: the manifest's ``estimate`` (the HLS schedule of the overlay engine's program and
  the RTL engine's cycle model of it, per instruction; kept tokens, latency table; the old layout's
  cost model and kernels per layer), ``resources`` (DSP/BRAM estimates) and ``rtl.estimate`` (the
  RTL overlay's cycle model per instruction, or the dataflow design's units) with ``rtl.resources``
  / ``rtl.dsp_estimate`` / ``rtl.bram18_estimate``; ``per_layer_cycles`` and ``hls`` (engine,
  ``drc``) when the manifest has them;
* ``csim``: ``csim.json`` (g++ C-simulation against the reference; the estimates at the kept tokens
  each image had);
* ``rtl_simulation``: ``rtl_sim.json``, else the manifest's ``rtl.simulation`` (Verilator cycles;
  the overlay's cycles per instruction of the first image);
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


def _layers(series: Any, name_key: str = "name", cycles_key: str = "cycles") -> list[dict]:
    """``[{name, cycles, ...}]`` of a per-layer / per-instruction series; ``op``, ``tokens``, ``stall``
    and ``trips`` are kept when the series has them."""
    out = []
    for item in _list(series):
        if isinstance(item, dict) and _num(item.get(cycles_key)) is not None:
            rec = {"name": str(item.get(name_key, item.get("unit", item.get("name", "?")))),
                   "cycles": item[cycles_key], "tokens": item.get("tokens")}
            for key in ("op", "stall", "trips"):
                if key in item:
                    rec[key] = item[key]
            out.append(rec)
    return out


def _per_layer(value: Any) -> list[dict]:
    """``per_layer_cycles`` as ``[{name, cycles}]`` from a dict or a list of records."""
    if isinstance(value, dict):
        return [{"name": str(k), "cycles": v} for k, v in value.items() if _num(v) is not None]
    return _layers(value)


def _series(total: Any, ms: Any, layers: list[dict], **extra: Any) -> dict:
    return {"total_cycles": _num(total), "latency_ms": _num(ms), **extra, "layers": layers}


def _hls_latency(est: dict) -> dict:
    """The HLS design's latency estimates, by manifest layout:

    * ``overlay`` (current): ``estimate.kernels`` is the schedule of the HLS face of the overlay
      engine, one record per instruction (``cycles``, ``stall``, ``trips``) with the RTL engine's
      cycle model of the same program beside it (``rtl_cycles``, total ``rtl_engine_cycles``);
      ``estimate.sections`` (the ``generate --estimate`` JSON) is read the same way;
    * ``old``: ``estimate.cost_model`` and ``estimate.kernels`` per layer (the HLS design before
      issue 11), kept as they were.
    """
    kernels, sections = _dict(est.get("kernels")), _dict(est.get("sections"))
    k_layers = _list(kernels.get("layers"))
    if sections:
        h, r = _dict(sections.get("hls")), _dict(sections.get("rtl_engine"))
        return {"layout": "overlay",
                "schedule": _series(h.get("total_cycles"), h.get("latency_ms"), _layers(h.get("layers"))) if h else None,
                "engine_model": _series(r.get("total_cycles"), r.get("latency_ms"), _layers(r.get("layers")))
                if r else None,
                "cost_model": None, "kernels": None}
    if "rtl_engine_cycles" in kernels or any(isinstance(x, dict) and "op" in x for x in k_layers):
        return {"layout": "overlay",
                "schedule": _series(kernels.get("total_cycles"), kernels.get("latency_ms"), _layers(k_layers),
                                    stall_cycles=kernels.get("stall_cycles"),
                                    param_stream_bytes=kernels.get("param_stream_bytes"),
                                    ddr_bound_cycles=kernels.get("ddr_bound_cycles")),
                "engine_model": _series(kernels.get("rtl_engine_cycles"), kernels.get("rtl_engine_ms"),
                                        _layers(k_layers, cycles_key="rtl_cycles"))
                if "rtl_engine_cycles" in kernels else None,
                "cost_model": None, "kernels": None}
    cm = _dict(est.get("cost_model"))
    if not (cm or kernels):
        return {"layout": None, "schedule": None, "engine_model": None, "cost_model": None, "kernels": None}
    return {"layout": "old",
            "schedule": None, "engine_model": None,
            "cost_model": _series(cm.get("total_cycles"), cm.get("latency_ms"), _layers(cm.get("layers"))) if cm else None,
            "kernels": _series(kernels.get("total_cycles"), kernels.get("latency_ms"), _layers(k_layers))
            if kernels else None}


def _engine(value: Any) -> Optional[dict]:
    e = _dict(value)
    return {"lanes": e.get("lanes"), "ports": e.get("ports")} if e else None


def _rtl_estimate(rtl: dict) -> Optional[dict]:
    """``rtl.estimate``: the overlay engine's cycle model (``cycles``, ``per_layer`` per instruction,
    resources under ``rtl.resources``) or the dataflow design's units (``unit_cycles``, resources
    under ``rtl.dsp_estimate`` / ``rtl.bram18_estimate``)."""
    if not rtl:
        return None
    est, res = _dict(rtl.get("estimate")), _dict(rtl.get("resources"))
    dsp = _dict(rtl.get("dsp_estimate")) or _dict(res.get("dsp"))
    bram = _dict(rtl.get("bram18_estimate")) or _dict(res.get("bram18"))
    return {
        "architecture": rtl.get("architecture"),
        "engine": _engine(rtl.get("engine")),
        "kept_tokens": est.get("kept_tokens"),
        "cycles": _num(est.get("cycles")),
        "latency_ms": _num(est.get("ms")),
        "per_instruction": _layers(est.get("per_layer")),
        "unit_cycles": _layers(est.get("unit_cycles"), name_key="unit"),
        "busiest_unit_cycles": est.get("busiest_unit_cycles"),
        "sum_unit_cycles": est.get("sum_unit_cycles"),
        "resources": {"DSP": dsp.get("total"), "BRAM_18K": bram.get("total"), "LUT": None, "FF": None, "URAM": None},
    }


def _estimate(manifest: dict) -> Optional[dict]:
    est, res, rtl = _dict(manifest.get("estimate")), _dict(manifest.get("resources")), _dict(manifest.get("rtl"))
    if not (est or res or rtl.get("estimate")):
        return None
    dsp, bram = _dict(res.get("dsp")), _dict(res.get("bram18"))
    cost = _dict(res.get("cost_model"))  # old layout
    hls_res = {"DSP": dsp.get("total", cost.get("dsp")), "BRAM_18K": bram.get("total", cost.get("bram18")),
               "LUT": cost.get("lut"), "FF": cost.get("ff"), "URAM": cost.get("uram")}
    out = {
        "clock_mhz": est.get("clock_mhz"),
        "target_kept": est.get("target_kept"),
        "kept_tokens": est.get("kept_tokens"),
        "hls": {
            **_hls_latency(est),
            "engine": _engine(_dict(manifest.get("hls")).get("engine")),
            "latency_table": _list(est.get("latency_table")),
            "resources": hls_res if any(v is not None for v in hls_res.values()) else None,
            "resources_cost_model": {"DSP": cost.get("dsp"), "BRAM_18K": cost.get("bram18"), "LUT": cost.get("lut"),
                                     "FF": cost.get("ff"), "URAM": cost.get("uram")} if cost else None,
        },
        "rtl": _rtl_estimate(rtl),
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
        "estimated_latency_ms": _mean_estimates(per),
    }


def _mean_estimates(per_image: list) -> Optional[dict]:
    """Mean of the per-image ``estimated_latency_ms`` (the estimates at the kept tokens each image
    had in C-simulation: ``hls`` schedule, ``rtl_engine`` cycle model)."""
    recs = [_dict(r.get("estimated_latency_ms")) for r in per_image if isinstance(r, dict)]
    recs = [r for r in recs if r]
    if not recs:
        return None
    keys = sorted({k for r in recs for k in r if all(_num(x.get(k)) is not None for x in recs)})
    return {k: round(sum(r[k] for r in recs) / len(recs), 6) for k in keys} or None


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
        "engine_cycles": data.get("engine_cycles"),
        "per_layer_cycles": _layers(data.get("per_layer_cycles")) or None,
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

