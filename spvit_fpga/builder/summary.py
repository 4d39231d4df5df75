"""The text ``python -m spvit_fpga.generate`` prints: the latency estimate report (``--estimate``),
the table of known boards (``--list-boards``) and the summary of a generated project.

The estimate is the HLS schedule of the overlay engine's layer program (:mod:`spvit_fpga.hls.estimate`)
beside the RTL engine's calibrated cycle model of the same program; ``--estimate`` needs no weights:
the program comes from a shape-only IR (:func:`spvit_fpga.hw.overlay.shapes.shape_ir`, zero weights,
the embedded default model's formats).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..hls.estimate import hls_summary
from ..hls.plan import build_plan
from ..hw import cost_model
from ..hw import source as models
from ..hw.boards import board_names, load_board
from ..hw.estimate_report import text_table
from ..hw.overlay.shapes import shape_ir
from ..nn.config import ModelConfig
from .design import Design, estimates

__all__ = ["estimate_report", "boards_table", "summary_table"]


def estimate_report(cfg: ModelConfig, board, kept: Optional[list[int]], weights: str = "auto") -> str:
    """Per-instruction cycles and total latency of the HLS schedule and the RTL engine's cycle model
    (no weights needed)."""
    from .design import design_for

    ir = shape_ir(cfg, models.default_model_ir().ir)
    d = design_for(models.ModelSource(ir, f"{cfg.name} (shapes only)", None), board, weights)
    plan = d.plan
    kept = kept if kept is not None else cost_model.target_kept(cfg)
    s = hls_summary(plan, kept)
    e, mhz = plan.cfg, board.clock_mhz
    res = d.resources
    lines = [f"{cfg.name} on {board.name} ({board.part}, {mhz:g} MHz): overlay engine L = {e.lanes} "
             f"({e.lanes * e.lanes} int8 MAC/cycle, {e.pack} a DSP), {e.ports} weight port(s) of {e.port_bits} bits, "
             f"DSP {res['dsp']['total']} of {board.resources['dsp']}, BRAM18 {res['bram18']['total']} of "
             f"{board.resources['bram18']}",
             f"kept patch tokens per stage: {list(kept)} of {cfg.num_patches}; param stream "
             f"{s['param_stream_bytes']} bytes a image", "",
             "HLS schedule per instruction (cycles; stall = waiting for weights; rtl = the RTL engine's cycle model):",
             text_table([("instruction", "op", "cycles", "stall", "rtl")]
                        + [(x["name"], x["op"], str(x["cycles"]), str(x["stall"]), str(x["rtl_cycles"]))
                           for x in s["layers"]]), "",
             f"total (HLS schedule):           {s['total_cycles']} cycles = {s['latency_ms']:.3f} ms per image",
             f"total (RTL engine cycle model): {s['rtl_engine_cycles']} cycles = {s['rtl_engine_ms']:.3f} ms per image",
             f"weight stream alone (DDR bound): {s['ddr_bound_cycles']} cycles = "
             f"{s['ddr_bound_cycles'] / (mhz * 1e3):.3f} ms"]
    if cfg.num_stages:
        dense = hls_summary(plan, [cfg.num_patches] * cfg.num_stages)
        lines.append(f"nothing pruned: {dense['latency_ms']:.3f} ms (HLS), {dense['rtl_engine_ms']:.3f} ms (RTL engine)")
    return "\n".join(lines)


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
