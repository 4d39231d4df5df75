"""The latency estimate of ``python -m spvit_fpga.generate --estimate``: one structured dict (the
``--json`` output), and the text rendered from it -- a short summary first, per-layer tables after.

Each view of the latency is an :class:`EstimateSection` in :data:`SECTIONS`: a key, a title and a
function giving the cycles per layer for a kept-token schedule.  Today there are two: the cost
model of the target accelerator (:mod:`spvit_fpga.hw.cost_model`) and the cycle formulas of the
generated HLS kernels (:mod:`spvit_fpga.hls.estimate`).  Another view (the cycle model of another
engine) is one more entry; its summary row, dense comparison, per-layer table and JSON follow.

The kept tokens per stage come with their origin (``kept_tokens.source``): measured by the integer
reference on test images when a trained model is given, the ``--kept`` counts, or the model's
target keep ratios for an architecture without weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from ..hls.estimate import kernel_costs
from ..hls.plan import DesignShape, design_shape
from ..hw import cost_model
from ..hw.boards import Board
from ..hw.estimate_report import architecture, cost_model_layers, text_table
from ..nn.config import ModelConfig

__all__ = ["EstimateContext", "EstimateSection", "SECTIONS", "target_kept_info", "measured_kept_info", "estimate",
           "render_estimate"]


@dataclass(frozen=True)
class EstimateContext:
    """What every view is computed from: model, board, the cost model's GEMM array, the HLS shape."""

    cfg: ModelConfig
    board: Board
    par: cost_model.Parallelism
    shape: DesignShape


@dataclass(frozen=True)
class EstimateSection:
    """One view of the latency: ``layers(ctx, kept)`` -> ``[{"name", "tokens", "cycles", ...}]``."""

    name: str
    title: str
    layers: Callable[[EstimateContext, list[int]], list[dict[str, Any]]]


def _kernel_layers(ctx: EstimateContext, kept: list[int]) -> list[dict[str, Any]]:
    return [{"name": x.name, "kind": x.kind, "tokens": x.tokens, "cycles": x.cycles}
            for x in kernel_costs(ctx.cfg, ctx.shape, kept)]


SECTIONS: list[EstimateSection] = [
    EstimateSection("cost_model", "cost model (target accelerator)",
                    lambda ctx, kept: cost_model_layers(ctx.cfg, ctx.board, ctx.par, kept)),
    EstimateSection("kernels", "generated HLS kernels (cycle formulas)", _kernel_layers),
]


def target_kept_info(cfg: ModelConfig, architecture_only: bool = False) -> dict[str, Any]:
    """Kept tokens at the model's target keep ratios."""
    why = "; an architecture without weights has nothing to measure" if architecture_only else ""
    ratios = ", ".join(f"{r:g}" for r in cfg.keep_ratios)
    return {"per_stage": cost_model.target_kept(cfg), "source": f"target keep ratios {ratios}{why}"}


def measured_kept_info(kept: Sequence[Sequence[int]], images: str) -> dict[str, Any]:
    """Kept tokens measured per image (``kept[image][stage]``); the estimate uses the rounded mean."""
    n = len(kept)
    stages = len(kept[0]) if n else 0
    mean = [sum(k[s] for k in kept) / n for s in range(stages)] if n else []
    return {"per_stage": [int(round(m)) for m in mean], "source": f"measured by the integer reference on {images}",
            "images": n, "mean": [round(m, 2) for m in mean],
            "min": [min(k[s] for k in kept) for s in range(stages)], "max": [max(k[s] for k in kept) for s in range(stages)]}


def estimate(cfg: ModelConfig, board: Board, kept_info: dict[str, Any], weights: str = "auto") -> dict[str, Any]:
    """The whole estimate as one dict (JSON-ready): architecture, kept tokens, one summary row and
    one per-layer table per section, each also at the dense schedule (nothing pruned)."""
    par = cost_model.parallelism_for(cfg, board, weights)
    resources = cost_model.check_fit(cfg, board, par)
    ctx = EstimateContext(cfg, board, par, design_shape(cfg, par.pe, par.simd))
    kept = list(kept_info["per_stage"])
    dense = [cfg.num_patches] * cfg.num_stages
    per_ms = board.clock_mhz * 1e3
    sections = {}
    for sec in SECTIONS:
        layers = sec.layers(ctx, kept)
        total = sum(int(x["cycles"]) for x in layers)
        dense_total = sum(int(x["cycles"]) for x in sec.layers(ctx, dense)) if cfg.num_stages else total
        sections[sec.name] = {"title": sec.title, "total_cycles": total, "latency_ms": total / per_ms,
                              "dense_cycles": dense_total, "dense_latency_ms": dense_total / per_ms, "layers": layers}
    return {
        "model": cfg.name,
        "board": {"name": board.name, "part": board.part, "clock_mhz": board.clock_mhz},
        "architecture": architecture(cfg, board, par, resources),
        "kept_tokens": {**kept_info, "of": cfg.num_patches},
        "sections": sections,
    }


def _kept_line(k: dict[str, Any]) -> str:
    if "mean" in k:
        spread = ", ".join(f"{lo}..{hi}" for lo, hi in zip(k["min"], k["max"]))
        return (f"kept patch tokens per stage: {k['per_stage']} of {k['of']} (mean {k['mean']}, per image {spread}; "
                f"{k['source']})")
    return f"kept patch tokens per stage: {k['per_stage']} of {k['of']} ({k['source']})"


def render_estimate(d: dict[str, Any], details: bool = True) -> str:
    """The text of :func:`estimate`: what was estimated, one summary row per section, then (with
    ``details``) the per-layer tables."""
    b, a = d["board"], d["architecture"]
    lines = [f"{d['model']} on {b['name']} ({b['part']}, {b['clock_mhz']:g} MHz): GEMM array PE {a['pe']} x SIMD "
             f"{a['simd']} = {a['macs_per_cycle']} int8 MAC/cycle ({a['gemm_dsp']} DSP of {a['board_dsp']}), "
             f"weights {a['weights']}",
             _kept_line(d["kept_tokens"]), ""]
    rows = [("estimate", "cycles / image", "ms / image", "dense ms", "fewer cycles")]
    for s in d["sections"].values():
        fewer = 1 - s["total_cycles"] / s["dense_cycles"] if s["dense_cycles"] else 0.0
        rows.append((s["title"], str(s["total_cycles"]), f"{s['latency_ms']:.3f}", f"{s['dense_latency_ms']:.3f}",
                     f"{100 * fewer:.1f} %"))
    lines.append(text_table(rows))
    lines += ["", f"resources (cost model): {a['resources']}"]
    if details:
        for s in d["sections"].values():
            lines += ["", f"{s['title']}, per layer:",
                      text_table([("layer", "tokens", "cycles")] + [(x["name"], str(x["tokens"]), str(x["cycles"]))
                                                                    for x in s["layers"]])]
    return "\n".join(lines)
