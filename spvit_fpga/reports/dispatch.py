"""What a PATH given to ``python -m spvit_fpga.report`` is, and its parsed report.

Files are recognised by their content (the name only breaks ties): an XML ``<profile>`` is a
csynth report, a ``== ... HLS Report for`` or ``== Synthesis Summary Report of`` title a text
csynth report, ``report_utilization`` / ``report_timing_summary`` a Vivado report, a ``Simulation
tool`` header with a status table (or ``$MAX_LATENCY`` lines) a co-simulation report, and
``manifest.json`` a generated design.  Folders: one with ``manifest.json`` is a design folder, one
with ``*csynth.xml`` / ``*csynth.rpt`` files a ``syn/report`` folder, one with a ``*.app`` project
file or ``<solution>/syn/report`` folders below it an HLS project.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from spvit_fpga.errors import UserError

from ._board import board_for_part, board_summary
from .cosim_rpt import is_cosim, parse_cosim
from .csynth_rpt import is_csynth_rpt, parse_csynth_rpt
from .csynth_xml import parse_csynth_xml
from .design import read_design
from .hls_folder import Solution, has_csynth_reports, is_project, read_project, read_report_folder
from .vivado_timing import is_timing_summary, parse_vivado_timing
from .vivado_util import is_utilization, parse_vivado_util

KNOWN = ("a csynth.xml / <fn>_csynth.xml, a csynth.rpt / <fn>_csynth.rpt, a solution*/syn/report folder, an HLS "
         "project folder, a Vivado report_utilization or report_timing_summary file, a *_cosim.rpt, or a design "
         "folder written by generate (with manifest.json)")


@dataclass
class ProjectReport:
    folder: Path
    solutions: list[Solution]

    def to_json(self) -> dict:
        return {"kind": "hls_project", "solutions": [s.to_json(self.folder) for s in self.solutions]}


@dataclass
class Loaded:
    """A parsed PATH: its kind, the report object, and the board to hold it against (if any)."""

    kind: str  # hls_csynth, hls_cosim, vivado_utilization, vivado_timing, hls_project, design
    report: Any
    board: Optional[dict]
    path: Path

    def to_json(self) -> dict:
        return self.report.to_json()


def _load_file(path: Path) -> tuple[str, Any]:
    if path.name == "manifest.json":
        return "design", None
    try:
        with open(path, "rb") as fh:
            head = fh.read(8000)
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not head.strip():
        raise UserError(f"{path}: the file is empty, not a report")
    text = head.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if path.suffix.lower() == ".xml" or stripped.startswith(("<?xml", "<profile")):
        return "hls_csynth", parse_csynth_xml(path)
    if is_csynth_rpt(text):
        return "hls_csynth", parse_csynth_rpt(path)
    if is_utilization(text):
        return "vivado_utilization", parse_vivado_util(path)
    if is_timing_summary(text):
        return "vivado_timing", parse_vivado_timing(path)
    if is_cosim(text) or path.name.endswith("_cosim.rpt"):
        return "hls_cosim", parse_cosim(path)
    raise UserError(f"{path}: not a report this command reads; expected {KNOWN}")


def load(path: Path, board_name: Optional[str] = None) -> Loaded:
    """Parse PATH; a UserError (one line, naming the file) for anything it cannot read."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    board = board_summary(board_name) if board_name else None
    if path.is_file():
        kind, report = _load_file(path)
        if kind == "design":
            return load(path.parent, board_name)
    elif (path / "manifest.json").is_file():
        rep = read_design(path, board_name)
        return Loaded("design", rep, rep.board, path)
    elif has_csynth_reports(path):
        kind, report = "hls_csynth", read_report_folder(path)
    elif is_project(path):
        kind, report = "hls_project", ProjectReport(path, read_project(path))
    else:
        raise UserError(f"{path}: nothing to report in this folder; expected {KNOWN}")
    if board is None:
        board = board_for_part(_part_of(kind, report))
    return Loaded(kind, report, board, path)


def _part_of(kind: str, report: Any) -> Optional[str]:
    if kind == "hls_csynth":
        return report.part
    if kind in ("vivado_utilization", "vivado_timing"):
        return report.device
    if kind == "hls_project":
        return next((s.csynth.part for s in report.solutions if s.csynth is not None), None)
    return None

