"""The tables ``python -m spvit_fpga.generate`` prints besides the estimate
(:mod:`spvit_fpga.builder.estimate`): the known boards (``--list-boards``) and the summary of a
generated project.
"""
from __future__ import annotations

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
    plan, board, cfg = design.plan, design.board, design.cfg
    est = estimates(design)
    eb = plan.engine("engine_block")
    rows = [("item", "value"),
            ("model", design.source.description),
            ("board", f"{board.name} ({board.part}), {board.clock_mhz:g} MHz"),
            ("block GEMM engine", f"PE {eb.pe} x SIMD {eb.simd} = {eb.macs_per_cycle} MAC/cycle"),
            ("weights", f"DDR image {len(files.get('weights.bin', b''))} bytes" if plan.weights_in_ddr else "on-chip ROMs"),
            ("kept tokens (target)", str(est["target_kept"])),
            ("latency, cost model", f"{est['cost_model']['latency_ms']:.3f} ms"),
            ("latency, kernels", f"{est['kernels']['latency_ms']:.3f} ms"),
            ("files", f"{len(files)} in {out}")]
    if csim is not None:
        rows.append(("C-simulation", f"{csim.bit_exact}/{csim.images} bit-exact (compile {csim.compile_seconds:.1f} s, "
                                     f"run {csim.run_seconds:.1f} s)"))
    return text_table(rows)
