"""The ``--html`` view: one self-contained page rendered from ``templates/report.html.j2``.

Plots are PNG data URIs (no file beside the page, no URL in it); the page is written to a
temporary file next to the target and renamed over it, so a reader never sees half a page.
Sections of a design page: overview, resources, latency, tokens, accuracy, verdicts, flags,
comparison and (when present) vendor; a single vendor report gets the sections it can fill.
"""
from __future__ import annotations

import os
import re
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import jinja2

from spvit_fpga.errors import UserError

from . import plots
from .compare import FLAG_KEYS
from .csynth_records import RESOURCE_KEYS, CsynthReport
from .hls_folder import Solution

TEMPLATES = Path(__file__).resolve().parent / "templates"
FLAG_TEXT = {
    "ii_above_target": "loop II above its target",
    "over_board": "resources above the board",
    "clock_missed": "clock missed",
    "estimate_off": "estimate more than 10 % from the measurement",
}


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict) and set(v) == {"min", "max"}:
        return f"{_fmt(v['min'])} ~ {_fmt(v['max'])}"
    return str(v)


def _cell(v: Any) -> dict:
    return {"text": _fmt(v), "num": isinstance(v, (int, float)) and not isinstance(v, bool)}


def _table(columns: list[str], rows: list[list[Any]], caption: str = "", flagged: Optional[list[bool]] = None) -> dict:
    flagged = flagged or [False] * len(rows)
    return {"columns": columns, "caption": caption,
            "rows": [{"cells": [_cell(v) for v in row], "flagged": f} for row, f in zip(rows, flagged)]}


def _section(sid: str, title: str, **parts: Any) -> dict:
    return {"id": sid, "title": title, "paragraphs": parts.get("paragraphs", []), "images": parts.get("images", []),
            "tables": parts.get("tables", []), "verdicts": parts.get("verdicts", [])}


def _image(src: Optional[str], alt: str) -> list[dict]:
    return [{"src": src, "alt": alt}] if src else []


def _verdict(label: str, ok: Optional[bool], text: str) -> dict:
    return {"label": label, "css": "na" if ok is None else "ok" if ok else "bad", "text": text}


# ------------------------------------------------------------------------------------------------
# One C-synthesis report
# ------------------------------------------------------------------------------------------------


def _capacity(avail: dict, board: Optional[dict]) -> tuple[dict, str]:
    if board and board.get("resources"):
        return board["resources"], f"board {board.get('name')}"
    return avail, "available on the part"


