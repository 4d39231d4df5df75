"""Analytical cost model of the accelerator: cycles per layer for any kept-token counts,
DSP/BRAM estimates, and the choice of GEMM array size for a board.

Accelerator (ARCHITECTURE.md section 5): one GEMM engine of ``pe x simd`` int8 MACs with a
requantising epilogue is reused by every linear layer, by QK^T and A.V (one head at a time) and by
the selector MLPs; a vector unit of ``lanes`` lanes runs LayerNorm, softmax and the package merge.
Activations of one frame stay on chip. Weights live on chip when they fit in ``onchip_fraction``
of the block RAM, otherwise they stream from DDR tile by tile, each tile reused for all live
tokens, double-buffered so transfer and compute overlap: a layer costs
``max(compute cycles, weight bytes / bytes per cycle)`` plus a pipeline fill.
"""
from __future__ import annotations

import math
import dataclasses
from dataclasses import asdict, dataclass
from typing import Sequence

from ..errors import UserError
from ..nn.config import ModelConfig
from .boards import Board

PIPELINE_FILL = 16  # cycles to fill/drain the GEMM pipeline per matrix product
DDR_EFFICIENCY = 0.8  # fraction of the peak DDR bandwidth a burst reader sustains
BRAM18_BYTES = 2304  # 18 Kib
URAM_BYTES = 36864  # 288 Kib
ONCHIP_FRACTION = 0.6  # share of block RAM that weights may take (activations, tables need the rest)


@dataclass(frozen=True)
class Parallelism:
    pe: int  # output channels produced per cycle by the GEMM engine
    simd: int  # input channels consumed per cycle by each PE
    lanes: int  # lanes of the vector unit (LayerNorm, softmax, merge)
    weights_onchip: bool

    @property
    def macs_per_cycle(self) -> int:
        return self.pe * self.simd


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str  # gemm | attention | vector | selector
    tokens: int
    macs: int
    compute_cycles: int
    memory_cycles: int

    @property
    def cycles(self) -> int:
        return max(self.compute_cycles, self.memory_cycles)


def weight_bytes(cfg: ModelConfig) -> int:
    """int8 bytes of all weights of the model (biases and tables not counted)."""
    c, h, d = cfg.embed_dim, cfg.mlp_hidden, cfg.head_dim
    per_block = 4 * c * c + 2 * c * h
    sel_h = max(1, cfg.num_heads // 2)
    per_sel = 2 * cfg.num_heads * sel_h + d * d + d * (d // 2) + (d // 2) * (d // 4) + (d // 4) * 2
    embed = c * cfg.in_chans * cfg.patch_size**2
    return cfg.depth * per_block + cfg.num_stages * per_sel + embed + c * cfg.num_classes


def onchip_bytes(board: Board) -> int:
    return board.resources["bram18"] * BRAM18_BYTES + board.resources["uram"] * URAM_BYTES


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(1.0, x)))))


def _pow2_divisor(x: int) -> int:
    """Largest power of two dividing ``x``."""
    return x & -x if x > 0 else 1


