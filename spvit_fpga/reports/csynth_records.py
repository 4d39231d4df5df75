"""Typed records of one HLS C-synthesis report, shared by the XML and the text parsers.

``CsynthReport.to_json()`` is the ``--json`` schema of issue 12 for one synthesis report: every
key always present (null when the report lacks it), ``latency_cycles`` exactly ``{best, worst}``,
``interval_cycles`` exactly ``{min, max}``.  Counts that the tool reports as a range (loops
whose bounds depend on the data) appear as ``{"min": lo, "max": hi}``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ._text import Count, count_json, high

RESOURCE_KEYS = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
II_UNSET = 4294967295  # Vitis writes 2**32 - 1 for "no target interval"


def normalise_resource(tag: str) -> Optional[str]:
    """The report's resource name as one of RESOURCE_KEYS (``DSP48E`` and ``DSP`` are both DSP)."""
    t = tag.strip().upper().rstrip("*")
    if t.startswith("DSP"):
        return "DSP"
    if t in ("BRAM_18K", "BRAM", "BRAM18", "BRAM_18"):
        return "BRAM_18K"
    if t in ("FF", "LUT", "URAM"):
        return t
    return None


def empty_resources() -> dict[str, Optional[int]]:
    return {k: None for k in RESOURCE_KEYS}


@dataclass
class Latency:
    """Overall latency in clock cycles (``avg`` is kept for the HTML, not the JSON)."""

    best: Optional[int] = None
    avg: Optional[int] = None
    worst: Optional[int] = None
    best_ns: Optional[float] = None  # the tool's absolute latency, where it prints one
    avg_ns: Optional[float] = None
    worst_ns: Optional[float] = None

    def to_json(self) -> dict:
        return {"best": self.best, "worst": self.worst}


@dataclass
class Interval:
    min: Optional[int] = None
    max: Optional[int] = None

    def to_json(self) -> dict:
        return {"min": self.min, "max": self.max}


@dataclass
class Loop:
    """One loop; ``path`` names the enclosing loops of the same module, outermost first, then
    this loop, so nested loops with the same label stay apart."""

    name: str
    module: Optional[str] = None
    path: tuple[str, ...] = ()
    trip_count: Count = None
    latency: Count = None
    iteration_latency: Count = None
    pipeline_ii: Count = None
    target_ii: Count = None
    pipeline_depth: Count = None
    absolute_latency_ns: Optional[float] = None
    pipelined: Optional[bool] = None
    slack_ns: Optional[float] = None
    issue: Optional[str] = None  # the summary table's "Issue Type" ("II", "Timing", ...)

    @property
    def ii_above_target(self) -> Optional[bool]:
        """True when the achieved II exceeds the target (or the tool flags an II issue)."""
        achieved, target = high(self.pipeline_ii), high(self.target_ii)
        if achieved is not None and target is not None:
            return achieved > target
        if self.issue and "ii" in self.issue.lower().split():
            return True
        return None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "module": self.module,
            "path": "/".join(self.path) if self.path else self.name,
            "trip_count": count_json(self.trip_count),
            "latency": count_json(self.latency),
            "iteration_latency": count_json(self.iteration_latency),
            "pipeline_ii": count_json(self.pipeline_ii),
            "target_ii": count_json(self.target_ii),
        }


@dataclass
class Module:
    """One synthesised function (the top included)."""

    name: str
    clock_target_ns: Optional[float] = None
    clock_uncertainty_ns: Optional[float] = None
    clock_estimated_ns: Optional[float] = None
    latency: Latency = field(default_factory=Latency)
    interval: Interval = field(default_factory=Interval)
    pipeline_type: Optional[str] = None
    resources: dict = field(default_factory=empty_resources)
    available: dict = field(default_factory=empty_resources)
    slack_ns: Optional[float] = None
    issue: Optional[str] = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "clock_target_ns": self.clock_target_ns,
            "clock_uncertainty_ns": self.clock_uncertainty_ns,
            "clock_estimated_ns": self.clock_estimated_ns,
            "latency_cycles": self.latency.to_json(),
            "interval_cycles": self.interval.to_json(),
            "pipeline_type": self.pipeline_type,
            "resources": dict(self.resources),
            "available": dict(self.available),
        }


@dataclass
class CsynthReport:
    """One C-synthesis report: the top function's figures, its modules and all loops."""

    source: Path
    form: str  # "xml", "rpt" (per-function text report) or "rpt-summary" (Vitis 2020.2+ csynth.rpt)
    tool: Optional[str] = None  # "vivado_hls" or "vitis_hls"
    version: Optional[str] = None
    part: Optional[str] = None
    top: Optional[str] = None
    clock_target_ns: Optional[float] = None
    clock_uncertainty_ns: Optional[float] = None
    clock_estimated_ns: Optional[float] = None
    latency: Latency = field(default_factory=Latency)
    interval: Interval = field(default_factory=Interval)
    pipeline_type: Optional[str] = None
    resources: dict = field(default_factory=empty_resources)
    available: dict = field(default_factory=empty_resources)
    modules: list[Module] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    slack_ns: Optional[float] = None
    timing_issue: Optional[bool] = None  # the summary table's Issue Type says "Timing"
    notes: list[str] = field(default_factory=list)

    @property
    def clock_missed(self) -> Optional[bool]:
        """The estimated clock period exceeds the target less its uncertainty (the tool's own
        criterion).  Without a clock estimate (the Vitis summary table) a "Timing" issue means
        missed and a non-negative slack means met; a negative slack alone is not trusted (Vitis
        2020.2 prints one for designs that meet the clock) and gives None."""
        if self.clock_estimated_ns is not None and self.clock_target_ns is not None:
            budget = self.clock_target_ns - (self.clock_uncertainty_ns or 0.0)
            return self.clock_estimated_ns > budget + 1e-9
        if self.timing_issue:
            return True
        if self.slack_ns is not None and self.slack_ns >= 0:
            return False
        return None

    def to_json(self) -> dict:
        return {
            "kind": "hls_csynth",
            "tool": self.tool,
            "version": self.version,
            "part": self.part,
            "top": self.top,
            "clock_target_ns": self.clock_target_ns,
            "clock_estimated_ns": self.clock_estimated_ns,
            "latency_cycles": self.latency.to_json(),
            "interval_cycles": self.interval.to_json(),
            "resources": dict(self.resources),
            "available": dict(self.available),
            "modules": [m.to_json() for m in self.modules],
            "loops": [lp.to_json() for lp in self.loops],
        }


def tool_from(version: Optional[str], *, vitis_hint: Optional[bool]) -> Optional[str]:
    """``vitis_hls`` or ``vivado_hls``: a hint from the file wins; else the version decides
    (Vivado HLS ended with 2020.1, Vitis HLS began with 2020.1)."""
    if vitis_hint is not None:
        return "vitis_hls" if vitis_hint else "vivado_hls"
    if version:
        try:
            year = float(version.split(".")[0]) + float("0." + version.split(".")[1])
        except (IndexError, ValueError):
            return None
        if year >= 2020.2:
            return "vitis_hls"
        if year < 2020.1:
            return "vivado_hls"
    return None
