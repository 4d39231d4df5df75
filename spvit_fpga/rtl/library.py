"""Which files of the ``rtl/`` SystemVerilog library a module needs (the library itself is found by
:func:`spvit_fpga._resources.rtl_library_dir`, in a wheel install or a source checkout).

Shared by the RTL generator (:mod:`spvit_fpga.rtl.generator`, which copies the files a design uses)
and the Verilator runner (``spvit_fpga/rtl/runner.py``), so both resolve module dependencies the same way.
"""
from __future__ import annotations

import re
from typing import Iterable

from .._resources import rtl_library_dir
from ..errors import UserError

__all__ = ["library_order"]

_IDENT_RE = re.compile(r"\b(spvit_\w+)\b")
_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


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