def csynth_sections(r: CsynthReport, board: Optional[dict], prefix: str = "") -> list[dict]:
    cap, cap_label = _capacity(r.available, board)
    over = [k for k in RESOURCE_KEYS if r.resources.get(k) is not None and cap.get(k) and r.resources[k] > cap[k]]
    ii_loops = [lp for lp in r.loops if lp.ii_above_target]
    overview = _section(
        f"{prefix}overview", f"C-synthesis: {r.top}",
        tables=[_table(["item", "value"], [
            ["tool", f"{r.tool or '?'} {r.version or ''}".strip()], ["part", r.part], ["top function", r.top],
            ["report", r.source.name], ["clock target (ns)", r.clock_target_ns],
            ["clock uncertainty (ns)", r.clock_uncertainty_ns], ["clock estimated (ns)", r.clock_estimated_ns],
            ["latency best / worst (cycles)", f"{_fmt(r.latency.best)} / {_fmt(r.latency.worst)}"],
            ["interval min / max (cycles)", f"{_fmt(r.interval.min)} / {_fmt(r.interval.max)}"],
            ["pipeline type", r.pipeline_type],
        ])],
        paragraphs=list(r.notes),
    )
    res = _section(
        f"{prefix}resources", "Resources",
        images=_image(plots.resources_plot([("C-synthesis estimate", r.resources)], cap, cap_label),
                      f"resources of {r.top} as a share of the {cap_label}"),
        tables=[_table(["resource", "used", "available", cap_label if board else "share"],
                       [[k, r.resources.get(k), r.available.get(k),
                         (f"{100.0 * r.resources[k] / cap[k]:.1f} %" if r.resources.get(k) is not None and cap.get(k)
                          else None)] for k in RESOURCE_KEYS],
                       flagged=[k in over for k in RESOURCE_KEYS])],
    )
    mods = [m for m in r.modules if m.latency.worst is not None]
    modules = _section(
        f"{prefix}latency", "Latency per module",
        images=_image(plots.layers_plot([m.name for m in mods[:40]], [("worst-case latency (C-synthesis)",
                                                                        [m.latency.worst for m in mods[:40]])]),
                      "worst-case latency per module, cycles" + (f" (the first 40 of {len(mods)})" if len(mods) > 40
                                                                   else "")) if len(mods) > 1 else [],
        tables=[_table(["module", "latency best", "latency worst", "interval min", "interval max", "pipeline",
                        *RESOURCE_KEYS],
                       [[m.name, m.latency.best, m.latency.worst, m.interval.min, m.interval.max, m.pipeline_type,
                         *[m.resources.get(k) for k in RESOURCE_KEYS]] for m in r.modules])],
    )
    loops = _section(
        f"{prefix}loops", "Loops",
        tables=[_table(["module", "loop", "trip count", "latency", "iteration latency", "II", "target II"],
                       [[lp.module, "/".join(lp.path), _json_count(lp.trip_count), _json_count(lp.latency),
                         _json_count(lp.iteration_latency), _json_count(lp.pipeline_ii), _json_count(lp.target_ii)]
                        for lp in r.loops], flagged=[bool(lp.ii_above_target) for lp in r.loops])]
        if r.loops else [], paragraphs=[] if r.loops else ["The report lists no loops."],
    )
    flags = _section(f"{prefix}flags", "Flags", verdicts=[
        _verdict("clock", None if r.clock_missed is None else not r.clock_missed,
                 "unknown (the report gives no clock estimate)" if r.clock_missed is None
                 else "missed" if r.clock_missed else "met"),
        _verdict(f"resources against the {cap_label}", not over, ", ".join(over) + " above" if over else "within"),
        _verdict("loop II", not ii_loops, f"{len(ii_loops)} loop(s) above target: "
                 + ", ".join(f"{lp.module}/{'/'.join(lp.path)}" for lp in ii_loops[:20]) if ii_loops
                 else "no loop above its target"),
    ])
    return [overview, res, modules, loops, flags]


def _json_count(v: Any) -> Any:
    return v.to_json() if hasattr(v, "to_json") else v


def _cosim_section(s: Solution, prefix: str) -> dict:
    c = s.cosim
    m = c.main
    return _section(
        f"{prefix}cosim", "C/RTL co-simulation",
        verdicts=[_verdict("co-simulation", c.passed, f"{m.language} {m.status}" if m else "not run")],
        tables=[_table(["RTL", "status", "latency min", "avg", "max", "interval min", "avg", "max", "total"],
                       [[r.language, r.status, r.latency_min, r.latency_avg, r.latency_max, r.interval_min,
                         r.interval_avg, r.interval_max, r.total_cycles] for r in c.runs])],
    )


# ------------------------------------------------------------------------------------------------
# A design folder
# ------------------------------------------------------------------------------------------------


def _names_union(*lists: list[dict]) -> list[str]:
    """Layer names of several series in flow order: a name missing from the first series goes
    right after the name that precedes it in its own series."""
    out: list[str] = []
    for lst in lists:
        prev: Optional[str] = None
        for item in lst or []:
            name = item["name"]
            if name not in out:
                out.insert(out.index(prev) + 1 if prev in out else len(out) if prev else 0, name)
            prev = name
    return out


