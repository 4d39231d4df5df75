"""The text ``python -m spvit_fpga.generate`` prints: the latency estimate report (``--estimate``),
the table of known boards (``--list-boards``) and the summary of a generated project.

The report puts the two estimate views side by side: the cost model of the target accelerator
(:mod:`spvit_fpga.hw.estimate_report`) and the cycle formulas of the generated HLS kernels
(:mod:`spvit_fpga.hls.estimate`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..hls.estimate import kernel_costs
from ..hls.plan import design_shape
from ..hw import cost_model
from ..hw.boards import board_names, load_board
from ..hw.estimate_report import architecture_lines, cost_model_lines, text_table
from ..nn.config import ModelConfig
from .design import Design, estimates

__all__ = ["estimate_report", "boards_table", "summary_table"]


def estimate_report(cfg: ModelConfig, board, kept: Optional[list[int]], weights: str = "auto") -> str:
    """Per-layer cycles and total latency of both estimate views (no weights needed)."""
    par = cost_model.parallelism_for(cfg, board, weights)
    res = cost_model.check_fit(cfg, board, par)
    shape = design_shape(cfg, par.pe, par.simd)
    kept = kept if kept is not None else cost_model.target_kept(cfg)
    kc = kernel_costs(cfg, shape, kept)
    mhz = board.clock_mhz
    lines = architecture_lines(cfg, board, par, res, kept) + [""]
    cm_lines, tot_cm = cost_model_lines(cfg, board, par, kept)
    lines += cm_lines
    lines += ["", "generated kernels (hls/ as written), per step:"]
    lines.append(text_table([("step", "tokens", "cycles")] + [(x.name, str(x.tokens), str(x.cycles)) for x in kc]))
    tot_k = sum(x.cycles for x in kc)
    lines += ["", f"total (cost model, target accelerator): {tot_cm} cycles = {tot_cm / (mhz * 1e3):.3f} ms per image",
              f"total (generated kernels as written):   {tot_k} cycles = {tot_k / (mhz * 1e3):.3f} ms per image"]
    dense = [cfg.num_patches] * cfg.num_stages
    if cfg.num_stages:
        d_cm = cost_model.latency_ms(cost_model.layer_costs(cfg, board, par, dense), board)
        d_k = sum(x.cycles for x in kernel_costs(cfg, shape, dense)) / (mhz * 1e3)
        lines.append(f"dense (nothing pruned): {d_cm:.3f} ms (cost model), {d_k:.3f} ms (kernels)")
    return "\n".join(lines)


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
