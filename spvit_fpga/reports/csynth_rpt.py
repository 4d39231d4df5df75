"""The text C-synthesis reports of Vivado and Vitis HLS, for when no XML is at hand.

Two layouts:

* the per-function report, ``<fn>_csynth.rpt`` (and Vivado HLS' ``csynth.rpt``), titled
  ``== Vivado HLS Report for 'fn'`` or ``== Vitis HLS Report for 'fn'``: a header of
  ``* Key: value`` lines, a timing table (Clock / Target / Estimated / Uncertainty; cells ``10.00``
  under ``+ Timing (ns):`` in 2018.x, ``10.00 ns`` later), a latency summary (min/max latency,
  optional absolute latency, interval min/max, pipeline type), a loop table (name, latency min/max,
  iteration latency, II achieved/target, trip count, pipelined; nesting shown as ``- outer`` then
  `` + inner``), and a utilisation summary whose ``Total`` and ``Available`` rows give the
  resources (column ``DSP48E`` or ``DSP``);
* the Vitis 2020.2+ ``csynth.rpt``, titled ``== Synthesis Summary Report of 'top'``: a General
  Information header and one hierarchical table whose first column marks modules ``+``, loops
  ``o`` and dataflow processes with a trailing ``*``, with Issue Type, Slack, one latency (the
  worst case: a function of 34/35 cycles shows 35), one interval, iteration latency, trip count,
  pipelined, and resources as ``used (pct%)``.  It prints no clock, no best case, no available
  resources and no target II; those stay null.

Columns are found by their header words, so reordered, added or missing columns are tolerated.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from spvit_fpga.errors import UserError

from ._text import (Table, header_fields, leading_int, parse_count, parse_float, parse_int, parse_ns,
                    read_tables, read_text, version_of)
from .csynth_records import (RESOURCE_KEYS, CsynthReport, Interval, Latency, Loop, Module, empty_resources,
                             normalise_resource, tool_from)

WHAT = "Vivado/Vitis HLS csynth.rpt report"
_TITLE = re.compile(r"^==\s*(Vivado|Vitis)\s+HLS\s+Report\s+for\s+'([^']+)'", re.M)
_SUMMARY_TITLE = re.compile(r"^==\s*Synthesis\s+Summary\s+Report\s+of\s+'([^']+)'", re.M)
_HEADER_KEYS = {"version": "version", "target device": "part", "solution": "solution", "project": "project",
                "product family": "family"}


def is_csynth_rpt(text: str) -> bool:
    return bool(_TITLE.search(text) or _SUMMARY_TITLE.search(text))


def parse_csynth_rpt(path: Path) -> CsynthReport:
    """Read either text layout; a UserError naming the file when it is broken or not a report."""
    text = read_text(path, WHAT)
    summary = _SUMMARY_TITLE.search(text)
    if summary:
        return _parse_summary(path, text, summary.group(1))
    title = _TITLE.search(text)
    if not title:
        raise UserError(f"{path}: no '== Vivado HLS Report for' or '== Synthesis Summary Report of' title: not a {WHAT}")
    return _parse_function_report(path, text, title.group(2), title.group(1).lower())


def _loop_marker(raw: str) -> tuple[int, str, str]:
    """(depth, marker, name) of a first cell such as ``- L1``, `` + L2``, ``  o loop``."""
    stripped = raw.lstrip(" ")
    depth = len(raw) - len(stripped)
    m = re.match(r"([-+o*])\s+(.*)$", stripped)
    if not m:
        return depth, "", stripped.strip()
    return depth, m.group(1), m.group(2).strip()


def _table_after(tables: list[Table], lines: list[str], heading: re.Pattern, stop: Optional[re.Pattern] = None,
                 need: tuple[str, ...] = ()) -> Optional[Table]:
    """The first table below the first line matching ``heading`` (and above ``stop``) whose columns
    include every word in ``need``."""
    start = next((i for i, line in enumerate(lines) if heading.search(line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if stop and stop.search(lines[i])), len(lines))
    for t in tables:
        if start < t.start < end and all(any(w in c for c in t.columns) for w in need):
            return t
    return None


def _check_closed(path: Path, table: Optional[Table], what: str) -> None:
    if table is not None and not table.closed:
        raise UserError(f"{path}: the file ends inside the {what} table: truncated {WHAT}")


def _parse_function_report(path: Path, text: str, fn: str, family: str) -> CsynthReport:
    lines = text.split("\n")
    tables = read_tables(text)
    head = header_fields(text, _HEADER_KEYS)
    version = version_of(head["version"])
    perf_end = re.compile(r"^==\s*Utilization Estimates")
    timing_heading = re.compile(r"^\+\s*Timing")
    timing = _table_after(tables, lines, timing_heading, perf_end, need=("clock", "target"))
    default_unit = "ns"
    latency_t = _table_after(tables, lines, re.compile(r"^\+\s*Latency"), re.compile(r"^\s*\+\s*Detail"),
                             need=("latency", "interval"))
    loop_t = _table_after(tables, lines, re.compile(r"^\s*\*\s*Loop:"), perf_end, need=("loop name",))
    util_t = _table_after(tables, lines, re.compile(r"^==\s*Utilization Estimates"), re.compile(r"^\+\s*Detail"),
                          need=("name",))
    for t, what in ((timing, "timing"), (latency_t, "latency"), (loop_t, "loop"), (util_t, "utilization")):
        _check_closed(path, t, what)
    if util_t is None or not any(r and r[0].lower() == "total" for r in util_t.rows):
        raise UserError(f"{path}: no utilization summary with a 'Total' row (truncated?): not a complete {WHAT}")
    if latency_t is None:
        raise UserError(f"{path}: no latency summary table (truncated?): not a complete {WHAT}")
    report = CsynthReport(source=path, form="rpt", version=version, part=head["part"], top=fn,
                          tool=tool_from(version, vitis_hint=family == "vitis"))
    if timing is not None and timing.rows:
        row = next((r for r in timing.rows if r and r[0].strip() == "ap_clk"), timing.rows[0])
        report.clock_target_ns = parse_ns(timing.cell(row, timing.find("target")), default_unit)
        report.clock_estimated_ns = parse_ns(timing.cell(row, timing.find("estimated")), default_unit)
        report.clock_uncertainty_ns = parse_ns(timing.cell(row, timing.find("uncertainty")), default_unit)
    if latency_t.rows:
        row = latency_t.rows[0]
        lat_min = latency_t.find("latency", "min", exclude=("absolute",))
        lat_max = latency_t.find("latency", "max", exclude=("absolute",))
        report.latency = Latency(best=parse_int(latency_t.cell(row, lat_min)),
                                 worst=parse_int(latency_t.cell(row, lat_max)),
                                 best_ns=parse_ns(latency_t.cell(row, latency_t.find("absolute", "min"))),
                                 worst_ns=parse_ns(latency_t.cell(row, latency_t.find("absolute", "max"))))
        report.interval = Interval(min=parse_int(latency_t.cell(row, latency_t.find("interval", "min"))),
                                   max=parse_int(latency_t.cell(row, latency_t.find("interval", "max"))))
        report.pipeline_type = latency_t.cell(row, latency_t.find("type")) or None
    report.loops = _function_loops(loop_t, fn) if loop_t is not None else []
    report.resources, report.available = _utilisation(util_t)
    report.modules = [Module(
        name=fn, clock_target_ns=report.clock_target_ns, clock_uncertainty_ns=report.clock_uncertainty_ns,
        clock_estimated_ns=report.clock_estimated_ns, latency=report.latency, interval=report.interval,
        pipeline_type=report.pipeline_type, resources=dict(report.resources), available=dict(report.available))]
    return report


def _function_loops(t: Table, fn: str) -> list[Loop]:
    name_i = t.find("loop name")
    lat_min = t.find("latency", "min", exclude=("iteration",))
    lat_max = t.find("latency", "max", exclude=("iteration",))
    it_i = t.find("iteration")
    ii_i = t.find("achieved") if t.find("achieved") is not None else t.find("initiation", exclude=("target",))
    tgt_i = t.find("target")
    trip_i = t.find("trip")
    pipe_i = t.find("pipelined")
    depth_i = t.find("depth")
    loops: list[Loop] = []
    stack: list[tuple[int, str]] = []
    for raw, row in zip(t.raw_first_cells, t.rows):
        depth, _, name = _loop_marker(raw if name_i == 0 else (t.cell(row, name_i) or ""))
        name = re.sub(r"\s+", "", name)  # C labels hold no spaces: "Loop 1" is the XML's "Loop1"
        while stack and stack[-1][0] >= depth:
            stack.pop()
        path = tuple(n for _, n in stack) + (name,)
        stack.append((depth, name))
        lo, hi = parse_count(t.cell(row, lat_min)), parse_count(t.cell(row, lat_max))
        latency = hi if lo == hi or lo is None else (parse_count(f"{lo} ~ {hi}") if hi is not None else lo)
        pipelined = (t.cell(row, pipe_i) or "").lower()
        loops.append(Loop(
            name=name, module=fn, path=path, trip_count=parse_count(t.cell(row, trip_i)), latency=latency,
            iteration_latency=parse_count(t.cell(row, it_i)), pipeline_ii=parse_count(t.cell(row, ii_i)),
            target_ii=parse_count(t.cell(row, tgt_i)), pipeline_depth=parse_count(t.cell(row, depth_i)),
            pipelined=None if not pipelined else pipelined not in ("no", "-"),
        ))
    return loops


def _utilisation(t: Table) -> tuple[dict, dict]:
    used, avail = empty_resources(), empty_resources()
    cols = {normalise_resource(c): i for i, c in enumerate(t.columns) if normalise_resource(c)}
    for row in t.rows:
        label = (row[0] if row else "").strip().lower()
        target = used if label == "total" else avail if label == "available" else None
        if target is None:
            continue
        for key, i in cols.items():
            v = parse_int(t.cell(row, i))
            target[key] = v if v is not None else (0 if (t.cell(row, i) or "").strip() == "-" else None)
    return used, avail


def _parse_summary(path: Path, text: str, top: str) -> CsynthReport:
    lines = text.split("\n")
    tables = read_tables(text)
    head = header_fields(text, _HEADER_KEYS)
    version = version_of(head["version"])
    perf = _table_after(tables, lines, re.compile(r"^\+\s*Performance\s*&\s*Resource\s*Estimates"),
                        re.compile(r"^==\s"), need=("modules",))
    _check_closed(path, perf, "Performance & Resource Estimates")
    if perf is None or not perf.rows:
        raise UserError(f"{path}: no 'Performance & Resource Estimates' table (truncated?): not a complete {WHAT}")
    report = CsynthReport(source=path, form="rpt-summary", version=version, part=head["part"], top=top,
                          tool="vitis_hls")
    timing = _table_after(tables, lines, re.compile(r"^\+\s*Timing"), re.compile(r"^\+\s*Performance"),
                          need=("clock", "target"))
    if timing is not None and timing.rows:
        row = timing.rows[0]
        report.clock_target_ns = parse_ns(timing.cell(row, timing.find("target")))
        report.clock_estimated_ns = parse_ns(timing.cell(row, timing.find("estimated")))
        report.clock_uncertainty_ns = parse_ns(timing.cell(row, timing.find("uncertainty")))
    c = {
        "issue": perf.find("issue"), "slack": perf.find("slack"),
        "lat": perf.find("latency", "cycles") if perf.find("latency", "cycles") is not None
        else perf.find("latency", exclude=("ns", "iteration", "absolute")),
        "lat_ns": perf.find("latency", "(ns)"), "iter": perf.find("iteration"), "ii": perf.find("interval"), "trip": perf.find("trip"),
        "pipe": perf.find("pipelined"),
    }
    res_cols = {normalise_resource(name): i for i, name in enumerate(perf.columns) if normalise_resource(name)}
    modules: dict[str, Module] = {}
    loops: list[Loop] = []
    stack: list[tuple[int, str, str]] = []  # (depth, marker, name)
    for raw, row in zip(perf.raw_first_cells, perf.rows):
        depth, marker, name = _loop_marker(raw)
        name = name.rstrip("*").strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        module = next((n for _, m, n in reversed(stack) if m == "+"), top)
        loop_path = []
        for _, m, n in reversed(stack):
            if m != "o":
                break
            loop_path.insert(0, n)
        stack.append((depth, "o" if marker == "o" else "+", name))
        latency = parse_int(perf.cell(row, c["lat"]))
        interval = parse_int(perf.cell(row, c["ii"]))
        issue = perf.cell(row, c["issue"])
        issue = None if not issue or issue == "-" else issue
        slack = parse_float(perf.cell(row, c["slack"]))
        pipelined = (perf.cell(row, c["pipe"]) or "").strip()
        if marker == "o":
            loops.append(Loop(
                name=name, module=module, path=tuple(loop_path) + (name,),
                trip_count=parse_count(perf.cell(row, c["trip"])), latency=latency,
                iteration_latency=parse_count(perf.cell(row, c["iter"])),
                pipeline_ii=interval if pipelined.lower() not in ("no", "-", "") else None,
                pipelined=None if not pipelined else pipelined.lower() not in ("no", "-"),
                slack_ns=slack, issue=issue,
            ))
            continue
        if name in modules:
            continue
        used = empty_resources()
        for key, i in res_cols.items():
            cell = (perf.cell(row, i) or "").strip()
            used[key] = 0 if cell == "-" else leading_int(cell)
        modules[name] = Module(name=name, latency=Latency(worst=latency, worst_ns=parse_float(perf.cell(row, c["lat_ns"]))),
                               interval=Interval(max=interval),
                               pipeline_type=pipelined or None, resources=used, slack_ns=slack, issue=issue)
    top_module = next(iter(modules.values()), None)  # the first module row is the top
    if top_module is None:
        raise UserError(f"{path}: the 'Performance & Resource Estimates' table has no module row: not a complete {WHAT}")
    report.latency = top_module.latency
    report.interval = top_module.interval
    report.pipeline_type = top_module.pipeline_type
    report.resources = dict(top_module.resources)
    report.available = empty_resources()
    report.slack_ns = top_module.slack_ns
    report.timing_issue = True if top_module.issue and "timing" in top_module.issue.lower() else None
    report.modules = [top_module] + [m for m in modules.values() if m is not top_module]
    report.loops = loops
    report.notes.append("summary table: one latency and one interval per row (the worst case); no clock estimate, "
                        "best case, available resources or target II")
    assert set(report.resources) == set(RESOURCE_KEYS)
    return report
