"""A design: the model source, the board, and the HLS face of the overlay engine it gets.

:func:`design_for` is the one place that turns a model and a board into the design every HLS file
is rendered from: the overlay engine the board gets (:func:`spvit_fpga.hw.overlay.arch.choose_overlay`,
the engine the RTL overlay implements too), its layer program and weight image
(:func:`spvit_fpga.hls.plan.build_plan`), and the resource check; :func:`estimates` gives the HLS
schedule's latency for a kept-token schedule (:mod:`spvit_fpga.hls.estimate`) as the manifest
records it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from ..errors import UserError
from ..hls import estimate
from ..hls import project as hls_project
from ..hls.plan import HlsPlan, build_plan
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
    plan: HlsPlan
    resources: dict[str, Any]

    @property
    def clock_period_ns(self) -> str:
        return hls_project.clock_period_ns(self.board)


def design_for(source: ModelSource, board: Board, weights: str = "auto", *, lanes: Optional[int] = None,
               ports: Optional[int] = None) -> Design:
    """The HLS design of ``source`` on ``board`` (UserError with the numbers if it does not fit).
    Every weight streams from DDR (``weights.bin``): ``weights`` may be ``auto`` or ``ddr``.
    ``lanes`` / ``ports`` override the engine's array side and HP ports (tests, small designs)."""
    if weights not in ("auto", "ddr"):
        raise UserError(f"--weights {weights}: the HLS engine streams every parameter from DDR (weights.bin); "
                        "use --weights auto or ddr")
    cfg = ModelConfig.from_dict(source.ir.model)
    plan = build_plan(source.ir, board, lanes=lanes, ports=ports)
    res = plan.resources()
    for kind in ("dsp", "bram18"):
        if res[kind]["total"] > board.resources[kind]:
            raise UserError(f"{cfg.name} does not fit {board.name}: the HLS engine (L = {plan.lanes}) needs "
                            f"{res[kind]['total']} {kind.upper()}, the board has {board.resources[kind]}")
    return Design(source, cfg, board, plan, res)


def estimates(d: Design, kept: Optional[Sequence[int]] = None) -> dict[str, Any]:
    return estimate.estimates(d.plan, kept)


def latency_estimates(d: Design) -> Callable[[list[int]], dict]:
    """Per-image latency (ms) of the HLS schedule and of the RTL engine's cycle model for the kept
    counts a simulation measured."""

    def latency(kept: list[int]) -> dict:
        s = estimate.hls_summary(d.plan, kept)
        return {"hls": round(s["latency_ms"], 6), "rtl_engine": round(s["rtl_engine_ms"], 6)}

    return latency