def _by_name(lst: Optional[list[dict]], names: list[str]) -> list[Optional[float]]:
    m = {x["name"]: x["cycles"] for x in lst or []}
    return [m.get(n) for n in names]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _instruction_table(sched: list[dict], model: list[dict], rtl: list[dict], sim: list[dict],
                       csynth: Optional[CsynthReport]) -> tuple[list[list[Any]], list[str], list]:
    """Rows of the per-instruction table (current layout), and the cycles summed per op for the plot."""
    from .compare import csynth_unit_latency, unit_function

    names = _names_union(sched, rtl, sim)
    if not names:
        return [], [], []
    by = [{x["name"]: x for x in lst} for lst in (sched, model, rtl, sim)]
    ops = {n: next((b[n].get("op") for b in by if n in b and b[n].get("op")), None) for n in names}
    fn_worst: dict[str, Any] = {}
    if csynth is not None:
        for op in {o for o in ops.values() if o}:
            m = csynth_unit_latency(csynth, unit_function(op))
            fn_worst[op] = m.latency.worst if m is not None else None

    def cyc(i: int, n: str, key: str = "cycles") -> Any:
        return by[i][n].get(key) if n in by[i] else None

    rows = [[n, ops[n], cyc(0, n), cyc(0, n, "stall"), cyc(1, n), cyc(2, n), cyc(3, n), fn_worst.get(ops[n])]
            for n in names]
    op_names = sorted({o for o in ops.values() if o}, key=lambda o: [ops[n] for n in names].index(o))
    labels = ["HLS schedule (estimate)", "RTL engine model of the HLS engine (estimate)",
              "RTL overlay cycle model (estimate)", "RTL simulation (first image)"]
    series = []
    for i, label in enumerate(labels):
        sums = []
        for op in op_names:
            vals = [cyc(i, n) for n in names if ops[n] == op]
            sums.append(sum(vals) if vals and all(v is not None for v in vals) else None)
        series.append((label, sums))
    return rows, op_names, series


