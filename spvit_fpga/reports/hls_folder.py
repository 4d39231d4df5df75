"""Finding and combining the reports of a ``solution*/syn/report`` folder and of an HLS project.

A report folder holds ``csynth.xml`` (the top; in Vitis 2020.2+ with every module inside),
``<fn>_csynth.xml`` and ``<fn>_csynth.rpt`` per synthesised function, and in Vitis 2020.2+ a
summary ``csynth.rpt``.  The top function is named by ``csynth.xml``, else by the summary
``csynth.rpt``, else by the project file two levels up (``*.app``: ``<AutoPilot:project top=...>``),
else it is the only function.  The report of the folder is the top's XML (text if there is no XML),
with

* one module entry per function report in the folder when the XML has no ModuleInformation;
* loop target IIs taken from each function's text report (the XML does not store them).

A project folder holds one ``syn/report`` per solution (``solution1/syn/report``; Vitis Unified
components have ``<component>/hls/syn/report``) and the co-simulation reports beside it
(``sim/report/<top>_cosim.rpt``).
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from spvit_fpga.errors import UserError

from .cosim_rpt import CosimReport, parse_cosim
from .csynth_records import CsynthReport, Loop
from .csynth_rpt import parse_csynth_rpt
from .csynth_xml import merge_loops, parse_csynth_xml

MAX_DEPTH = 6
SKIP_DIRS = {".git", "__pycache__", "node_modules", ".Xil", "xsim.dir", "mem"}


def _fn_reports(folder: Path, suffix: str) -> dict[str, Path]:
    """``{function: path}`` of the ``<fn>_csynth.<suffix>`` files of a report folder."""
    out = {}
    for p in sorted(folder.glob(f"*_csynth.{suffix}")):
        out[p.name[: -len(f"_csynth.{suffix}")]] = p
    return out


def _top_from_app(folder: Path) -> Optional[str]:
    for up in (folder.parent.parent.parent, folder.parent.parent, folder):
        for app in sorted(up.glob("*.app")):
            try:
                root = ET.parse(app).getroot()
            except (ET.ParseError, OSError):
                continue
            if root.get("top"):
                return root.get("top")
    return None


def _top_from_summary(path: Path) -> Optional[str]:
    try:
        head = path.read_text(errors="replace")[:2000]
    except OSError:
        return None
    m = re.search(r"Report (?:of|for) '([^']+)'", head)
    return m.group(1) if m else None


def has_csynth_reports(folder: Path) -> bool:
    return any(folder.glob("*csynth.xml")) or any(folder.glob("*csynth.rpt"))


def read_report_folder(folder: Path) -> CsynthReport:
    """The combined C-synthesis report of one ``syn/report`` folder."""
    xmls, rpts = _fn_reports(folder, "xml"), _fn_reports(folder, "rpt")
    main_xml, main_rpt = folder / "csynth.xml", folder / "csynth.rpt"
    base: Optional[CsynthReport] = parse_csynth_xml(main_xml) if main_xml.is_file() else None
    top = base.top if base else None
    if top is None and main_rpt.is_file():
        top = _top_from_summary(main_rpt)
    if top is None:
        top = _top_from_app(folder)
    names = sorted(set(xmls) | set(rpts))
    if top is None and len(names) == 1:
        top = names[0]
    if top is None:
        if not names and not main_rpt.is_file():
            raise UserError(f"{folder}: no csynth.xml, csynth.rpt or <function>_csynth.xml/.rpt reports in it")
        raise UserError(f"{folder}: cannot tell the top function among {', '.join(names)} (no csynth.xml, summary "
                        f"csynth.rpt or project file); pass the top's <function>_csynth.xml instead")
    if base is None:
        if top in xmls:
            base = parse_csynth_xml(xmls[top])
        elif top in rpts:
            base = parse_csynth_rpt(rpts[top])
        elif main_rpt.is_file():
            base = parse_csynth_rpt(main_rpt)
        else:
            raise UserError(f"{folder}: no report for the top function {top!r} (csynth.xml, {top}_csynth.xml or "
                            f"{top}_csynth.rpt)")
    _add_function_modules(base, folder, xmls, rpts)
    _fill_target_ii(base, rpts)
    return base


def _add_function_modules(base: CsynthReport, folder: Path, xmls: dict, rpts: dict) -> None:
    """One module (and its loops) per function report, when the base report lists only the top."""
    if len(base.modules) > 1:
        return
    extra_loops: list[Loop] = []
    for fn in sorted(set(xmls) | set(rpts)):
        if fn == base.top:
            continue
        rep = parse_csynth_xml(xmls[fn]) if fn in xmls else parse_csynth_rpt(rpts[fn])
        if rep.modules:
            base.modules.append(rep.modules[0])
        extra_loops.extend(rep.loops)
    base.loops = merge_loops(base.loops, extra_loops)


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", name)


def _fill_target_ii(base: CsynthReport, rpts: dict) -> None:
    """Loop target II (and missing iteration latency) from the functions' text reports."""
    wanted = {lp.module for lp in base.loops if lp.target_ii is None and lp.module in rpts}
    by_key: dict = {}
    for fn in sorted(wanted):
        if base.form == "rpt" and base.source == rpts[fn]:
            continue
        for lp in parse_csynth_rpt(rpts[fn]).loops:
            by_key[(fn, tuple(_norm(n) for n in lp.path))] = lp
    for lp in base.loops:
        other = by_key.get((lp.module, tuple(_norm(n) for n in lp.path)))
        if other is None:
            continue
        if lp.target_ii is None:
            lp.target_ii = other.target_ii
        if lp.iteration_latency is None:
            lp.iteration_latency = other.iteration_latency
        if lp.pipeline_ii is None:
            lp.pipeline_ii = other.pipeline_ii


