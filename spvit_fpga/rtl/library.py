"""The ``rtl/`` SystemVerilog library of a source checkout: where it is and which files a module needs.

Shared by the RTL generator (:mod:`spvit_fpga.rtl.generator`, which copies the files a design uses)
and the Verilator runner (``spvit_fpga/rtl/runner.py``), so both resolve module dependencies the same way.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from ..errors import UserError

__all__ = ["RTL_DIR", "rtl_library_dir", "library_order"]

RTL_DIR = Path(__file__).resolve().parents[2] / "rtl"
_IDENT_RE = re.compile(r"\b(spvit_\w+)\b")
_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def rtl_library_dir() -> Path:
    """The ``rtl/`` directory (UserError outside a source checkout)."""
    if not (RTL_DIR / "spvit_gemm.sv").is_file():
        raise UserError(f"RTL library not found at {RTL_DIR}: run from a source checkout of spvit_fpga "
                        "(pip install -e .), the SystemVerilog files are not part of a wheel install")
    return RTL_DIR


def library_order(modules: Iterable[str]) -> list[str]:
    """The library modules ``modules`` need (themselves included), dependencies first: one module
    per file ``rtl/<name>.sv``, dependencies found from the ``spvit_*`` names a file mentions
    outside comments.  Deterministic."""
    d = rtl_library_dir()
    known = {p.stem for p in d.glob("spvit_*.sv")}
    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...] = ()) -> None:
        if name in order or name in stack:
            return
        if name not in known:
            raise UserError(f"no RTL module {name!r}: {d / (name + '.sv')} does not exist")
        text = _COMMENT_RE.sub("", (d / f"{name}.sv").read_text())
        for dep in sorted(set(_IDENT_RE.findall(text)) & known - {name}):
            visit(dep, stack + (name,))
        order.append(name)

    for m in sorted(set(modules)):
        visit(m)
    return order
