"""The tables ``python -m spvit_fpga.generate`` prints besides the estimate
(:mod:`spvit_fpga.builder.estimate`): the known boards (``--list-boards``) and the summary of a
generated project.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..hw.boards import board_names, load_board
from ..hw.estimate_report import text_table
from .design import Design, estimates

__all__ = ["boards_table", "summary_table"]


def boards_table() -> str:
    rows = [("board", "part", "DSP", "BRAM18", "URAM", "LUT", "clock")]
    for name in board_names():
        b = load_board(name)
        r = b.resources
        rows.append((name, b.part, str(r["dsp"]), str(r["bram18"]), str(r["uram"]), str(r["lut"]), f"{b.clock_mhz:g} MHz"))
    return text_table(rows)


def summary_table(design: Design, files: dict, out: Path, csim=None) -> str:
    plan, board = design.plan, design.board
    est = estimates(design)
    e = plan.cfg
    rows = [("item", "value"),
            ("model", design.source.description),
            ("board", f"{board.name} ({board.part}), {board.clock_mhz:g} MHz"),
            ("engine", f"overlay, L = {e.lanes}: {e.lanes * e.lanes} MAC/cycle, {e.ports} weight port(s) of {e.port_bits} bits"),
            ("resources", f"DSP {design.resources['dsp']['total']} / {board.resources['dsp']}, "
                          f"BRAM18 {design.resources['bram18']['total']} / {board.resources['bram18']}"),
            ("weights", f"DDR image {len(files.get('weights.bin', b''))} bytes"),
            ("kept tokens (target)", str(est["target_kept"])),
            ("latency, HLS schedule", f"{est['kernels']['latency_ms']:.3f} ms"),
            ("latency, RTL engine model", f"{est['kernels']['rtl_engine_ms']:.3f} ms"),
            ("files", f"{len(files)} in {out}")]
    if "manifest.json" in files:
        drc = json.loads(files["manifest.json"])["hls"]["drc"]
        rules = drc["rules"]
        rows.append(("design-rule check", f"{sum(r['passed'] for r in rules)}/{len(rules)} rules passed"
                     + ("" if drc["passed"] else f" (FAILED: {', '.join(r['rule'] for r in rules if not r['passed'])})")))
    if csim is not None:
        rows.append(("C-simulation", f"{csim.bit_exact}/{csim.images} bit-exact (compile {csim.compile_seconds:.1f} s, "
                                     f"run {csim.run_seconds:.1f} s)"))
    return text_table(rows)
