"""Vivado ``report_utilization`` text reports (flat, any state: synthesized, placed, routed).

The header is a block of ``| Key : value`` lines (Tool Version, Design, Device, Design State,
Command).  The figures sit in ``Site Type | Used | Fixed | [Prohibited] | Available | Util%``
tables, one per section; rows are indented to show what they break down.  What varies:

* 7-series and Zynq-7000 say ``Slice LUTs`` / ``Slice Registers``; UltraScale(+) and Versal say
  ``CLB LUTs`` / ``CLB Registers`` (or ``Registers``); a synthesized design marks the LUT row
  ``Slice LUTs*`` with a footnote;
* 2022+ adds a ``Prohibited`` column; columns are found by name;
* ``Block RAM Tile`` counts 36 Kb tiles and can be fractional (``2.5``): it is reported as BRAM_18K
  = 2 x tiles, beside the tile count itself;
* ``URAM`` exists only on parts with UltraRAM (None otherwise); ``Util%`` can read ``<0.01``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from spvit_fpga.errors import UserError

from ._text import Table, header_fields, parse_float, read_tables, read_text, version_of
from .csynth_records import RESOURCE_KEYS

WHAT = "Vivado report_utilization report"
_HEADER_KEYS = {"tool version": "tool_version", "design": "design", "device": "device",
                "design state": "state", "command": "command"}
# resource -> accepted top-level "Site Type" labels, in order of preference
_ROWS = {
    "LUT": ("slice luts", "clb luts"),
    "FF": ("slice registers", "clb registers", "registers"),
    "BRAM_TILE": ("block ram tile",),
    "URAM": ("uram",),
    "DSP": ("dsps", "dsp slices", "dsp"),
}


def is_utilization(text: str) -> bool:
    head = text[:6000]
    return "report_utilization" in head or "Utilization Design Information" in head


@dataclass
class UtilizationReport:
    source: Path
    version: Optional[str] = None
    design: Optional[str] = None
    device: Optional[str] = None
    state: Optional[str] = None
    used: dict = field(default_factory=lambda: {k: None for k in RESOURCE_KEYS})
    available: dict = field(default_factory=lambda: {k: None for k in RESOURCE_KEYS})
    bram_tiles: Optional[float] = None
    bram_tiles_available: Optional[float] = None

    def to_json(self) -> dict:
        return {
            "kind": "vivado_utilization", "tool": "vivado", "version": self.version, "design": self.design,
            "device": self.device, "design_state": self.state,
            "resources": dict(self.used), "available": dict(self.available),
            "bram_tiles": {"used": self.bram_tiles, "available": self.bram_tiles_available},
        }


def _site_tables(tables: list[Table]) -> list[Table]:
    return [t for t in tables if t.columns and "site type" in t.columns[0] and t.find("used") is not None]


def parse_vivado_util(path: Path) -> UtilizationReport:
    text = read_text(path, WHAT)
    if not is_utilization(text):
        raise UserError(f"{path}: no 'report_utilization' command or 'Utilization Design Information' heading: "
                        f"not a {WHAT}")
    head = header_fields(text, _HEADER_KEYS)
    tables = read_tables(text)
    truncated = next((t for t in tables if not t.closed), None)
    if truncated is not None:
        raise UserError(f"{path}: the file ends inside a table: truncated {WHAT}")
    sites = _site_tables(tables)
    if not sites:
        raise UserError(f"{path}: no 'Site Type | Used | ... | Available' table (truncated?): not a complete {WHAT}")
    rep = UtilizationReport(source=path, version=version_of(head["tool_version"]), design=head["design"],
                            device=head["device"], state=head["state"])
    found: dict[str, tuple[Optional[float], Optional[float]]] = {}
    for t in sites:
        used_i, avail_i = t.find("used"), t.find("available")
        for raw, row in zip(t.raw_first_cells, t.rows):
            if len(raw) - len(raw.lstrip(" ")) > 1:  # a breakdown row ("|   LUT as Logic"), not a total
                continue
            label = row[0].rstrip("*").strip().lower()
            for key, labels in _ROWS.items():
                if label in labels and key not in found:
                    found[key] = (parse_float(t.cell(row, used_i)), parse_float(t.cell(row, avail_i)))
    if "LUT" not in found and "FF" not in found:
        raise UserError(f"{path}: no LUT or register row in its tables: not a complete {WHAT}")
    for key in ("LUT", "FF", "URAM", "DSP"):
        if key in found:
            u, a = found[key]
            rep.used[key] = int(u) if u is not None else None
            rep.available[key] = int(a) if a is not None else None
    if "BRAM_TILE" in found:
        u, a = found["BRAM_TILE"]
        rep.bram_tiles, rep.bram_tiles_available = u, a
        rep.used["BRAM_18K"] = int(round(u * 2)) if u is not None else None
        rep.available["BRAM_18K"] = int(round(a * 2)) if a is not None else None
    return rep