def choose_parallelism(cfg: ModelConfig, board: Board, dsp_fraction: float = 0.85) -> Parallelism:
    """Largest power-of-two ``pe x simd`` array within ``dsp_fraction`` of the board's DSPs.

    ``simd`` divides every fan-in of the model (it is at most the head width, since QK^T runs one
    head at a time); ``pe`` divides every output width. DSP48E2 slices pack two int8 MACs that
    share an operand; DSP48E1 one.
    """
    budget = board.resources["dsp"] * dsp_fraction * board.int8_macs_per_dsp
    if budget < 1:
        raise UserError(f"board {board.name} has no DSPs for the GEMM engine")
    macs = _pow2_floor(budget)
    simd_cap = _pow2_divisor(math.gcd(cfg.head_dim, cfg.embed_dim, cfg.mlp_hidden))
    pe_cap = _pow2_divisor(math.gcd(cfg.embed_dim, cfg.mlp_hidden))
    simd = min(simd_cap, _pow2_floor(math.sqrt(macs)) * 2, macs)
    pe = min(pe_cap, max(1, macs // simd))
    while pe * simd < macs and simd * 2 <= simd_cap and pe * simd * 2 <= macs:
        simd *= 2
    lanes = min(64, _pow2_floor(max(1, pe)))
    onchip = weight_bytes(cfg) <= ONCHIP_FRACTION * onchip_bytes(board)
    return Parallelism(pe, simd, lanes, onchip)


WEIGHT_PLACES = ("auto", "onchip", "ddr")


def parallelism_for(cfg: ModelConfig, board: Board, weights: str = "auto") -> Parallelism:
    """:func:`choose_parallelism` with the weights' place: ``auto`` (on chip if they fit, the rule
    above), ``onchip`` or ``ddr`` (generate's ``--weights``)."""
    if weights not in WEIGHT_PLACES:
        raise UserError(f"weights must be auto, onchip or ddr, got {weights!r}")
    par = choose_parallelism(cfg, board)
    if weights != "auto":
        par = dataclasses.replace(par, weights_onchip=weights == "onchip")
    return par


def target_kept(cfg: ModelConfig) -> list[int]:
    """Kept patch tokens per stage at the config's keep ratios (rounded)."""
    return [int(round(r * cfg.num_patches)) for r in cfg.keep_ratios]


def _gemm(name: str, tokens: int, k: int, n: int, par: Parallelism, bytes_per_cycle: float, streamed: bool) -> LayerCost:
    compute = math.ceil(n / par.pe) * math.ceil(k / par.simd) * tokens + PIPELINE_FILL if tokens else 0
    memory = math.ceil(k * n / bytes_per_cycle) if streamed else 0
    return LayerCost(name, "gemm", tokens, tokens * k * n, compute, memory)


def layer_costs(cfg: ModelConfig, board: Board, par: Parallelism, kept: Sequence[float] | None = None) -> list[LayerCost]:
    """Cost of every layer of one image; ``kept[s]`` = patch tokens alive after stage ``s``."""
    n = cfg.num_patches
    kept = [n] * cfg.num_stages if kept is None else [int(round(k)) for k in kept]
    if len(kept) != cfg.num_stages:
        raise ValueError(f"need {cfg.num_stages} kept counts, got {len(kept)}")
    c, hid, d, heads = cfg.embed_dim, cfg.mlp_hidden, cfg.head_dim, cfg.num_heads
    bpc = board.memory["peak_gbytes_per_s"] * DDR_EFFICIENCY * 1e9 / (board.clock_mhz * 1e6)
    stream = not par.weights_onchip
    out: list[LayerCost] = [_gemm("patch_embed", n, cfg.in_chans * cfg.patch_size**2, c, par, bpc, stream)]
    alive, stage = n, 0
    for i in range(cfg.depth):
        if stage < cfg.num_stages and cfg.selector_blocks[stage] == i:
            out.extend(_selector_costs(f"select{stage}", cfg, par, alive, alive - kept[stage], bpc, stream))
            alive = kept[stage]
            stage += 1
        t = 1 + alive + stage
        p = f"block{i}."
        out.append(LayerCost(p + "norm1", "vector", t, 0, 2 * math.ceil(t * c / par.lanes), 0))
        out.append(_gemm(p + "qkv", t, c, 3 * c, par, bpc, stream))
        qk = heads * (math.ceil(t / par.pe) * math.ceil(d / par.simd) * t + PIPELINE_FILL)
        av = heads * (math.ceil(d / par.pe) * math.ceil(t / par.simd) * t + PIPELINE_FILL)
        out.append(LayerCost(p + "attn.scores", "attention", t, heads * t * t * d, qk, 0))
        out.append(LayerCost(p + "attn.softmax", "vector", t, 0, 2 * math.ceil(heads * t * t / par.lanes), 0))
        out.append(LayerCost(p + "attn.context", "attention", t, heads * t * t * d, av, 0))
        out.append(_gemm(p + "proj", t, c, c, par, bpc, stream))
        out.append(LayerCost(p + "norm2", "vector", t, 0, 2 * math.ceil(t * c / par.lanes), 0))
        out.append(_gemm(p + "fc1", t, c, hid, par, bpc, stream))
        out.append(_gemm(p + "fc2", t, hid, c, par, bpc, stream))
    out.append(LayerCost("norm", "vector", 1, 0, 2 * math.ceil(c / par.lanes), 0))
    out.append(_gemm("head", 1, c, cfg.num_classes, par, bpc, stream))
    return out


def _selector_costs(name, cfg, par, tokens, pruned, bpc, stream) -> list[LayerCost]:
    d, heads, c = cfg.head_dim, cfg.num_heads, cfg.embed_dim
    rows = tokens * heads  # the per-head MLP runs on every (token, head) pair
    out = [
        LayerCost(name + ".norm", "vector", tokens, 0, 2 * math.ceil(tokens * c / par.lanes), 0),
        _gemm(name + ".in_fc", rows, d, d, par, bpc, stream),
        _gemm(name + ".out_fc1", rows, d, d // 2, par, bpc, stream),
        _gemm(name + ".out_fc2", rows, d // 2, d // 4, par, bpc, stream),
        _gemm(name + ".out_fc3", rows, d // 4, 2, par, bpc, stream),
    ]
    # head weights, keep score, keep probability and the package merge on the vector unit
    out.append(LayerCost(name + ".merge", "selector", tokens, pruned * c, math.ceil(tokens * (c + 4 * heads) / par.lanes) + math.ceil(pruned * c / par.lanes), 0))
    return [dataclass_replace_kind(x, "selector") for x in out]


def dataclass_replace_kind(cost: LayerCost, kind: str) -> LayerCost:
    return LayerCost(cost.name, kind, cost.tokens, cost.macs, cost.compute_cycles, cost.memory_cycles)


def total_cycles(costs: Sequence[LayerCost]) -> int:
    return sum(x.cycles for x in costs)


def latency_ms(costs: Sequence[LayerCost], board: Board) -> float:
    return total_cycles(costs) / (board.clock_mhz * 1e3)


def activation_bytes(cfg: ModelConfig) -> int:
    """On-chip frame buffers at the maximum token count: int16 residual stream (ping-pong),
    int8 MLP hidden, int8 Q/K/V, one head's int16 score matrix."""
    t = 1 + cfg.num_patches + cfg.num_stages
    c = cfg.embed_dim
    return 2 * (t * c * 2) + t * cfg.mlp_hidden + 3 * t * c + t * t * 2


def resource_estimate(cfg: ModelConfig, board: Board, par: Parallelism) -> dict[str, int]:
    """First-order DSP/BRAM18/LUT estimate of the accelerator (Vivado's numbers will differ)."""
    dsp = math.ceil(par.macs_per_cycle / board.int8_macs_per_dsp) + 2 * par.lanes
    weights = weight_bytes(cfg) if par.weights_onchip else 2 * par.macs_per_cycle  # double-buffered tile
    bram18 = math.ceil((activation_bytes(cfg) + weights) / BRAM18_BYTES) + 8  # + nonlinearity tables
    lut = 60 * par.macs_per_cycle // max(1, board.int8_macs_per_dsp) + 400 * par.lanes + 15000
    return {"dsp": dsp, "bram18": bram18, "lut": lut}


def check_fit(cfg: ModelConfig, board: Board, par: Parallelism) -> dict[str, int]:
    """The resource estimate, or a UserError naming every resource that does not fit."""
    est = resource_estimate(cfg, board, par)
    avail = {"dsp": board.resources["dsp"], "bram18": board.resources["bram18"] + 8 * board.resources["uram"],
             "lut": board.resources["lut"]}
    over = [f"{k}: needs {est[k]}, board has {avail[k]}" for k in est if est[k] > avail[k]]
    if over:
        raise UserError(
            f"{cfg.name} does not fit {board.name} ({'; '.join(over)}); choose a larger board or a smaller model"
        )
    return est


def summary(cfg: ModelConfig, board: Board, par: Parallelism, kept: Sequence[float] | None = None) -> dict:
    costs = layer_costs(cfg, board, par, kept)
    res = resource_estimate(cfg, board, par)
    return {
        "parallelism": asdict(par),
        "clock_mhz": board.clock_mhz,
        "kept_tokens": list(kept) if kept is not None else [cfg.num_patches] * cfg.num_stages,
        "total_cycles": total_cycles(costs),
        "latency_ms": latency_ms(costs, board),
        "resources": res,
        "layers": [{"name": x.name, "kind": x.kind, "tokens": x.tokens, "macs": x.macs, "cycles": x.cycles,
                    "compute_cycles": x.compute_cycles, "memory_cycles": x.memory_cycles} for x in costs],
    }
