"""The architecture-level part of the latency estimate (``generate --estimate``), as data.

What needs only the model config and the board: the GEMM array the cost model chooses with its
resources (:func:`architecture`), and the cost model's cycles per layer for a kept-token schedule
(:func:`cost_model_layers`).  The generated kernels' own view (the HLS loop structure) and the
report around both are :mod:`spvit_fpga.builder.estimate`; :func:`text_table` is the plain column
layout every table of the command line uses.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..nn.config import ModelConfig
from . import cost_model
from .boards import Board

__all__ = ["text_table", "architecture", "cost_model_layers"]


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, no trailing blanks; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def architecture(cfg: ModelConfig, board: Board, par: cost_model.Parallelism, resources: dict) -> dict[str, Any]:
    """The GEMM array, where the weights live and the cost model's resources."""
    return {"pe": par.pe, "simd": par.simd, "macs_per_cycle": par.macs_per_cycle,
            "gemm_dsp": -(-par.macs_per_cycle // board.int8_macs_per_dsp), "board_dsp": board.resources["dsp"],
            "weights": "on chip" if par.weights_onchip else "streamed from DDR", "resources": dict(resources)}


def cost_model_layers(cfg: ModelConfig, board: Board, par: cost_model.Parallelism,
                      kept: Sequence[int]) -> list[dict[str, Any]]:
    """The cost model's cycles per layer for ``kept`` patch tokens per stage."""
    return [{"name": x.name, "kind": x.kind, "tokens": x.tokens, "cycles": x.cycles}
            for x in cost_model.layer_costs(cfg, board, par, list(kept))]
