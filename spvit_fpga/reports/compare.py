"""The comparison list of a design report: every estimate next to every measurement of it.

Each entry names a layer, kernel, loop, resource or clock and gives the estimate, the
measurement (either may be null: an estimate with nothing to measure it against is still
listed), their ratio (measurement / estimate) and four flags, each true, false or null (does not
apply):

* ``ii_above_target``: a loop whose achieved initiation interval is above its target;
* ``over_board``: a resource count above what the board has;
* ``clock_missed``: the HLS clock estimate misses the target less its uncertainty, or Vivado's
  worst negative slack is below zero;
* ``estimate_off``: the estimate is more than 10 % from the measurement.

Pairings, each only where both sides exist:

* latency: the HLS schedule's cycles against HLS C-synthesis (worst case) and C/RTL
  co-simulation; the RTL overlay's cycle model (or the dataflow RTL's sum of unit cycles, which
  assumes no overlap) against Verilator's cycles per image, and the HLS engine's cycle model too
  when the RTL is the same engine; the busiest RTL unit against the measured interval of
  back-to-back images;
* per instruction: the RTL overlay's cycle model against the RTL simulation's cycles of each
  instruction (first image); per HLS unit function (``ov_gemm``, ``ov_layernorm``, ...) the longest
  call of the HLS schedule against the C-synthesis module's worst case;
* per layer (old layout, and the dataflow RTL's units): any estimate series against any measured
  series with the same layer names (HLS modules, ``per_layer_cycles``);
* resources: the HLS design's estimates against HLS C-synthesis and Vivado utilisation; the RTL
  estimates against Yosys; every count against the board;
* clock: the target period against HLS's estimate and Vivado's achieved period (target - WNS);
* loops: each pipelined loop's target II against its achieved II.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from .csynth_records import RESOURCE_KEYS

OFF_LIMIT = 0.10
FLAG_KEYS = ("ii_above_target", "over_board", "clock_missed", "estimate_off")


def _num(v: Any) -> Optional[float]:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def entry(name: str, kind: str, unit: str, estimate: Any, estimate_source: Optional[str], measurement: Any,
          measurement_source: Optional[str], *, board: Optional[float] = None, ii: Optional[bool] = None,
          clock: Optional[bool] = None) -> dict:
    est, meas = _num(estimate), _num(measurement)
    ratio = round(meas / est, 4) if est and meas is not None else None
    # a clock period or an II is judged against its target by its own flag, not by the 10 % rule
    off = None if ratio is None or kind in ("clock", "loop") else abs(ratio - 1.0) > OFF_LIMIT
    over = None
    if board is not None:
        worst = meas if meas is not None else est
        over = None if worst is None else worst > board
    return {
        "name": name, "kind": kind, "unit": unit,
        "estimate": est, "estimate_source": estimate_source,
        "measurement": meas, "measurement_source": measurement_source,
        "ratio": ratio, "board": board,
        "flags": {"ii_above_target": ii, "over_board": over, "clock_missed": clock, "estimate_off": off},
    }


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _hls_total(hls: dict) -> tuple[Any, str]:
    """The HLS design's whole-image estimate and where it comes from (current or old layout)."""
    sched = hls.get("schedule") or {}
    if sched.get("total_cycles") is not None:
        return sched["total_cycles"], "estimate.hls.schedule"
    return (hls.get("kernels") or {}).get("total_cycles"), "estimate.hls.kernels (old layout)"


def _same_engine(est: dict) -> bool:
    """The RTL design is the same overlay engine (lanes, ports) as the HLS design's."""
    rtl, hls = est.get("rtl") or {}, est.get("hls") or {}
    return (rtl.get("architecture") == "overlay" and rtl.get("engine") is not None
            and rtl.get("engine") == hls.get("engine"))


