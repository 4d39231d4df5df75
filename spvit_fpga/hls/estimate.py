"""Latency estimates of a generated design, as a function of the kept tokens.

Two views, both in the manifest:

* ``cost_model`` -- :mod:`spvit_fpga.hw.cost_model`: the target accelerator (one shared PE x SIMD
  array for every GEMM incl. QK^T and AV, weight tiles streamed at the DDR bandwidth and
  double-buffered, a ``lanes``-wide vector unit).  This is the design the parallelism is chosen for.
* ``kernels`` -- the cycles of the generated C++ as written, from the loop structure of the
  ``hls/`` kernels (every loop pipelined at II=1, trip counts from the live tokens, no overlap
  between calls).  ``spvit::linear`` double-buffers its weight tiles and loads one PE x SIMD
  slice per cycle while computing (``linear_cycles``: a tile costs max(n, 1) * K/SIMD cycles;
  the DDR rate is not modelled here, see docs/hls_backend.md); the element-wise loops
  (LayerNorm, requantise, residual, copies) handle ``shape.lanes`` channels per cycle, the
  token-merge unit ``shape.merge_lanes``; the patch embedding and the selectors' per-head MLP run
  on the block engine (``shape.patch_tiles``, ``shape.sel_on_block``).  Where the kernels still
  fall short of the target: the attention unit has its own two arrays of ``attn_qp`` query rows
  x ``ATTN_SIMD`` lanes (not the big PE x SIMD array of the cost model).

Both are first-order models (no Vivado numbers on this machine); both take ``kept[s]`` = patch
tokens alive after selector stage ``s``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from ..hw import cost_model
from ..hw.boards import Board
from ..nn.config import ModelConfig
from .plan import DesignShape

__all__ = ["KernelCost", "kernel_costs", "cost_model_summary", "latency_table"]

LOOP_OVERHEAD = 3  # cycles to enter/leave a pipelined inner loop (per outer iteration)


@dataclass(frozen=True)
class KernelCost:
    name: str
    kind: str
    tokens: int
    cycles: int


def _linear(k: int, m: int, simd: int, pe: int, n: int) -> int:
    """spvit::linear_cycles: K/SIMD prefetch of tile 0, then per tile max(n*K/SIMD, K/SIMD load of
    the next tile) (double buffer; the last tile has nothing to load), plus loop entry per loop."""
    sf, nf = k // simd, m // pe
    return sf * (1 + (nf - 1) * max(n, 1) + n) + (nf + 1) * LOOP_OVERHEAD


def _layernorm(c: int, n: int, lanes: int = 1) -> int:
    return n * (2 * (c // lanes) + 2 * LOOP_OVERHEAD)


def _vec(c: int, n: int, lanes: int) -> int:
    """An element-wise frame loop (spvit_glue.h): n rows of c/lanes cycles plus loop entry."""
    return n * (c // lanes + LOOP_OVERHEAD)


def _attention(t: int, dh: int, simd: int, qp: int = 1, el: int = 1) -> int:
    """One head, spvit::attention_cycles: nb = ceil(t/qp) query blocks; nb + 1 loops of t*(DH/SIMD)
    cycles each run the scores (max fused) of block b and the context (division fused) of block
    b-1 on their two multiplier arrays at once, nb exps loops of ceil(t/el) cycles; plus loop
    entry.  The head is read from and written to the frames in place (no slice/merge copies)."""
    f, nb = dh // simd, -(-t // qp)
    return (nb + 1) * (t * f + LOOP_OVERHEAD) + nb * (-(-t // el) + LOOP_OVERHEAD)


def kernel_costs(cfg: ModelConfig, shape: DesignShape, kept: Optional[Sequence[int]] = None) -> list[KernelCost]:
    """Cycles of every step of the generated top function for one image (see module docstring)."""
    c, h, dh, n_patch = cfg.embed_dim, cfg.num_heads, cfg.head_dim, cfg.num_patches
    nt = shape.nt
    kept = [n_patch] * cfg.num_stages if kept is None else [int(k) for k in kept]
    if len(kept) != cfg.num_stages:
        raise ValueError(f"need {cfg.num_stages} kept counts, got {len(kept)}")
    eb = shape.engines["engine_block"]
    ep = shape.engines["engine_patch"]
    eh = shape.engines["engine_head"]
    kp = shape.kp
    ln = shape.lanes
    if shape.patch_tiles:  # on the block engine: C-wide fan-in tiles, their sum, + position embedding
        ntp = shape.patch_tiles
        patch = ntp * _linear(c, c, eb.simd, eb.pe, n_patch) + (ntp - 1) * _vec(c, n_patch, ln) + _vec(c, 1 + n_patch, ln)
    else:
        patch = _linear(kp, c, ep.simd, ep.pe, n_patch) + _vec(c, 1 + n_patch, ln)
    out: list[KernelCost] = [
        KernelCost("read_image", "io", n_patch, shape.in_words),
        KernelCost("patch_embed", "gemm", n_patch, patch),
    ]
    alive, stage = n_patch, 0
    for i in range(cfg.depth):
        if stage < cfg.num_stages and cfg.selector_blocks[stage] == i:
            out.extend(_selector_costs(f"select{stage}", cfg, shape, alive, stage, kept[stage]))
            alive = kept[stage]
            stage += 1
        t = 1 + alive + stage
        p = f"block{i}."
        gemm = _linear(c, c, eb.simd, eb.pe, t)
        epi = _vec(c, t, ln)  # requantise / residual / accumulate of the GEMM output
        out += [
            KernelCost(p + "norm1", "vector", t, _layernorm(c, t, ln)),
            KernelCost(p + "qkv", "gemm", t, 3 * (gemm + epi)),
            KernelCost(p + "attn", "attention", t, h * _attention(t, dh, shape.attn_simd, shape.attn_qp, shape.attn_el)),
            KernelCost(p + "proj", "gemm", t, gemm + epi),
            KernelCost(p + "norm2", "vector", t, _layernorm(c, t, ln)),
            KernelCost(p + "fc1", "gemm", t, nt * (gemm + epi)),
            KernelCost(p + "fc2", "gemm", t, nt * gemm + nt * epi),
        ]
    out.append(KernelCost("norm", "vector", 1, _layernorm(c, 1, ln)))
    out.append(KernelCost("head", "gemm", 1, _linear(c, cfg.num_classes, eh.simd, eh.pe, 1) + shape.out_words))
    return out


def _selector_costs(name: str, cfg: ModelConfig, shape: DesignShape, n: int, stage: int, n_kept: int) -> list[KernelCost]:
    c, h, dh = cfg.embed_dim, cfg.num_heads, cfg.head_dim
    e = shape.engines

    def lin(en: str, rows: int) -> int:
        x = e[en]
        return _linear(x.k, x.m, x.simd, x.pe, rows)

    rows = n * h
    ln, hl = shape.lanes, shape.half_lanes
    half = dh // 2
    if shape.sel_on_block:
        # head weights as below; LayerNorm per head slice (layernorm_heads); in_fc, out_fc1, out_fc2 on
        # the block engine (block-diagonal C x C) + requantise/GELU on the frame; token_mean over C
        # (init C, accumulate, divide C) and [local, global] (concat_global_rows); one row per
        # (token, head) for delta (head_rows) on its own engine; gather
        eb = e["engine_block"]
        mlp = (n * (h * (dh // ln) + LOOP_OVERHEAD) + lin("engine_sel_head1", n) + lin("engine_sel_head2", n) + n * h
               + _layernorm(dh, rows, ln) + 3 * (_linear(c, c, eb.simd, eb.pe, n) + _vec(c, n, ln))
               + 2 * c + _vec(c, n, ln) + _vec(c, n, hl) + rows + LOOP_OVERHEAD
               + lin("engine_sel_delta", rows) + rows)
        return [KernelCost(name + ".mlp", "selector", n, mlp), KernelCost(name + ".merge", "selector", n, _merge(c, shape, n, stage))]
    # head_means (per token H sums of DH/ln cycles), split_heads, global_feature (copy, then
    # token_mean: init, accumulate at hl lanes, divide), concat_global
    mlp = (n * (h * (dh // ln) + LOOP_OVERHEAD) + lin("engine_sel_head1", n) + lin("engine_sel_head2", n) + n * h
           + _vec(c, n, ln) + _layernorm(dh, rows, ln) + lin("engine_sel_in", rows)
           + h * (2 * n * (half // hl) + 2 * half) + _vec(dh, rows, hl)
           + lin("engine_sel_out1", rows) + lin("engine_sel_out2", rows) + lin("engine_sel_delta", rows) + rows)
    return [KernelCost(name + ".mlp", "selector", n, mlp), KernelCost(name + ".merge", "selector", n, _merge(c, shape, n, stage))]


def _merge(c: int, shape: DesignShape, n: int, k: int) -> int:
    """spvit::token_select_frame: score + tally passes (n each), init, in-place compaction of the
    1 + n + k input rows (k earlier package tokens) and the new package row, merge_lanes channels
    per cycle."""
    cb = c // shape.merge_lanes
    return 2 * n + cb + (1 + n + k) * cb + cb + 4 * LOOP_OVERHEAD


def cost_model_summary(cfg: ModelConfig, board: Board, par: cost_model.Parallelism, kept: Sequence[int]) -> dict:
    s = cost_model.summary(cfg, board, par, list(kept))
    return {"kept_tokens": list(kept), "total_cycles": s["total_cycles"], "latency_ms": s["latency_ms"],
            "layers": [{"name": x["name"], "kind": x["kind"], "tokens": x["tokens"], "cycles": x["cycles"]} for x in s["layers"]]}


def kernels_summary(cfg: ModelConfig, shape: DesignShape, board: Board, kept: Sequence[int]) -> dict:
    costs = kernel_costs(cfg, shape, kept)
    total = sum(x.cycles for x in costs)
    return {"kept_tokens": list(kept), "total_cycles": total, "latency_ms": total / (board.clock_mhz * 1e3),
            "layers": [{"name": x.name, "kind": x.kind, "tokens": x.tokens, "cycles": x.cycles} for x in costs]}


def latency_table(cfg: ModelConfig, shape: DesignShape, board: Board, par: cost_model.Parallelism) -> list[dict]:
    """Total latency (both views) for a few kept-token schedules: dense, the target keep ratios,
    and the target scaled by 0.5 and 1.5 (clamped) -- the latency as a function of kept tokens."""
    n = cfg.num_patches
    target = cost_model.target_kept(cfg)
    rows = [("dense", [n] * cfg.num_stages), ("target", target)]
    if cfg.num_stages:
        rows.append(("target x 0.5", [int(round(k * 0.5)) for k in target]))
        rows.append(("target x 1.5", _monotone([min(n, int(round(k * 1.5))) for k in target])))
    out = []
    for label, kept in rows:
        cm = cost_model.latency_ms(cost_model.layer_costs(cfg, board, par, kept), board)
        kc = sum(x.cycles for x in kernel_costs(cfg, shape, kept)) / (board.clock_mhz * 1e3)
        out.append({"schedule": label, "kept_tokens": kept, "cost_model_ms": cm, "kernels_ms": kc})
    return out


def _monotone(kept: list[int]) -> list[int]:
    out, prev = [], math.inf
    for k in kept:
        prev = min(prev, k)
        out.append(int(prev))
    return out
