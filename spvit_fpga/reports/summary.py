"""The plain-text view of a report (what the command prints without ``--json``)."""
from __future__ import annotations

from typing import Any, Optional

from .compare import FLAG_KEYS
from .csynth_records import RESOURCE_KEYS, CsynthReport


def _v(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _resources(used: dict, avail: dict, board: Optional[dict]) -> list[str]:
    cap = (board or {}).get("resources") or {}
    lines = []
    for key in RESOURCE_KEYS:
        of = cap.get(key) if cap.get(key) is not None else avail.get(key)  # a board given wins
        pct = f" ({100.0 * used[key] / of:.0f} %)" if used.get(key) is not None and of else ""
        lines.append(f"  {key:<9} {_v(used.get(key)):>9} / {_v(of)}{pct}")
    return lines


def csynth_text(r: CsynthReport, board: Optional[dict]) -> str:
    out = [f"{r.tool or 'HLS'} {r.version or '?'} C-synthesis of {r.top} for {r.part} ({r.source.name})",
           f"clock: target {_v(r.clock_target_ns)} ns, uncertainty {_v(r.clock_uncertainty_ns)} ns, estimated "
           f"{_v(r.clock_estimated_ns)} ns" + ("  MISSED" if r.clock_missed else ""),
           f"latency: best {_v(r.latency.best)}, worst {_v(r.latency.worst)} cycles; interval {_v(r.interval.min)}"
           f"..{_v(r.interval.max)} cycles; pipeline {r.pipeline_type or '-'}",
           "resources (used / available):"]
    out += _resources(r.resources, r.available, board)
    out.append(f"modules: {len(r.modules)}, loops: {len(r.loops)}")
    for lp in r.loops:
        if lp.ii_above_target:
            out.append(f"  II above target: {lp.module}/{'/'.join(lp.path)} II {_v(lp.pipeline_ii)} "
                       f"(target {_v(lp.target_ii)})")
    return "\n".join(out)


def design_text(j: dict) -> str:
    d = j["design"]
    out = [f"design: {d.get('description') or d.get('model')}; board {d.get('board')} ({d.get('part')}), "
           f"{_v(d.get('clock_mhz'))} MHz",
           "sources: " + ", ".join(f"{k} {'yes' if j.get(k) else 'no'}"
                                   for k in ("estimate", "csim", "rtl_simulation", "yosys", "vendor", "interop"))]
    if j.get("csim"):
        out.append(f"C-sim: {j['csim'].get('summary') or _v(j['csim'].get('bit_exact'))}, accuracy "
                   f"{_v(j['csim'].get('accuracy'))}")
        est = j["csim"].get("estimated_latency_ms")
        if est:
            out.append("  estimates at the kept tokens of its images (mean ms): "
                       + ", ".join(f"{k} {_v(v)}" for k, v in est.items()))
    if j.get("rtl_simulation"):
        s = j["rtl_simulation"]
        out.append(f"RTL sim: {_v(s.get('bit_exact'))}/{_v(s.get('images'))} bit-exact, mean {_v(s.get('mean_cycles'))} "
                   f"cycles, accuracy {_v(s.get('accuracy'))}")
    out.append(f"{'comparison':<52} {'estimate':>12} {'measured':>12} {'ratio':>7}  flags")
    for c in j["comparison"]:
        flags = ",".join(k for k in FLAG_KEYS if c["flags"].get(k))
        out.append(f"{c['name'][:52]:<52} {_v(c['estimate']):>12} {_v(c['measurement']):>12} {_v(c['ratio']):>7}  {flags}")
    return "\n".join(out)


def text_of(loaded) -> str:
    """A few readable lines per kind of report."""
    if loaded.kind == "hls_csynth":
        return csynth_text(loaded.report, loaded.board)
    if loaded.kind == "design":
        return design_text(loaded.to_json())
    if loaded.kind == "hls_project":
        parts = []
        for s in loaded.report.solutions:
            parts.append(f"[{s.name}]")
            if s.csynth:
                parts.append(csynth_text(s.csynth, loaded.board))
            if s.cosim:
                m = s.cosim.main
                parts.append(f"cosim: {m.language if m else '-'} {m.status if m else 'not run'}; latency "
                             f"{_v(m.latency_avg) if m else '-'} cycles (avg)")
        return "\n".join(parts)
    r = loaded.report
    if loaded.kind == "vivado_utilization":
        out = [f"Vivado {r.version or '?'} utilization of {r.design or '?'} on {r.device or '?'} "
               f"({r.state or 'state unknown'}):"]
        return "\n".join(out + _resources(r.used, r.available, loaded.board))
    if loaded.kind == "vivado_timing":
        return (f"Vivado {r.version or '?'} timing of {r.design or '?'} on {r.device or '?'}: WNS {_v(r.wns_ns)} ns, "
                f"TNS {_v(r.tns_ns)} ns ({_v(r.tns_failing_endpoints)} failing endpoints), WHS {_v(r.whs_ns)} ns, "
                f"WPWS {_v(r.wpws_ns)} ns; constraints met: {_v(r.constraints_met)}"
                + "".join(f"\n  clock {c.name}: {_v(c.period_ns)} ns ({_v(c.frequency_mhz)} MHz)" for c in r.clocks))
    lines = [f"C/RTL co-simulation ({r.simulator or '?'}, {r.solution or '?'}):"]
    for run in r.runs:
        lines.append(f"  {run.language:<8} {run.status or '-':<5} latency {_v(run.latency_min)}/{_v(run.latency_avg)}/"
                     f"{_v(run.latency_max)} cycles (min/avg/max), interval {_v(run.interval_min)}/"
                     f"{_v(run.interval_avg)}/{_v(run.interval_max)}")
    return "\n".join(lines)
