"""Register-to-register logic depth of a Yosys ``synth_xilinx`` netlist: the structural timing argument.

No vendor timing engine runs here, so the clock a design supports is argued from the mapped netlist:
for every combinational path between two registers (flip-flops, DSP48 and block-RAM pipeline
registers, shift-register LUTs) this counts the LUT levels and the carry cells it passes, and
reports the deepest paths.  On UltraScale+ (-2) a LUT level costs roughly 0.1 ns of logic plus
0.3–0.5 ns of routing and a CARRY8 about 0.05–0.1 ns after the first, so paths of at most
:data:`MAX_LUT_LEVELS_300MHZ` LUT levels (with short carry chains) are what a 3.33 ns clock closes
routinely; this is a structural estimate, not a timing report, and the docs say so.

The netlist is Yosys' JSON (``write_json``) of one flattened module.  Cell classes:

* sequential (path start and end): ``FD*`` flip-flops, ``SRL16E``/``SRLC32E``, ``RAMB18E2``/
  ``RAMB36E2``/``RAMB18E1``/``RAMB36E1`` and ``URAM288`` (their outputs registered; their inputs
  are path ends), ``DSP48E2``/``DSP48E1`` (path ends at their inputs and starts at their outputs,
  i.e. treated as registered; :func:`analyse` lists every DSP whose M or P register is off, for which
  this is not true);
* one LUT level: ``LUT1`` .. ``LUT6``, ``LUT6_2`` and the distributed RAMs (``RAM32M``, ``RAM64M``,
  ``RAM*X1*``: an asynchronous read, from the address inputs only; their data, write-enable and
  write-address inputs end paths, the write being clocked);
* carry: ``CARRY8`` / ``CARRY4`` (one cell of a chain);
* free: ``MUXF7``/``MUXF8``/``MUXF9`` (inside a slice after a LUT), ``INV``, ``BUF``, ``GND``, ``VCC``.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Union

__all__ = ["PathDepth", "TimingReport", "analyse", "analyse_file", "MAX_LUT_LEVELS_300MHZ"]

MAX_LUT_LEVELS_300MHZ = 6

_SEQ_PREFIXES = ("FD", "SRL16", "SRLC32", "RAMB", "URAM", "DSP48", "FIFO")
_LUTRAM_PREFIXES = ("RAM32M", "RAM64M", "RAM32X", "RAM64X", "RAM128X", "RAM256X", "RAM512X")
_FREE = ("MUXF7", "MUXF8", "MUXF9", "INV", "BUF", "GND", "VCC", "IBUF", "OBUF")


def _kind(cell_type: str) -> str:
    t = cell_type.lstrip("\\")
    if t.startswith("$scopeinfo"):
        return "free"  # Yosys' record of the flattened hierarchy, not logic
    if t.startswith(_LUTRAM_PREFIXES):
        return "lut"
    if t.startswith(_SEQ_PREFIXES):
        return "seq"
    if t.startswith("LUT"):
        return "lut"
    if t.startswith("CARRY"):
        return "carry"
    if t.startswith(_FREE):
        return "free"
    return "other"


def _lutram_read_port(port: str) -> bool:
    """Address inputs of a distributed RAM (RAM32M/RAM64M: ADDRA..ADDRH; RAM*X1D: A0.., DPRA0..;
    RAM*X1S: A0..), the only inputs with a combinational path to its outputs.  The write address of
    RAM32M/RAM64M is ADDRD/ADDRH, which is also that port's read address, so it counts as a read port."""
    return port.startswith(("ADDR", "DPRA")) or (port[:1] == "A" and port[1:].isdigit()) or port == "A"


@dataclass(frozen=True)
class PathDepth:
    lut_levels: int
    carry_cells: int
    end: str  # cell (and port) where the path ends
    cells: tuple[str, ...]  # the path's combinational cells, start to end