@dataclass
class Solution:
    """One HLS solution: its synthesis report and co-simulation, either possibly missing."""

    name: str
    path: Path
    csynth: Optional[CsynthReport]
    cosim: Optional[CosimReport]

    def to_json(self, base: Path) -> dict:
        return {
            "solution": self.name, "path": _relative(self.path, base),
            "csynth": self.csynth.to_json() if self.csynth else None,
            "cosim": self.cosim.to_json() if self.cosim else None,
        }


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix() or "."
    except ValueError:
        return path.name


def walk(root: Path, max_depth: int = MAX_DEPTH) -> Iterator[tuple[Path, list[str], list[str]]]:
    """``os.walk`` in sorted order, to ``max_depth`` folders deep, skipping tool scratch folders."""
    root_depth = len(root.resolve().parts)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.resolve().parts) - root_depth
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and depth < max_depth)
        yield here, dirnames, sorted(filenames)


def find_report_folders(root: Path) -> list[Path]:
    """Every ``.../syn/report`` folder with C-synthesis reports below ``root`` (itself included)."""
    found = []
    for here, _, _ in walk(root):
        if here.name == "report" and here.parent.name == "syn" and has_csynth_reports(here):
            found.append(here)
    return found


def _solution_name(report_folder: Path) -> str:
    solution = report_folder.parent.parent
    return solution.parent.name if solution.name == "hls" else solution.name


def _cosim_for(report_folder: Path) -> Optional[CosimReport]:
    sim = report_folder.parent.parent / "sim" / "report"
    files = sorted(sim.glob("*_cosim.rpt")) if sim.is_dir() else []
    return parse_cosim(files[0]) if files else None


def read_solution(report_folder: Path) -> Solution:
    return Solution(name=_solution_name(report_folder), path=report_folder.parent.parent,
                    csynth=read_report_folder(report_folder), cosim=_cosim_for(report_folder))


def is_project(folder: Path) -> bool:
    return any(folder.glob("*.app")) or bool(find_report_folders(folder))


def read_project(folder: Path) -> list[Solution]:
    """Every solution of an HLS project folder; a UserError when none has been synthesised."""
    solutions = [read_solution(rf) for rf in find_report_folders(folder)]
    if not solutions:
        cosims = sorted(folder.glob("*/sim/report/*_cosim.rpt"))
        if cosims:
            return [Solution(name=c.parent.parent.parent.name, path=c.parent.parent.parent, csynth=None,
                             cosim=parse_cosim(c)) for c in cosims]
        raise UserError(f"{folder}: an HLS project without synthesis reports (no <solution>/syn/report folder "
                        f"with csynth.xml or csynth.rpt); run csynth_design first")
    return solutions