def _latency_entries(rep) -> list[dict]:
    out = []
    est = rep.estimate or {}
    hls = est.get("hls") or {}
    k_cycles, k_src = _hls_total(hls)
    csynth, cosim = rep.vendor.csynth, rep.vendor.cosim
    if csynth is not None or k_cycles is not None:
        out.append(entry("design latency (HLS)", "latency", "cycles", k_cycles, k_src,
                         csynth.latency.worst if csynth else None, "vendor.csynth (worst case)" if csynth else None))
    if cosim is not None and cosim.main is not None:
        out.append(entry("design latency (HLS co-simulation)", "latency", "cycles", k_cycles, k_src,
                         cosim.main.latency_avg, f"vendor.cosim ({cosim.main.language}, average)"))
    rtl = est.get("rtl") or {}
    sim = rep.rtl_simulation or {}
    model = hls.get("engine_model") or {}
    if model.get("total_cycles") is not None:
        same = _same_engine(est)
        out.append(entry("design latency (RTL engine model of the HLS engine)", "latency", "cycles",
                         model["total_cycles"], "estimate.hls.engine_model", sim.get("mean_cycles") if same else None,
                         "rtl_simulation (mean)" if same and sim else None))
    if rtl.get("architecture") == "overlay" or rtl.get("cycles") is not None:
        out.append(entry("design latency (RTL overlay, cycle model)", "latency", "cycles", rtl.get("cycles"),
                         "estimate.rtl", sim.get("mean_cycles"), "rtl_simulation (mean)" if sim else None))
    elif rtl.get("sum_unit_cycles") is not None or sim.get("mean_cycles") is not None:
        out.append(entry("design latency (RTL, sum of unit cycles)", "latency", "cycles", rtl.get("sum_unit_cycles"),
                         "estimate.rtl", sim.get("mean_cycles"), "rtl_simulation (mean)" if sim else None))
    intervals = sim.get("interval_cycles") if sim.get("stream") else None
    if isinstance(intervals, list) and len(intervals) > 1 and rtl.get("busiest_unit_cycles") is not None:
        later = [v for v in intervals[1:] if _num(v) is not None]
        if later:
            out.append(entry("design interval (RTL, busiest unit)", "interval", "cycles",
                             rtl.get("busiest_unit_cycles"), "estimate.rtl", round(sum(later) / len(later), 1),
                             "rtl_simulation (mean interval, images back to back)"))
    return out


def unit_function(op: str) -> str:
    """The HLS function that runs an instruction of ``op`` (``GEMM`` -> ``ov_gemm``: src/spvit_top.cpp)."""
    return "ov_" + op.lower()


def csynth_unit_latency(csynth, function: str) -> Optional[Any]:
    """The C-synthesis module of an HLS unit function (Vitis names a template instance
    ``ov_gemm_Cfg_s`` or ``ov_gemm<...>``): the first whose name is the function's or starts with it
    followed by ``_`` or ``<``."""
    for m in csynth.modules:
        if m.name == function or m.name.startswith(function + "_") or m.name.startswith(function + "<"):
            return m
    return None


def _instruction_entries(rep) -> list[dict]:
    """Per instruction (current layout): the RTL overlay's cycle model against the RTL simulation's
    cycles of the same instruction (and the HLS engine's model too when the RTL engine is the same);
    per HLS unit function: the longest call the HLS schedule expects against C-synthesis' worst case."""
    est = rep.estimate or {}
    hls, rtl, sim = est.get("hls") or {}, est.get("rtl") or {}, rep.rtl_simulation or {}
    out = []
    measured = {x["name"]: x["cycles"] for x in sim.get("per_layer_cycles") or []}
    series = [("estimate.rtl", "RTL engine model", rtl.get("per_instruction"))]
    if _same_engine(est):
        series.append(("estimate.hls.engine_model", "RTL engine model of the HLS engine",
                       (hls.get("engine_model") or {}).get("layers")))
    for src, short, layers in series:
        for x in layers or []:
            if x["name"] in measured:
                out.append(entry(f"{x['name']} ({short})", "instruction latency", "cycles", x["cycles"], src,
                                 measured[x["name"]], "rtl_simulation (first image)"))
    csynth = rep.vendor.csynth
    sched = (hls.get("schedule") or {}).get("layers") or []
    if csynth is not None and sched:
        longest: dict[str, int] = {}
        for x in sched:
            if x.get("op"):
                fn = unit_function(x["op"])
                longest[fn] = max(longest.get(fn, 0), int(x["cycles"]))
        for fn, cycles in longest.items():
            m = csynth_unit_latency(csynth, fn)
            if m is not None:
                out.append(entry(f"{fn} (HLS schedule, longest call)", "unit latency", "cycles", cycles,
                                 "estimate.hls.schedule", m.latency.worst, f"vendor.csynth module {m.name} (worst case)"))
    return out


