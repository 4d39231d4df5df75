"""The architecture-level part of the latency report (``generate --estimate``), as text.

What needs only the model config and the board: the GEMM array the cost model chooses, the fit
check, and the cost model's cycles per layer for a kept-token schedule.  The generated kernels'
own view (the HLS loop structure) is added by :mod:`spvit_fpga.builder`, which owns the whole
report; :func:`text_table` is the plain column layout every table of the command line uses.
"""
from __future__ import annotations

from typing import Sequence

from ..nn.config import ModelConfig
from . import cost_model
from .boards import Board

__all__ = ["text_table", "architecture_lines", "cost_model_lines"]


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, no trailing blanks; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def architecture_lines(cfg: ModelConfig, board: Board, par: cost_model.Parallelism, resources: dict,
                       kept: Sequence[int]) -> list[str]:
    """The GEMM array, where the weights live, the kept tokens and the cost-model resources."""
    return [f"{cfg.name} on {board.name} ({board.part}, {board.clock_mhz:g} MHz): GEMM array PE {par.pe} x SIMD "
            f"{par.simd} = {par.macs_per_cycle} int8 MAC/cycle ({-(-par.macs_per_cycle // board.int8_macs_per_dsp)} "
            f"DSP of {board.resources['dsp']}), weights {'on chip' if par.weights_onchip else 'streamed from DDR'}",
            f"kept patch tokens per stage: {list(kept)} of {cfg.num_patches}; cost-model resources {resources}"]


def cost_model_lines(cfg: ModelConfig, board: Board, par: cost_model.Parallelism,
                     kept: Sequence[int]) -> tuple[list[str], int]:
    """The cost model's per-layer table (heading included) and its total cycles."""
    cm = cost_model.layer_costs(cfg, board, par, list(kept))
    lines = ["cost model (target accelerator), per layer:",
             text_table([("layer", "tokens", "cycles")] + [(x.name, str(x.tokens), str(x.cycles)) for x in cm])]
    return lines, sum(x.cycles for x in cm)