@dataclass
class TimingReport:
    module: str
    cells: dict[str, int]
    max_lut_levels: int
    max_carry_cells: int
    worst: list[PathDepth]
    dsp_without_mreg: list[str] = field(default_factory=list)
    dsp_without_preg: list[str] = field(default_factory=list)
    dsp_fabric_registered: int = 0  # DSPs without internal M/P registers whose inputs come from and whose outputs go only to flip-flops
    unknown_cells: dict[str, int] = field(default_factory=dict)
    loops_cut: list[str] = field(default_factory=list)  # cells where a combinational loop was cut (none in a sound netlist)

    @property
    def meets_300mhz_rule(self) -> bool:
        return (self.max_lut_levels <= MAX_LUT_LEVELS_300MHZ and not self.dsp_without_mreg and not self.dsp_without_preg)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["meets_300mhz_rule"] = self.meets_300mhz_rule
        d["worst"] = [{"lut_levels": p.lut_levels, "carry_cells": p.carry_cells, "end": p.end, "cells": list(p.cells)}
                      for p in self.worst]
        return d


def _param_int(v: Any) -> int:
    if isinstance(v, int):
        return v
    s = str(v)
    try:
        return int(s, 2) if set(s) <= {"0", "1"} else int(s)
    except ValueError:
        return 0