def _layer_entries(rep) -> list[dict]:
    """Old layout: any per-layer estimate series against any measured series of the same names."""
    est = rep.estimate or {}
    hls = est.get("hls") or {}
    estimates = []
    for label, short, series in (("estimate.hls.cost_model (old layout)", "cost model",
                                  (hls.get("cost_model") or {}).get("layers")),
                                 ("estimate.hls.kernels (old layout)", "HLS kernels",
                                  (hls.get("kernels") or {}).get("layers")),
                                 ("estimate.rtl", "RTL unit", (est.get("rtl") or {}).get("unit_cycles"))):
        if series:
            estimates.append((label, short, {_norm(x["name"]): x for x in series}))
    measured = []
    if est.get("per_layer_cycles"):
        measured.append(("per_layer_cycles", est["per_layer_cycles"]))
    csynth = rep.vendor.csynth
    if csynth is not None and len(csynth.modules) > 1:
        measured.append(("vendor.csynth modules", [{"name": m.name, "cycles": m.latency.worst}
                                                   for m in csynth.modules[1:]]))
    out = []
    for m_label, series in measured:
        for item in series:
            for e_label, short, by_name in estimates:
                match = by_name.get(_norm(item["name"]))
                if match is not None:
                    out.append(entry(f"{item['name']} ({short})", "layer latency", "cycles", match["cycles"], e_label,
                                     item.get("cycles"), m_label))
    return out


def _resource_entries(rep) -> list[dict]:
    est = rep.estimate or {}
    board = (rep.board or {}).get("resources") or {}
    hls_est = (est.get("hls") or {}).get("resources") or {}
    rtl_est = (est.get("rtl") or {}).get("resources") or {}
    csynth = rep.vendor.csynth
    util = rep.vendor.utilization[0] if rep.vendor.utilization else None
    yosys = (rep.yosys or {}).get("resources") or {}
    out = []
    for key in RESOURCE_KEYS:
        cap = _num(board.get(key))
        pairs = []
        if hls_est.get(key) is not None or (csynth and csynth.resources.get(key) is not None):
            pairs.append(("HLS design", hls_est.get(key), "estimate.hls",
                          csynth.resources.get(key) if csynth else None, "vendor.csynth" if csynth else None))
        if util is not None and util.used.get(key) is not None:
            pairs.append(("HLS design, Vivado", hls_est.get(key), "estimate.hls", util.used.get(key),
                          f"vendor.vivado_utilization ({util.state or 'state unknown'})"))
        if rtl_est.get(key) is not None or yosys.get(key) is not None:
            pairs.append(("RTL design", rtl_est.get(key), "estimate.rtl", yosys.get(key),
                          "yosys" if yosys.get(key) is not None else None))
        for label, e, e_src, m, m_src in pairs:
            if e is None and m is None:
                continue
            out.append(entry(f"{key} ({label})", "resource", "count", e, e_src if e is not None else None,
                             m, m_src, board=cap))
    return out


def _clock_entries(rep) -> list[dict]:
    out = []
    target = (rep.design or {}).get("clock_period_ns")
    if target is None and (rep.design or {}).get("clock_mhz"):
        target = round(1000.0 / rep.design["clock_mhz"], 3)
    csynth = rep.vendor.csynth
    if csynth is not None:
        t = csynth.clock_target_ns if csynth.clock_target_ns is not None else target
        out.append(entry("clock period (HLS estimate)", "clock", "ns", t, "vendor.csynth target" if
                         csynth.clock_target_ns is not None else "design clock", csynth.clock_estimated_ns,
                         "vendor.csynth estimate", clock=csynth.clock_missed))
    for tim in rep.vendor.timing:
        clk = tim.clocks[0] if tim.clocks else None
        period = clk.period_ns if clk else target
        achieved = round(period - tim.wns_ns, 3) if period is not None and tim.wns_ns is not None else None
        out.append(entry(f"clock period (Vivado, {clk.name if clk else 'design'})", "clock", "ns", period,
                         "vivado_timing constraint" if clk else "design clock", achieved,
                         "vivado_timing (period - WNS)", clock=tim.clock_missed))
    return out


def _loop_entries(rep) -> list[dict]:
    csynth = rep.vendor.csynth
    if csynth is None:
        return []
    out = []
    for lp in csynth.loops:
        if lp.pipeline_ii is None and not lp.ii_above_target:
            continue
        ach = lp.pipeline_ii.hi if hasattr(lp.pipeline_ii, "hi") else lp.pipeline_ii
        tgt = lp.target_ii.hi if hasattr(lp.target_ii, "hi") else lp.target_ii
        out.append(entry(f"loop II {lp.module}/{'/'.join(lp.path)}", "loop", "cycles", tgt, "target II"
                         if tgt is not None else None, ach, "vendor.csynth achieved II", ii=lp.ii_above_target))
    return out


def build_comparison(rep) -> list[dict]:
    return (_latency_entries(rep) + _instruction_entries(rep) + _layer_entries(rep) + _resource_entries(rep) + _clock_entries(rep)
            + _loop_entries(rep))


def flag_summary(comparison: list[dict]) -> dict:
    """For each flag, the names of the entries that raise it."""
    return {key: [c["name"] for c in comparison if c["flags"].get(key)] for key in FLAG_KEYS}