def design_sections(j: dict, rep) -> list[dict]:
    d, board = j["design"], j.get("board") or {}
    est = j.get("estimate") or {}
    hls = est.get("hls") or {}
    rtl = est.get("rtl") or {}
    sim = j.get("rtl_simulation") or {}
    csim = j.get("csim") or {}
    yosys = j.get("yosys") or {}
    csynth, cosim = rep.vendor.csynth, rep.vendor.cosim
    util = rep.vendor.utilization[0] if rep.vendor.utilization else None
    present = {k: bool(j.get(k)) for k in ("estimate", "csim", "rtl_simulation", "yosys", "vendor", "interop")}
    overview = _section("overview", "Design", tables=[_table(["item", "value"], [
        ["model", d.get("description") or d.get("model")], ["board", d.get("board")], ["part", d.get("part")],
        ["clock", f"{_fmt(d.get('clock_mhz'))} MHz ({_fmt(d.get('clock_period_ns'))} ns)"],
        ["RTL architecture", d.get("rtl_architecture")], ["test vectors", d.get("test_vectors")],
        ["sources found", ", ".join(k for k, v in present.items() if v) or "none"],
        ["sources absent", ", ".join(k for k, v in present.items() if not v) or "none"],
    ])], paragraphs=([] if present["vendor"] else [
        "No vendor report was found below this folder: the estimates are set beside the open-source measurements "
        "(C-simulation, Verilator cycles, Yosys counts) only. Run vitis_hls -f run_hls.tcl here and this command "
        "again to add Vitis HLS synthesis and co-simulation."]))

    cap = board.get("resources") or {}
    res_series = [("HLS estimate", hls.get("resources") or {}),
                  ("HLS C-synthesis", csynth.resources if csynth else {}),
                  ("Vivado utilization", util.used if util else {}),
                  ("RTL estimate", rtl.get("resources") or {}),
                  ("Yosys (RTL)", yosys.get("resources") or {})]
    res_rows = [[label, *[vals.get(k) for k in RESOURCE_KEYS]] for label, vals in res_series if any(
        vals.get(k) is not None for k in RESOURCE_KEYS)]
    res_rows.append([f"board {board.get('name') or '?'}", *[cap.get(k) for k in RESOURCE_KEYS]])
    over_rows = [any(isinstance(v, (int, float)) and cap.get(k) and v > cap[k] for k, v in zip(RESOURCE_KEYS, row[1:]))
                 for row in res_rows]
    resources = _section("resources", "Resources against the board",
                         images=_image(plots.resources_plot(res_series, cap, f"board {board.get('name')}"),
                                       "resources of every estimate and measurement as a share of the board"),
                         tables=[_table(["source", *RESOURCE_KEYS], res_rows, flagged=over_rows)])

    sched, model = hls.get("schedule") or {}, hls.get("engine_model") or {}
    old = " (estimate, old layout)"
    totals = [("HLS schedule (estimate)", sched.get("total_cycles"), "estimate"),
              ("RTL engine model of the HLS engine (estimate)", model.get("total_cycles"), "estimate"),
              ("HLS cost model" + old, (hls.get("cost_model") or {}).get("total_cycles"), "estimate"),
              ("HLS kernels" + old, (hls.get("kernels") or {}).get("total_cycles"), "estimate"),
              ("HLS C-synthesis, worst case", csynth.latency.worst if csynth else None, "measured"),
              ("HLS co-simulation, average", cosim.main.latency_avg if cosim and cosim.main else None, "measured"),
              ("RTL overlay cycle model (estimate)", rtl.get("cycles"), "estimate"),
              ("RTL sum of unit cycles (estimate)", rtl.get("sum_unit_cycles"), "estimate"),
              ("RTL simulation, mean", sim.get("mean_cycles"), "measured")]
    cm_layers = (hls.get("cost_model") or {}).get("layers") or []
    k_layers = (hls.get("kernels") or {}).get("layers") or []
    measured_layers = est.get("per_layer_cycles") or []
    vendor_layers = [{"name": m.name, "cycles": m.latency.worst} for m in csynth.modules[1:]] if csynth else []
    names = _names_union(k_layers, cm_layers)
    by_norm = {_norm(n): n for n in names}
    vend = {by_norm[_norm(x["name"])]: x["cycles"] for x in vendor_layers if _norm(x["name"]) in by_norm}
    meas = {by_norm[_norm(x["name"])]: x["cycles"] for x in measured_layers if _norm(x["name"]) in by_norm}
    layer_series = [("HLS cost model" + old, _by_name(cm_layers, names)),
                    ("HLS kernels" + old, _by_name(k_layers, names)),
                    ("per-layer cycles (measured)", [meas.get(n) for n in names]),
                    ("HLS C-synthesis module", [vend.get(n) for n in names])]
    ins_rows, op_names, op_series = _instruction_table(sched.get("layers") or [], model.get("layers") or [],
                                                        rtl.get("per_instruction") or [], sim.get("per_layer_cycles") or [],
                                                        csynth)
    units = rtl.get("unit_cycles") or []
    finish = _rtl_unit_finish(rep)
    unit_names = [u["name"] for u in units]
    latency_images = (
        _image(plots.totals_plot(totals), "whole-design latency per image: every estimate and measurement")
        + _image(plots.layers_plot(op_names, op_series),
                 "cycles per instruction kind (summed over the program): estimates against measurements")
        + _image(plots.layers_plot(names, layer_series), "latency per layer of the HLS design (cycles)")
        + _image(plots.layers_plot(unit_names, [("RTL unit busy cycles (estimate)", [u["cycles"] for u in units]),
                                                ("RTL finish cycle after the first pixel (simulation)",
                                                 [finish.get(_norm(n)) for n in unit_names])]),
                 "RTL units: estimated busy cycles per frame, and when each finished in the simulation")
    )
    paragraphs = []
    if rtl.get("sum_unit_cycles"):
        paragraphs.append("The RTL's sum of unit cycles assumes the units never overlap; units that stream token by "
                          "token do overlap, so the simulation is expected below it.")
    if ins_rows:
        paragraphs.append("Per instruction: the HLS schedule (stall = cycles waiting for weights), the RTL engine's "
                          "cycle model of the HLS engine, the RTL overlay's cycle model of the RTL design's engine "
                          "(the same figures when both engines have the same lanes and ports), the RTL simulation's "
                          "cycles of the first image, and the C-synthesis worst case of the HLS function that runs "
                          "the instruction (one call). Estimates are at the target kept tokens, the simulation at "
                          "the tokens its image kept.")
    if hls.get("layout") == "old":
        paragraphs.append("This manifest has the old layout (cost model and kernels per layer, before the HLS design "
                          "became the overlay engine's HLS face).")
    tables = [_table(["figure", "cycles", "kind"], [[a, b, c] for a, b, c in totals if b is not None])]
    if ins_rows:
        tables.append(_table(["instruction", "op", "HLS schedule", "HLS stall", "RTL engine model (HLS engine)",
                              "RTL overlay model", "RTL simulation", "C-synthesis function (worst)"], ins_rows,
                             caption="cycles per instruction"))
    latency = _section("latency", "Latency", images=latency_images, tables=tables, paragraphs=paragraphs)

    kept_target = est.get("target_kept") or []
    stages = len(kept_target) or len((csim.get("kept_per_stage") or []))
    tok_series = [("target (estimate)", kept_target, None)]
    tok_rows = [["target (estimate)", *kept_target]]
    for label, src in (("C-simulation", csim), ("RTL simulation", sim)):
        ks = src.get("kept_per_stage") or []
        if ks:
            tok_series.append((f"{label} mean (min-max)", [k["mean"] for k in ks],
                               ([k["min"] for k in ks], [k["max"] for k in ks])))
            tok_rows.append([f"{label} mean", *[k["mean"] for k in ks]])
    tokens = _section("tokens", "Tokens kept per stage",
                      images=_image(plots.tokens_plot(stages, tok_series, d.get("num_patches")),
                                    "patch tokens kept at each selector stage"),
                      tables=[_table(["source", *[f"stage {i}" for i in range(stages)]], tok_rows)] if stages else [],
                      paragraphs=[] if stages else ["The manifest gives no kept-token targets."])

    accuracy = _section("accuracy", "Accuracy on the design's test vectors", tables=[_table(
        ["source", "images", "accuracy"],
        [["C-simulation", csim.get("images"), csim.get("accuracy")],
         ["RTL simulation", sim.get("images"), sim.get("accuracy")]])],
        paragraphs=[f"Test vectors: {d.get('test_vectors') or 'unknown'}."])

    verdicts = _section("verdicts", "Verdicts", verdicts=[
        _verdict("C-simulation against the reference", csim.get("all_bit_exact") if csim else None,
                 csim.get("summary") or f"{_fmt(csim.get('bit_exact'))}/{_fmt(csim.get('images'))} bit-exact"
                 if csim else "not run"),
        _verdict("RTL simulation against the reference", sim.get("all_bit_exact") if sim else None,
                 f"{_fmt(sim.get('bit_exact'))}/{_fmt(sim.get('images'))} bit-exact" if sim else "not run"),
        _verdict("HLS C/RTL co-simulation", cosim.passed if cosim else None,
                 f"{cosim.main.language} {cosim.main.status}" if cosim and cosim.main else "not run"),
    ])

    comp = j.get("comparison") or []
    flagged = [c for c in comp if any(c["flags"].get(k) for k in FLAG_KEYS)]
    flags = _section("flags", "Flags", verdicts=[
        _verdict(FLAG_TEXT[k], not j["flags"][k], ", ".join(j["flags"][k]) if j["flags"][k] else "none")
        for k in FLAG_KEYS])
    comparison = _section("comparison", "Estimates against measurements", tables=[_table(
        ["name", "estimate", "from", "measurement", "from", "ratio", "flags"],
        [[c["name"], c["estimate"], c["estimate_source"], c["measurement"], c["measurement_source"], c["ratio"],
          ", ".join(k for k in FLAG_KEYS if c["flags"].get(k)) or None] for c in comp],
        flagged=[c in flagged for c in comp])])
    sections = [overview, resources, latency, tokens, accuracy, verdicts, flags, comparison]
    for s in rep.vendor.solutions:
        if s.csynth is not None:
            sections += [dict(sec, title=f"Vendor ({s.name}): {sec['title']}")
                         for sec in csynth_sections(s.csynth, rep.board, prefix=f"vendor-{s.name}-")]
        if s.cosim is not None:
            sections.append(_cosim_section(s, f"vendor-{s.name}-"))
    return sections