def analyse(netlist: dict[str, Any], module: Optional[str] = None, top_paths: int = 5) -> TimingReport:
    """Logic depth of ``module`` (default: the only or the ``top`` module) of a Yosys JSON netlist."""
    mods = netlist["modules"]
    if module is None:
        tops = [m for m, d in mods.items() if _param_int(d.get("attributes", {}).get("top", 0))]
        module = tops[0] if tops else next(iter(mods))
    mod = mods[module]
    cells = mod.get("cells", {})
    counts: dict[str, int] = defaultdict(int)
    unknown: dict[str, int] = defaultdict(int)
    driver: dict[int, str] = {}  # net bit -> comb cell driving it
    comb_inputs: dict[str, list[int]] = {}
    weight: dict[str, tuple[int, int]] = {}
    ends: list[tuple[str, list[int]]] = []  # (label, input bits) of path ends
    no_m, no_p = [], []
    for name, c in cells.items():
        t = c["type"]
        counts[t.lstrip("\\")] += 1
        k = _kind(t)
        dirs = c.get("port_directions", {})
        conns = c.get("connections", {})
        ins = [b for p, bits in conns.items() if dirs.get(p) == "input" for b in bits if isinstance(b, int)]
        outs = [b for p, bits in conns.items() if dirs.get(p) == "output" for b in bits if isinstance(b, int)]
        if t.lstrip("\\").startswith(_LUTRAM_PREFIXES):
            # A LUT RAM reads asynchronously (address -> data: one LUT level) but writes on the clock:
            # its data, write-enable and write-address inputs end paths, they do not reach its outputs.
            ins = [b for p, bits in conns.items() if dirs.get(p) == "input" and _lutram_read_port(p)
                   for b in bits if isinstance(b, int)]
            ends.append((f"{name} ({t.lstrip(chr(92))} inputs)",  # the write side; the read address too
                         [b for p, bits in conns.items() if dirs.get(p) == "input" and p != "WCLK"
                          for b in bits if isinstance(b, int)]))
        if k == "seq":
            ends.append((f"{name} ({t.lstrip(chr(92))})", ins))
            if t.lstrip("\\").startswith("DSP48"):
                prm = c.get("parameters", {})
                if not _param_int(prm.get("MREG", 1)) and _param_int(prm.get("USE_MULT", 1)) != 0:
                    no_m.append(name)
                if not _param_int(prm.get("PREG", 1)):
                    no_p.append(name)
            continue
        if k == "other":
            unknown[t] += 1
        w = (1, 0) if k == "lut" else (0, 1) if k == "carry" else (0, 0)
        weight[name] = w
        comb_inputs[name] = ins
        for b in outs:
            driver[b] = name
    # DSPs whose pipeline registers Yosys left in the fabric: every data input driven by a flip-flop
    # (A/B registers) and every output read only by flip-flops (M/P registers) -- Vivado absorbs
    # such registers into the DSP; they are not unregistered DSPs.
    ff_driver: set[int] = set()
    sinks: dict[int, list[str]] = defaultdict(list)
    for name, c in cells.items():
        dirs, conns = c.get("port_directions", {}), c.get("connections", {})
        is_ff = c["type"].lstrip("\\").startswith("FD")
        for p, bits in conns.items():
            for b in bits:
                if not isinstance(b, int):
                    continue
                if dirs.get(p) == "output" and is_ff:
                    ff_driver.add(b)
                elif dirs.get(p) == "input":
                    sinks[b].append(c["type"].lstrip("\\"))
    fabric_ok = 0
    ok_names: set[str] = set()
    for name in sorted(set(no_m) | set(no_p)):
        c = cells[name]
        dirs, conns = c.get("port_directions", {}), c.get("connections", {})
        data_in = [b for p, bits in conns.items() if dirs.get(p) == "input" and p[:1] in ("A", "B", "C", "D")
                   and not p.startswith(("ACIN", "BCIN", "CARRY", "ALUMODE", "CE", "CLK", "INMODE", "OPMODE", "RST"))
                   for b in bits if isinstance(b, int)]
        outs = [b for p, bits in conns.items() if dirs.get(p) == "output" and p == "P" for b in bits if isinstance(b, int)]
        if all(b in ff_driver for b in data_in) and all(all(t.startswith("FD") for t in sinks[b]) for b in outs if sinks[b]):
            fabric_ok += 1
            ok_names.add(name)
    no_m = [n for n in no_m if n not in ok_names]
    no_p = [n for n in no_p if n not in ok_names]
    fabric_dsps = fabric_ok
    for pname, p in mod.get("ports", {}).items():
        if p.get("direction") == "output":
            ends.append((f"output {pname}", [b for b in p.get("bits", []) if isinstance(b, int)]))

    memo: dict[str, tuple[int, int, Optional[str]]] = {}
    open_: set[str] = set()  # expanded, not finished: a predecessor found here closes a combinational loop
    loops: set[str] = set()

    def depth(cell: str) -> tuple[int, int, Optional[str]]:
        """(LUT levels, carry cells, predecessor cell) of the deepest path ending at ``cell``'s output."""
        stack = [(cell, False)]
        while stack:
            cur, expanded = stack.pop()
            if cur in memo:
                continue
            preds = [driver[b] for b in comb_inputs[cur] if b in driver]
            if not expanded:
                if cur in open_:  # pushed again from inside its own loop: finished by its first entry
                    continue
                open_.add(cur)
                stack.append((cur, True))
                for p in preds:
                    if p not in memo and p not in open_:
                        stack.append((p, False))
                continue
            best = (0, 0, None)
            for p in set(preds):
                if p not in memo:  # a combinational loop (e.g. through an unknown cell): cut at this edge
                    loops.add(cur)
                    continue
                lv, cy, _ = memo[p]
                if (lv, cy) > best[:2]:
                    best = (lv, cy, p)
            w = weight[cur]
            memo[cur] = (best[0] + w[0], best[1] + w[1], best[2])
            open_.discard(cur)
        return memo[cell]

    paths: list[PathDepth] = []
    for label, bits in ends:
        best: tuple[int, int, Optional[str]] = (0, 0, None)
        for b in bits:
            d = driver.get(b)
            if d is None:
                continue
            lv, cy, _ = depth(d)
            if (lv, cy) > best[:2]:
                best = (lv, cy, d)
        if best[2] is None:
            continue
        chain, cur = [], best[2]
        while cur is not None:
            chain.append(cur)
            cur = memo[cur][2]
        paths.append(PathDepth(best[0], best[1], label, tuple(reversed(chain))))
    paths.sort(key=lambda p: (p.lut_levels, p.carry_cells), reverse=True)
    worst: list[PathDepth] = []
    seen_ends: set[str] = set()
    for p in paths:
        if p.end not in seen_ends:
            worst.append(p)
            seen_ends.add(p.end)
        if len(worst) >= top_paths:
            break
    return TimingReport(module=module, cells=dict(sorted(counts.items())),
                        max_lut_levels=max((p.lut_levels for p in paths), default=0),
                        max_carry_cells=max((p.carry_cells for p in paths), default=0),
                        worst=worst, dsp_without_mreg=sorted(no_m), dsp_without_preg=sorted(no_p),
                        dsp_fabric_registered=fabric_dsps, unknown_cells=dict(unknown),
                        loops_cut=sorted(loops))


def analyse_file(path: Union[str, Path], module: Optional[str] = None, top_paths: int = 5) -> TimingReport:
    return analyse(json.loads(Path(path).read_text()), module, top_paths)
