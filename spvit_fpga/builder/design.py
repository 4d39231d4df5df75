"""A design: the model source, the board, the parallelism the cost model chooses and the HLS plan.

:func:`design_for` is the one place that turns a model and a board into the architecture every
face is built from (GEMM array from :mod:`spvit_fpga.hw.cost_model`, fit check, the HLS design
plan); :func:`estimates` gives its latency views for a kept-token schedule (cost model and the
generated kernels) as the manifest records them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from ..hls import estimate
from ..hls import project as hls_project
from ..hls.plan import DesignPlan, build_plan
from ..hw import cost_model
from ..hw.boards import Board
from ..hw.source import ModelSource
from ..nn.config import ModelConfig

__all__ = ["Design", "design_for", "estimates", "latency_estimates"]


@dataclass
class Design:
    """Everything a project is rendered from."""

    source: ModelSource
    cfg: ModelConfig
    board: Board
    par: cost_model.Parallelism
    plan: DesignPlan
    resources: dict[str, int]

    @property
    def clock_period_ns(self) -> str:
        return hls_project.clock_period_ns(self.board)


def design_for(source: ModelSource, board: Board, weights: str = "auto") -> Design:
    """Parallelism from the cost model, fit check (UserError with the numbers), design plan.
    ``weights``: ``auto`` (on chip if they fit, the cost model's rule), ``onchip`` or ``ddr``."""
    cfg = ModelConfig.from_dict(source.ir.model)
    par = cost_model.parallelism_for(cfg, board, weights)
    resources = cost_model.check_fit(cfg, board, par)
    plan = build_plan(source.ir, block_pe=par.pe, block_simd=par.simd, weights_in_ddr=not par.weights_onchip)
    return Design(source, cfg, board, par, plan, resources)


def estimates(d: Design, kept: Optional[Sequence[int]] = None) -> dict[str, Any]:
    target = cost_model.target_kept(d.cfg)
    kept = list(kept) if kept is not None else target
    return {
        "clock_mhz": d.board.clock_mhz,
        "target_kept": target,
        "kept_tokens": kept,
        "cost_model": estimate.cost_model_summary(d.cfg, d.board, d.par, kept),
        "kernels": estimate.kernels_summary(d.cfg, d.plan.shape, d.board, kept),
        "latency_table": estimate.latency_table(d.cfg, d.plan.shape, d.board, d.par),
    }


def latency_estimates(d: Design) -> Callable[[list[int]], dict]:
    """Per-image latency (ms) of both views for the kept counts a simulation measured."""
    board, cfg = d.board, d.cfg

    def latency(kept: list[int]) -> dict:
        cm = cost_model.latency_ms(cost_model.layer_costs(cfg, board, d.par, kept), board)
        kc = sum(x.cycles for x in estimate.kernel_costs(cfg, d.plan.shape, kept)) / (board.clock_mhz * 1e3)
        return {"cost_model": round(cm, 6), "kernels": round(kc, 6)}

    return latency
