"""C/RTL co-simulation reports of Vivado/Vitis HLS: ``<top>_cosim.rpt`` (and the raw ``lat.rpt``).

``<top>_cosim.rpt`` starts with ``Report time``, ``Solution`` and ``Simulation tool`` lines and
holds one bordered table, one row per RTL language (VHDL, Verilog; SystemC in old versions):
Status (``Pass``, ``Fail``, ``NA``), latency min/avg/max and interval min/avg/max in clock cycles,
and the total execution time.  Cells are ``NA`` for a language that was not simulated or a run
that failed.  ``sim/report/<lang>/lat.rpt`` holds the same numbers as ``$MAX_LATENCY = "10099"``
lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from spvit_fpga.errors import UserError

from ._text import header_fields, parse_int, read_tables, read_text

WHAT = "HLS C/RTL co-simulation report"


def is_cosim(text: str) -> bool:
    head = text[:3000]
    return ("Simulation tool" in head and "Status" in head) or "$MAX_LATENCY" in head


@dataclass
class CosimRun:
    language: str
    status: Optional[str]
    latency_min: Optional[int] = None
    latency_avg: Optional[int] = None
    latency_max: Optional[int] = None
    interval_min: Optional[int] = None
    interval_avg: Optional[int] = None
    interval_max: Optional[int] = None
    total_cycles: Optional[int] = None

    def to_json(self) -> dict:
        return {
            "language": self.language, "status": self.status,
            "latency_cycles": {"min": self.latency_min, "avg": self.latency_avg, "max": self.latency_max},
            "interval_cycles": {"min": self.interval_min, "avg": self.interval_avg, "max": self.interval_max},
            "total_cycles": self.total_cycles,
        }


@dataclass
class CosimReport:
    source: Path
    solution: Optional[str] = None
    simulator: Optional[str] = None
    runs: list[CosimRun] = field(default_factory=list)

    @property
    def main(self) -> Optional[CosimRun]:
        """The run that tells the most: a passed one (Verilog first), else any that ran."""
        ran = [r for r in self.runs
               if (r.status and r.status.upper() != "NA") or (r.status is None and r.latency_max is not None)]
        for pool in ([r for r in ran if (r.status or "").lower() == "pass"], ran):
            if pool:
                return sorted(pool, key=lambda r: r.language.lower() != "verilog")[0]
        return None

    @property
    def passed(self) -> Optional[bool]:
        m = self.main
        return None if m is None or m.status is None else m.status.lower() == "pass"

    def to_json(self) -> dict:
        m = self.main
        return {
            "kind": "hls_cosim", "solution": self.solution, "simulator": self.simulator,
            "status": m.status if m else None, "language": m.language if m else None,
            "latency_cycles": {"min": m.latency_min, "avg": m.latency_avg, "max": m.latency_max} if m
            else {"min": None, "avg": None, "max": None},
            "interval_cycles": {"min": m.interval_min, "avg": m.interval_avg, "max": m.interval_max} if m
            else {"min": None, "avg": None, "max": None},
            "runs": [r.to_json() for r in self.runs],
        }


def _parse_lat(path: Path, text: str) -> CosimReport:
    values = dict(re.findall(r"^\s*\$(\w+)\s*=\s*\"?([^\"\n]*)\"?", text, re.M))
    if "MAX_LATENCY" not in values:
        raise UserError(f"{path}: no $MAX_LATENCY line: not a {WHAT}")
    language = path.parent.name if path.parent.name.lower() in ("verilog", "vhdl", "systemc") else "rtl"
    thr = [parse_int(values.get(k)) for k in ("MIN_THROUGHPUT", "AVER_THROUGHPUT", "MAX_THROUGHPUT")]
    thr = [None if v == 0 else v for v in thr]  # 0 = not measured (a single transaction)
    run = CosimRun(language=language.capitalize() if language != "vhdl" else "VHDL", status=None,
                   latency_min=parse_int(values.get("MIN_LATENCY")), latency_avg=parse_int(values.get("AVER_LATENCY")),
                   latency_max=parse_int(values.get("MAX_LATENCY")), interval_min=thr[0], interval_avg=thr[1],
                   interval_max=thr[2], total_cycles=parse_int(values.get("TOTAL_EXECUTE_TIME")))
    # lat.rpt says nothing about pass or fail: status stays None
    return CosimReport(source=path, runs=[run])


def parse_cosim(path: Path) -> CosimReport:
    text = read_text(path, WHAT)
    if "$MAX_LATENCY" in text[:3000] and "Simulation tool" not in text[:3000]:
        return _parse_lat(path, text)
    if not is_cosim(text):
        raise UserError(f"{path}: no 'Simulation tool' header and status table: not a {WHAT}")
    head = header_fields(text, {"solution": "solution", "simulation tool": "simulator"})
    tables = [t for t in read_tables(text) if t.find("status") is not None]
    if not tables:
        raise UserError(f"{path}: no RTL / Status table (truncated?): not a complete {WHAT}")
    t = tables[0]
    if not t.closed or not t.rows:
        raise UserError(f"{path}: the file ends inside the RTL / Status table: truncated {WHAT}")
    rep = CosimReport(source=path, solution=(head["solution"] or "").rstrip(".") or None,
                      simulator=(head["simulator"] or "").rstrip(".") or None)
    idx = {
        "lang": t.find("rtl") if t.find("rtl") is not None else 0, "status": t.find("status"),
        "lat_min": t.find("latency", "min"), "lat_avg": t.find("latency", "avg"), "lat_max": t.find("latency", "max"),
        "ii_min": t.find("interval", "min"), "ii_avg": t.find("interval", "avg"), "ii_max": t.find("interval", "max"),
        "total": t.find("total"),
    }
    for row in t.rows:
        lang = (t.cell(row, idx["lang"]) or "").strip()
        if not lang:
            continue
        rep.runs.append(CosimRun(
            language=lang, status=(t.cell(row, idx["status"]) or "").strip() or None,
            latency_min=parse_int(t.cell(row, idx["lat_min"])), latency_avg=parse_int(t.cell(row, idx["lat_avg"])),
            latency_max=parse_int(t.cell(row, idx["lat_max"])), interval_min=parse_int(t.cell(row, idx["ii_min"])),
            interval_avg=parse_int(t.cell(row, idx["ii_avg"])), interval_max=parse_int(t.cell(row, idx["ii_max"])),
            total_cycles=parse_int(t.cell(row, idx["total"])),
        ))
    if not rep.runs:
        raise UserError(f"{path}: the RTL / Status table has no language rows: not a complete {WHAT}")
    return rep