def _rtl_unit_finish(rep) -> dict:
    """``{normalised unit name: finish cycle}`` of the first simulated image, when recorded."""
    path = rep.folder / "rtl_sim.json"
    if not path.is_file():
        return {}
    import json

    try:
        data = json.loads(path.read_text())
        first = data["per_image"][0]["unit_finish_cycles"]
    except (ValueError, KeyError, IndexError, TypeError, OSError):
        return {}
    return {_norm(k): v for k, v in first.items() if isinstance(v, (int, float))} if isinstance(first, dict) else {}


# ------------------------------------------------------------------------------------------------
# The page
# ------------------------------------------------------------------------------------------------


def _sections_for(loaded) -> tuple[str, str, list[dict]]:
    kind, r = loaded.kind, loaded.report
    if kind == "design":
        j = loaded.to_json()
        d = j["design"]
        return (f"spvit_fpga design report: {d.get('model') or '?'} on {d.get('board') or '?'}",
                f"{d.get('part') or ''}, {_fmt(d.get('clock_mhz'))} MHz", design_sections(j, r))
    if kind == "hls_csynth":
        return (f"HLS C-synthesis report: {r.top}", f"{r.tool or ''} {r.version or ''}, {r.part or ''}",
                csynth_sections(r, loaded.board))
    if kind == "hls_project":
        sections = []
        for s in r.solutions:
            if s.csynth is not None:
                sections += [dict(sec, title=f"{s.name}: {sec['title']}")
                             for sec in csynth_sections(s.csynth, loaded.board, prefix=f"{s.name}-")]
            if s.cosim is not None:
                sections.append(_cosim_section(s, f"{s.name}-"))
        return f"HLS project report: {loaded.path.name}", f"{len(r.solutions)} solution(s)", sections
    if kind == "hls_cosim":
        s = Solution(name=r.solution or "solution", path=loaded.path, csynth=None, cosim=r)
        return "HLS C/RTL co-simulation report", r.simulator or "", [_cosim_section(s, "")]
    if kind == "vivado_utilization":
        cap, cap_label = _capacity(r.available, loaded.board)
        return (f"Vivado utilization: {r.design or '?'}", f"Vivado {r.version or '?'}, {r.device or '?'}, "
                f"{r.state or 'state unknown'}", [
                    _section("resources", "Resources",
                             images=_image(plots.resources_plot([("Vivado", r.used)], cap, cap_label),
                                           f"resources as a share of the {cap_label}"),
                             tables=[_table(["resource", "used", "available"],
                                            [[k, r.used.get(k), r.available.get(k)] for k in RESOURCE_KEYS])])])
    if kind == "vivado_timing":
        return (f"Vivado timing summary: {r.design or '?'}", f"Vivado {r.version or '?'}, {r.device or '?'}", [
            _section("timing", "Timing", verdicts=[_verdict("setup (WNS)", None if r.clock_missed is None
                                                            else not r.clock_missed, f"{_fmt(r.wns_ns)} ns")],
                     tables=[_table(["figure", "value"], [["WNS (ns)", r.wns_ns], ["TNS (ns)", r.tns_ns],
                                                          ["failing endpoints", r.tns_failing_endpoints],
                                                          ["WHS (ns)", r.whs_ns], ["THS (ns)", r.ths_ns],
                                                          ["WPWS (ns)", r.wpws_ns],
                                                          ["constraints met", r.constraints_met]]),
                             _table(["clock", "period (ns)", "MHz", "WNS (ns)", "WHS (ns)"],
                                    [[c.name, c.period_ns, c.frequency_mhz, c.wns_ns, c.whs_ns] for c in r.clocks])])])
    raise ValueError(kind)


def render_html(loaded) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    title, subtitle, sections = _sections_for(loaded)
    try:
        version = metadata.version("spvit_fpga")
    except metadata.PackageNotFoundError:
        version = ""
    page = env.get_template("report.html.j2").render(title=title, subtitle=subtitle, sections=sections,
                                                     version=version)
    # the page holds no web address: one quoted from a report's text is defused
    return re.sub(r"(?i)\b(https?)://", r"\1[:]//", page)


def write_html(loaded, out: Path) -> Path:
    """Render and write the page atomically (temporary file in the same folder, then rename)."""
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"{out}: the folder {folder} does not exist")
    page = render_html(loaded)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{out}: cannot write the page ({exc.strerror or exc})") from None
    return out
