"""Vivado HLS (2018.x-2020.1) and Vitis HLS (2020.1-2024.2) ``csynth.xml`` / ``<fn>_csynth.xml``.

The file is a ``<profile>`` with ``ReportVersion``, ``UserAssignments`` (part, top, target clock,
uncertainty; ``FlowTarget`` only in Vitis), ``PerformanceEstimates`` (estimated clock, overall
latency and interval, a loop tree) and ``AreaEstimates`` (used and available resources).  What
varies, and how it is read:

* resources are looked up by tag, never by position; ``DSP48E`` (Vivado HLS) and ``DSP`` (Vitis)
  both become ``DSP``;
* ``undef`` gives None; a ``<range><min/><max/></range>`` gives a Span (best = min, worst = max
  where one number is needed);
* the interval is ``Interval-min``/``-max``, else ``DataflowPipelineThroughput``, else (module
  entries) ``PipelineInitiationInterval``;
* loops are elements named after their label, nested for nested loops, holding ``TripCount``,
  ``Latency``, ``IterationLatency``, ``PipelineII``, ``PipelineDepth`` (and, in newer versions,
  ``Name``, ``Slack``, ``AbsoluteTimeLatency``, ``InstanceList``); an element is a loop when it
  holds one of those fields or a loop;
* Vitis 2020.2+ top-level files add ``ModuleInformation``: one ``<Module>`` per function, with
  ``AVAIL_*``/``UTIL_*`` siblings beside each resource.  A target II of 2**32 - 1 means none.

The XML keeps no loop target II; :mod:`.hls_folder` takes it from the text report beside it.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

from spvit_fpga.errors import UserError

from ._text import Count, Span, parse_count, parse_ns, read_text
from .csynth_records import (II_UNSET, CsynthReport, Interval, Latency, Loop, Module, empty_resources,
                             normalise_resource, tool_from)

LOOP_FIELDS = {"TripCount", "Latency", "IterationLatency", "PipelineII", "PipelineDepth"}
WHAT = "Vivado/Vitis HLS csynth.xml report"


def _text(el: Optional[ET.Element], path: str) -> Optional[str]:
    if el is None:
        return None
    found = el.find(path)
    if found is None:
        return None
    return (found.text or "").strip()


def _count(el: Optional[ET.Element]) -> Count:
    """A field that holds a number, ``undef`` or a ``<range>``."""
    if el is None:
        return None
    rng = el.find("range")
    if rng is not None:
        lo, hi = parse_count(_text(rng, "min")), parse_count(_text(rng, "max"))
        if lo is None or hi is None or isinstance(lo, Span) or isinstance(hi, Span):
            return None
        return Span(lo, hi) if lo != hi else lo
    return parse_count(el.text or "")


def _field(el: Optional[ET.Element], tag: str) -> Count:
    return _count(el.find(tag)) if el is not None else None


def _lo(v: Count) -> Optional[int]:
    v = v.lo if isinstance(v, Span) else v
    return int(v) if isinstance(v, (int, float)) else None


def _hi(v: Count) -> Optional[int]:
    v = v.hi if isinstance(v, Span) else v
    return int(v) if isinstance(v, (int, float)) else None


def _ii(v: Count) -> Count:
    return None if _hi(v) == II_UNSET else v


def _resources(el: Optional[ET.Element]) -> tuple[dict, dict]:
    """(used, available) from a ``Resources`` element; ``AVAIL_*`` siblings fill available."""
    used, avail = empty_resources(), empty_resources()
    if el is None:
        return used, avail
    for child in el:
        tag = child.tag
        target = used
        if tag.startswith("AVAIL_"):
            tag, target = tag[len("AVAIL_"):], avail
        elif tag.startswith("UTIL_"):
            continue
        key = normalise_resource(tag)
        if key is not None:
            v = _hi(_count(child))
            if v is not None:
                target[key] = v
    return used, avail


def _is_loop(el: ET.Element) -> bool:
    return any(child.tag in LOOP_FIELDS or _is_loop(child) for child in el if len(child) or child.tag in LOOP_FIELDS)


def _loops(parent: Optional[ET.Element], module: Optional[str], prefix: tuple[str, ...] = (),
           unit: str = "ns") -> list[Loop]:
    out: list[Loop] = []
    if parent is None:
        return out
    for el in parent:
        if el.tag in LOOP_FIELDS or el.tag in ("Name", "InstanceList", "range") or not _is_loop(el):
            continue
        name = _text(el, "Name") or el.tag
        path = prefix + (name,)
        ii = _ii(_field(el, "PipelineII"))
        target = None
        for tag in ("TargetII", "PipelineIITarget", "TargetInitiationInterval"):
            target = target if target is not None else _ii(_field(el, tag))
        ptype = _text(el, "PipelineType")
        slack = parse_ns(_text(el, "Slack"))
        out.append(Loop(
            name=name, module=module, path=path,
            trip_count=_field(el, "TripCount"), latency=_field(el, "Latency"),
            # a pipelined loop's iteration latency is its depth (the text report prints it so)
            iteration_latency=_field(el, "IterationLatency") if el.find("IterationLatency") is not None
            else _field(el, "PipelineDepth"), pipeline_ii=ii, target_ii=target,
            pipeline_depth=_field(el, "PipelineDepth"),
            # a plain number in the top-level loop table, a number with a unit in ModuleInformation
            absolute_latency_ns=parse_ns(_text(el, "AbsoluteTimeLatency"), unit),
            pipelined=(ii is not None) if ptype is None else ptype.lower() not in ("no", "none"),
            slack_ns=slack,
        ))
        out.extend(_loops(el, module, path, unit))
    return out


def _latency(summary: Optional[ET.Element], unit: str = "ns") -> Latency:
    if summary is None:
        return Latency()
    best, avg, worst = (_field(summary, t) for t in ("Best-caseLatency", "Average-caseLatency", "Worst-caseLatency"))
    return Latency(best=_lo(best), avg=_lo(avg) if not isinstance(avg, Span) else None, worst=_hi(worst),
                   best_ns=parse_ns(_text(summary, "Best-caseRealTimeLatency"), unit),
                   avg_ns=parse_ns(_text(summary, "Average-caseRealTimeLatency"), unit),
                   worst_ns=parse_ns(_text(summary, "Worst-caseRealTimeLatency"), unit))


def _interval(summary: Optional[ET.Element], perf: Optional[ET.Element]) -> Interval:
    lo = _field(summary, "Interval-min")
    hi = _field(summary, "Interval-max")
    if lo is None and hi is None:
        for where, tag in ((summary, "DataflowPipelineThroughput"), (perf, "DataflowPipelineThroughput"),
                           (summary, "PipelineInitiationInterval")):
            v = _ii(_field(where, tag))
            if v is not None:
                lo = hi = v
                break
    return Interval(min=_lo(lo), max=_hi(hi))


def _ns(el: Optional[ET.Element], tag: str, unit: str) -> Optional[float]:
    return parse_ns(_text(el, tag), unit)


def _module(el: ET.Element, unit: str) -> Module:
    name = _text(el, "Name") or "?"
    perf = el.find("PerformanceEstimates")
    timing = perf.find("SummaryOfTimingAnalysis") if perf is not None else None
    summary = perf.find("SummaryOfOverallLatency") if perf is not None else None
    used, avail = _resources(el.find("AreaEstimates/Resources"))
    return Module(
        name=name,
        clock_target_ns=_ns(timing, "TargetClockPeriod", unit),
        clock_uncertainty_ns=_ns(timing, "ClockUncertainty", unit),
        clock_estimated_ns=_ns(timing, "EstimatedClockPeriod", unit),
        latency=_latency(summary, unit), interval=_interval(summary, perf),
        pipeline_type=_text(summary, "PipelineType") or _text(perf, "PipelineType"),
        resources=used, available=avail,
    )


def parse_csynth_xml(path: Path) -> CsynthReport:
    """Read one csynth XML file; a UserError naming the file when it is broken or not a report."""
    text = read_text(path, WHAT)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, _ = getattr(exc, "position", (None, None))
        where = f" at line {line}" if line else ""
        raise UserError(f"{path}: not well-formed XML{where} (truncated or damaged?); it cannot be read as a "
                        f"{WHAT}") from None
    if root.tag != "profile":
        raise UserError(f"{path}: the XML root is <{root.tag}>, not <profile>: not a {WHAT}")
    ua = root.find("UserAssignments")
    perf = root.find("PerformanceEstimates")
    area = root.find("AreaEstimates")
    if ua is None and perf is None and area is None:
        raise UserError(f"{path}: no UserAssignments, PerformanceEstimates or AreaEstimates: not a {WHAT}")
    unit = (_text(ua, "unit") or "ns").lower()
    timing = perf.find("SummaryOfTimingAnalysis") if perf is not None else None
    t_unit = (_text(timing, "unit") or unit).lower()
    summary = perf.find("SummaryOfOverallLatency") if perf is not None else None
    version = _text(root, "ReportVersion/Version")
    used, avail = _resources(area.find("Resources") if area is not None else None)
    a_used, a_avail = _resources(area.find("AvailableResources") if area is not None else None)
    available = {k: (a_used[k] if a_used[k] is not None else avail[k]) for k in avail}
    top = _text(ua, "TopModelName")
    dsp_tags = {el.tag for el in root.iter() if el.tag.startswith("DSP")}
    vitis_hint: Optional[bool] = None
    if _text(ua, "FlowTarget") is not None or "DSP" in dsp_tags:
        vitis_hint = True
    elif dsp_tags & {"DSP48E", "DSP48E1", "DSP48E2"}:
        vitis_hint = False
    report = CsynthReport(
        source=path, form="xml", tool=tool_from(version, vitis_hint=vitis_hint), version=version,
        part=_text(ua, "Part"), top=top,
        clock_target_ns=_ns(ua, "TargetClockPeriod", unit),
        clock_uncertainty_ns=_ns(ua, "ClockUncertainty", unit),
        clock_estimated_ns=_ns(timing, "EstimatedClockPeriod", t_unit),
        latency=_latency(summary, unit), interval=_interval(summary, perf),
        pipeline_type=_text(perf, "PipelineType") or _text(summary, "PipelineType"),
        resources=used, available=available,
    )
    top_loops = _loops(perf.find("SummaryOfLoopLatency") if perf is not None else None, top, unit=unit)
    modules = [_module(m, unit) for m in root.findall("ModuleInformation/Module")]
    module_loops: list[Loop] = []
    for m_el, mod in zip(root.findall("ModuleInformation/Module"), modules):
        m_perf = m_el.find("PerformanceEstimates")
        module_loops.extend(_loops(m_perf.find("SummaryOfLoopLatency") if m_perf is not None else None, mod.name,
                                   unit=unit))
    if not any(m.name == top for m in modules):
        modules.insert(0, Module(
            name=top or "?", clock_target_ns=report.clock_target_ns, clock_uncertainty_ns=report.clock_uncertainty_ns,
            clock_estimated_ns=report.clock_estimated_ns, latency=report.latency, interval=report.interval,
            pipeline_type=report.pipeline_type, resources=dict(used), available=dict(available)))
    else:  # the top first, the others in file order
        modules.sort(key=lambda m: m.name != top)
    report.modules = modules
    report.loops = merge_loops(top_loops, module_loops)
    return report


def merge_loops(*groups: list[Loop]) -> list[Loop]:
    """All loops, each (module, path) once, the first seen kept."""
    seen: set = set()
    out: list[Loop] = []
    for group in groups:
        for lp in group:
            key = (lp.module, lp.path)
            if key not in seen:
                seen.add(key)
                out.append(lp)
    return out
