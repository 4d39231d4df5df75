"""The latency estimate of ``python -m spvit_fpga.generate --estimate``: one structured dict (the
``--json`` output), and the text rendered from it -- a short summary first, per-instruction table after.

The design estimated is the one ``generate`` writes: the HLS face of the layer-sequential overlay
engine (:func:`spvit_fpga.builder.design.design_for`), running the engine's layer program.  Each
view of its latency is an :class:`EstimateSection` in :data:`SECTIONS`: a key, a title, a note on
how far to trust it, and a function giving the cycles per instruction for a kept-token schedule.
Today there are two, over the same instruction list:

* ``hls`` -- the schedule of the generated HLS kernels (:mod:`spvit_fpga.hls.estimate`: trip counts
  exact by C-simulation, pipeline depths assumed);
* ``rtl_engine`` -- the RTL overlay engine's cycle model (:func:`~spvit_fpga.hw.overlay.cycles.program_cycles`
  of :func:`~spvit_fpga.hw.overlay.cycles.counts_for_kept`), calibrated against RTL simulation of
  whole DeiT-T/S (``benchmarks/results/deit_rtl.json``).

Another view is one more entry; its summary row, dense comparison, table column and JSON follow.

The kept tokens per stage come with their origin (``kept_tokens.source``): measured by the integer
reference on test images when a trained model is given, the ``--kept`` counts, or the model's
target keep ratios for an architecture without weights (its program then comes from a shape-only
IR: :func:`spvit_fpga.hw.overlay.shapes.shape_ir`, zero weights, the embedded default model's formats).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..hls.estimate import hls_program_cycles, hls_summary
from ..hw import cost_model
from ..hw import source as models
from ..hw.boards import Board
from ..hw.estimate_report import text_table
from ..hw.overlay.cycles import counts_for_kept, program_cycles
from ..hw.overlay.shapes import shape_ir
from ..nn.config import ModelConfig
from .design import Design, design_for

__all__ = ["EstimateSection", "SECTIONS", "shape_design", "target_kept_info", "measured_kept_info", "estimate",
           "render_estimate"]


@dataclass(frozen=True)
class EstimateSection:
    """One view of the latency: ``layers(design, kept)`` -> ``[{"name", "op", "tokens", "cycles", ...}]``,
    one entry per instruction of the design's program; ``columns`` are the ``(key, header)`` pairs
    the per-instruction text table shows."""

    name: str
    title: str
    note: str
    columns: tuple[tuple[str, str], ...]
    layers: Callable[[Design, list[int]], list[dict[str, Any]]]


def _hls_layers(d: Design, kept: list[int]) -> list[dict[str, Any]]:
    steps = counts_for_kept(d.plan.program, kept)
    return [{"name": s.name, "op": s.op, "tokens": info["T"], "cycles": s.cycles, "stall": s.stall, "trips": s.trips}
            for s, info in zip(hls_program_cycles(d.plan, steps), steps)]


def _rtl_layers(d: Design, kept: list[int]) -> list[dict[str, Any]]:
    steps = counts_for_kept(d.plan.program, kept)
    return [{"name": s.name, "op": s.op, "tokens": info["T"], "cycles": s.cycles, "stream_beats": s.stream_beats}
            for s, info in zip(program_cycles(d.plan.program, steps), steps)]


SECTIONS: list[EstimateSection] = [
    EstimateSection("hls", "HLS design (schedule of hls/)",
                    "loop trip counts exact by C-simulation; pipeline depths, dispatch and Vitis reaching II = 1 "
                    "assumed (no vendor tools here)",
                    (("cycles", "HLS"), ("stall", "HLS stall")), _hls_layers),
    EstimateSection("rtl_engine", "RTL overlay engine (cycle model)",
                    "calibrated against RTL simulation of whole DeiT-T/S: every instruction within 2 % or 15 cycles, "
                    "totals within 0.01 % (benchmarks/results/deit_rtl.json)",
                    (("cycles", "RTL model"),), _rtl_layers),
]


def shape_design(cfg: ModelConfig, board: Board, weights: str = "auto") -> Design:
    """The design of an architecture without weights: its shape-only IR (zero weights, the embedded
    default model's formats) on ``board``."""
    ir = shape_ir(cfg, models.default_model_ir().ir)
    return design_for(models.ModelSource(ir, f"{cfg.name} (shapes only)", None), board, weights)


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


def _architecture(d: Design, kept: list[int]) -> dict[str, Any]:
    """The engine, its resources against the board, and the param stream with its DDR bound."""
    e, board, res = d.plan.cfg, d.board, d.resources
    s = hls_summary(d.plan, kept)
    return {"engine": "overlay (layer-sequential), HLS face", "lanes": e.lanes, "macs_per_cycle": e.macs_per_cycle,
            "macs_per_dsp": e.pack, "ports": e.ports, "port_bits": e.port_bits,
            "weights": "streamed from DDR (weights.bin)",
            "dsp": res["dsp"]["total"], "board_dsp": board.resources["dsp"],
            "bram18": res["bram18"]["total"], "board_bram18": board.resources["bram18"],
            "param_stream_bytes": s["param_stream_bytes"], "ddr_bound_cycles": s["ddr_bound_cycles"],
            "ddr_bound_ms": s["ddr_bound_cycles"] / (board.clock_mhz * 1e3)}


def estimate(design: Design, kept_info: dict[str, Any]) -> dict[str, Any]:
    """The whole estimate of ``design`` as one dict (JSON-ready): architecture, kept tokens, one
    summary row and one per-instruction list per section, each also at the dense schedule (nothing pruned)."""
    cfg, board = design.cfg, design.board
    kept = list(kept_info["per_stage"])
    dense = [cfg.num_patches] * cfg.num_stages
    per_ms = board.clock_mhz * 1e3
    sections = {}
    for sec in SECTIONS:
        layers = sec.layers(design, kept)
        total = sum(int(x["cycles"]) for x in layers)
        dense_total = sum(int(x["cycles"]) for x in sec.layers(design, dense)) if cfg.num_stages else total
        sections[sec.name] = {"title": sec.title, "note": sec.note, "total_cycles": total, "latency_ms": total / per_ms,
                              "dense_cycles": dense_total, "dense_latency_ms": dense_total / per_ms, "layers": layers}
    return {
        "model": cfg.name,
        "board": {"name": board.name, "part": board.part, "clock_mhz": board.clock_mhz},
        "architecture": _architecture(design, kept),
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
    """The text of :func:`estimate`: what was estimated, one summary row per section with its note,
    then (with ``details``) one per-instruction table with every section's columns side by side."""
    b, a = d["board"], d["architecture"]
    lines = [f"{d['model']} on {b['name']} ({b['part']}, {b['clock_mhz']:g} MHz): {a['engine']}, L = {a['lanes']} "
             f"({a['macs_per_cycle']} int8 MAC/cycle, {a['macs_per_dsp']} a DSP), {a['ports']} weight port(s) of "
             f"{a['port_bits']} bits; DSP {a['dsp']} of {a['board_dsp']}, BRAM18 {a['bram18']} of {a['board_bram18']}",
             _kept_line(d["kept_tokens"]),
             f"param stream {a['param_stream_bytes']} bytes an image, {a['weights']}; streaming it alone takes "
             f"{a['ddr_bound_cycles']} cycles = {a['ddr_bound_ms']:.3f} ms (the DDR bound)", ""]
    rows = [("estimate", "cycles / image", "ms / image", "dense ms", "fewer cycles")]
    for s in d["sections"].values():
        fewer = 1 - s["total_cycles"] / s["dense_cycles"] if s["dense_cycles"] else 0.0
        rows.append((s["title"], str(s["total_cycles"]), f"{s['latency_ms']:.3f}", f"{s['dense_latency_ms']:.3f}",
                     f"{100 * fewer:.1f} %"))
    lines.append(text_table(rows))
    lines += [""] + [f"{s['title']}: {s['note']}" for s in d["sections"].values()]
    if details:
        secs = [(d["sections"][sec.name], sec.columns) for sec in SECTIONS if sec.name in d["sections"]]
        first = secs[0][0]["layers"]
        assert all([x["name"] for x in s["layers"]] == [x["name"] for x in first] for s, _ in secs)
        header = ("instruction", "op", "tokens") + tuple(h for _, cols in secs for _, h in cols)
        body = [(x["name"], x["op"], str(x["tokens"]))
                + tuple(str(s["layers"][i][k]) for s, cols in secs for k, _ in cols) for i, x in enumerate(first)]
        lines += ["", "per instruction (cycles from its dispatch to the next; tokens = live tokens; "
                      "HLS stall = waiting for weights):", text_table([header] + body)]
    return "\n".join(lines)
