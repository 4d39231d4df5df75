"""Vivado ``report_timing_summary`` text reports: WNS and friends, and the clocks.

The ``Design Timing Summary`` section holds a column table without borders: a header line of
names that contain spaces (``TNS Failing Endpoints``), a line of dashes under each name, and one
line of values (``NA`` when nothing is constrained).  The dash runs give the columns; values are
assigned to the column whose dash run their right end falls in (they are right-aligned), which
copes with values wider than their heading.  The ``Clock Summary`` lists clock, waveform
(``{0.000 2.500}``, with a space inside), period and frequency; generated clocks are indented.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from spvit_fpga.errors import UserError

from ._text import header_fields, parse_float, parse_int, read_text, version_of

WHAT = "Vivado report_timing_summary report"
_HEADER_KEYS = {"tool version": "tool_version", "design": "design", "device": "device", "command": "command"}


def is_timing_summary(text: str) -> bool:
    head = text[:6000]
    return "report_timing_summary" in head or "Timing Summary Report" in head or "| Design Timing Summary" in text


@dataclass
class ClockRecord:
    name: str
    period_ns: Optional[float]
    frequency_mhz: Optional[float]
    wns_ns: Optional[float] = None
    whs_ns: Optional[float] = None


@dataclass
class TimingSummary:
    source: Path
    version: Optional[str] = None
    design: Optional[str] = None
    device: Optional[str] = None
    wns_ns: Optional[float] = None
    tns_ns: Optional[float] = None
    tns_failing_endpoints: Optional[int] = None
    whs_ns: Optional[float] = None
    ths_ns: Optional[float] = None
    wpws_ns: Optional[float] = None
    constraints_met: Optional[bool] = None
    clocks: list[ClockRecord] = field(default_factory=list)

    @property
    def clock_missed(self) -> Optional[bool]:
        """Setup slack below zero (the clock cannot be met); None when nothing was timed."""
        return None if self.wns_ns is None else self.wns_ns < 0

    def to_json(self) -> dict:
        return {
            "kind": "vivado_timing", "tool": "vivado", "version": self.version, "design": self.design,
            "device": self.device, "wns_ns": self.wns_ns, "tns_ns": self.tns_ns,
            "tns_failing_endpoints": self.tns_failing_endpoints, "whs_ns": self.whs_ns, "ths_ns": self.ths_ns,
            "wpws_ns": self.wpws_ns, "constraints_met": self.constraints_met,
            "clocks": [{"name": c.name, "period_ns": c.period_ns, "frequency_mhz": c.frequency_mhz,
                        "wns_ns": c.wns_ns, "whs_ns": c.whs_ns} for c in self.clocks],
        }


_TOKEN = re.compile(r"\{[^}]*\}|\S+")


def _columns(header: str, dashes: str) -> list[tuple[int, int, str]]:
    """(start, end, name) per dash run, the name being the header text above it."""
    out = []
    for m in re.finditer(r"-+", dashes):
        out.append((m.start(), m.end(), header[m.start():m.end()].strip().lower()))
    return out


def _assign(cols: list[tuple[int, int, str]], line: str) -> dict[str, str]:
    """Values of one line by column; each token goes to the column its right end falls in."""
    out: dict[str, str] = {}
    tokens = list(_TOKEN.finditer(line))
    if len(tokens) == len(cols):
        return {c[2]: t.group(0) for c, t in zip(cols, tokens)}
    for t in tokens:
        end = t.end()
        best = min(cols, key=lambda c: 0 if c[0] <= end <= c[1] else min(abs(end - c[1]), abs(end - c[0])))
        out.setdefault(best[2], t.group(0))
    return out


def _table_after(lines: list[str], start: int, first_word: str) -> Optional[tuple[list, list[str]]]:
    """The column table whose header starts with ``first_word`` below ``start``: (columns, rows)."""
    for i in range(start, min(start + 40, len(lines) - 1)):
        if lines[i].split()[:1] == [first_word] and set(lines[i + 1].strip()) <= set("- ") and "-" in lines[i + 1]:
            cols = _columns(lines[i], lines[i + 1])
            rows = []
            for line in lines[i + 2:]:
                if not line.strip():
                    if rows:
                        break
                    continue
                if line.startswith(("---", "|")):
                    break
                rows.append(line)
            return cols, rows
    return None


def parse_vivado_timing(path: Path) -> TimingSummary:
    text = read_text(path, WHAT)
    if not is_timing_summary(text):
        raise UserError(f"{path}: no 'report_timing_summary' command or 'Design Timing Summary' section: not a {WHAT}")
    lines = text.split("\n")
    head = header_fields(text, _HEADER_KEYS)
    rep = TimingSummary(source=path, version=version_of(head["tool_version"]), design=head["design"],
                        device=head["device"])
    at = next((i for i, line in enumerate(lines) if line.strip().startswith("| Design Timing Summary")), None)
    if at is None:
        raise UserError(f"{path}: no '| Design Timing Summary' section (truncated?): not a complete {WHAT}")
    found = _table_after(lines, at + 1, "WNS(ns)")
    if found is None or not found[1]:
        raise UserError(f"{path}: the Design Timing Summary has no WNS(ns) table with a row of values "
                        f"(truncated?): not a complete {WHAT}")
    cols, rows = found
    values = _assign(cols, rows[0])
    rep.wns_ns = parse_float(values.get("wns(ns)"))
    rep.tns_ns = parse_float(values.get("tns(ns)"))
    rep.tns_failing_endpoints = parse_int(values.get("tns failing endpoints"))
    rep.whs_ns = parse_float(values.get("whs(ns)"))
    rep.ths_ns = parse_float(values.get("ths(ns)"))
    rep.wpws_ns = parse_float(values.get("wpws(ns)"))
    if "All user specified timing constraints are met." in text:
        rep.constraints_met = True
    elif "Timing constraints are not met." in text:
        rep.constraints_met = False
    elif rep.wns_ns is not None:
        rep.constraints_met = all(v is None or v >= 0 for v in (rep.wns_ns, rep.whs_ns, rep.wpws_ns))
    clocks_at = next((i for i, line in enumerate(lines) if line.strip().startswith("| Clock Summary")), None)
    per_clock: dict[str, tuple] = {}
    intra_at = next((i for i, line in enumerate(lines) if line.strip().startswith("| Intra Clock Table")), None)
    if intra_at is not None:
        got = _table_after(lines, intra_at + 1, "Clock")
        if got:
            c_cols, c_rows = got
            for row in c_rows:
                v = _assign(c_cols, row)
                per_clock[v.get("clock", "")] = (parse_float(v.get("wns(ns)")), parse_float(v.get("whs(ns)")))
    if clocks_at is not None:
        got = _table_after(lines, clocks_at + 1, "Clock")
        if got:
            c_cols, c_rows = got
            for row in c_rows:
                v = _assign(c_cols, row)
                name = v.get("clock", "").strip()
                if not name:
                    continue
                wns, whs = per_clock.get(name, (None, None))
                rep.clocks.append(ClockRecord(name=name, period_ns=parse_float(v.get("period(ns)")),
                                              frequency_mhz=parse_float(v.get("frequency(mhz)")), wns_ns=wns,
                                              whs_ns=whs))
    return rep
