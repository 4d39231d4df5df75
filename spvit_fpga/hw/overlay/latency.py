"""The overlay engine's latency as a function of the tokens each selector keeps: the per-layer
latency table of SPViT's latency-aware training, built from the engine's own cycle model.

The engine runs one instruction after the other (:mod:`.program`), and every instruction's row
counts are fixed by the kept-token count that is live when it runs (:func:`.cycles.counts_for_kept`).
So the cycles of one image split into

    cycles(k_1 .. k_S) = base + sum_s stage_s(k_s)

``base``: everything up to and including the first selector (it sees all patch tokens);
``stage_s(k)``: every instruction that runs while stage ``s`` leaves ``k`` patch tokens alive,
i.e. the blocks after selector ``s`` and selector ``s + 1``, which scores those ``k`` tokens (under
either keep rule a selector's cycles depend on the tokens it scores, not on how many it keeps).
:func:`latency_table` evaluates :func:`.cycles.program_cycles` once for every ``k`` in ``0..N``
(all stages at ``k``) and sums each stage's instructions.  The split is exact as long as an
instruction's cycles do not depend on when earlier ones ran; the param stream could break that
(a stall carried over from one stage to the next), so ``tests/test_latency_table.py`` compares the
table with the full cycle model at random integer kept counts.

Between integer counts the table interpolates linearly (:meth:`LatencyTable.ms_torch`), which
gives training a gradient: the slope of each stage's segment.  Only shapes and bit widths reach
the cycle model, so the table comes from a random-weights IR of the model config
(:func:`spvit_fpga.hw.source.config_ir`); a trained model of the same config has the same cycles.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from ...ir.graph import IR
from ...nn.config import ModelConfig
from ..boards import Board, load_board
from .arch import choose_overlay
from .cycles import counts_for_kept, program_cycles
from .program import Select, compile_program

__all__ = ["LatencyTable", "latency_table", "table_from_ir"]


@dataclass(frozen=True)
class LatencyTable:
    """Cycles of one image on the overlay for every integer kept-token count of every stage."""

    board: str
    clock_mhz: float
    lanes: int
    decision: str
    num_patches: int
    base_cycles: int
    stage_cycles: tuple[tuple[int, ...], ...]  # [stage][k], k = 0..num_patches

    @property
    def num_stages(self) -> int:
        return len(self.stage_cycles)

    def _check(self, kept: Sequence[Any]) -> None:
        if len(kept) != self.num_stages:
            raise ValueError(f"need {self.num_stages} kept-token counts, got {len(kept)}")

    def cycles(self, kept: Sequence[int]) -> int:
        """Exact cycles at integer kept counts (``kept[s]`` patch tokens alive after stage ``s``)."""
        self._check(kept)
        total = self.base_cycles
        for s, k in enumerate(kept):
            if int(k) != k or not 0 <= k <= self.num_patches:
                raise ValueError(f"stage {s}: kept count {k} is not an integer in 0..{self.num_patches}")
            total += self.stage_cycles[s][int(k)]
        return total

    def cycles_at(self, kept: Sequence[float]) -> float:
        """Cycles at real-valued kept counts: linear between the integer counts (clamped to 0..N)."""
        self._check(kept)
        return self.base_cycles + sum(_interp(self.stage_cycles[s], float(k)) for s, k in enumerate(kept))

    def ms(self, kept: Sequence[float]) -> float:
        return self.cycles_at(kept) / (self.clock_mhz * 1e3)

    def images_ms(self, kept: Any) -> np.ndarray:
        """Milliseconds of every image from its kept counts ``[M, S]`` (integers)."""
        kept = np.asarray(kept, dtype=np.int64)
        rows = kept.reshape(kept.shape[0] if kept.ndim else 1, self.num_stages)
        return np.array([self.cycles(list(r)) for r in rows], dtype=np.float64) / (self.clock_mhz * 1e3)

    @property
    def dense_cycles(self) -> int:
        """Cycles when no stage prunes anything (the selectors still run)."""
        return self.cycles([self.num_patches] * self.num_stages)

    @property
    def dense_ms(self) -> float:
        return self.dense_cycles / (self.clock_mhz * 1e3)

    def ms_torch(self, kept: torch.Tensor) -> torch.Tensor:
        """Milliseconds for kept counts ``[..., S]`` (may carry gradients): piecewise linear in each
        stage's count, so the gradient is that stage's cycles per token around the count."""
        if kept.shape[-1] != self.num_stages:
            raise ValueError(f"need {self.num_stages} kept-token counts in the last dimension, got {kept.shape[-1]}")
        n = self.num_patches
        total = torch.full(kept.shape[:-1], float(self.base_cycles), dtype=kept.dtype, device=kept.device)
        for s in range(self.num_stages):
            t = torch.tensor(self.stage_cycles[s], dtype=kept.dtype, device=kept.device)
            k = kept[..., s].clamp(0, n)
            i0 = k.detach().floor().clamp(max=max(n - 1, 0)).long()
            i1 = (i0 + 1).clamp(max=n)
            total = total + t[i0] + (k - i0.to(k.dtype)) * (t[i1] - t[i0])
        return total / (self.clock_mhz * 1e3)

    def to_dict(self) -> dict[str, Any]:
        return {"board": self.board, "clock_mhz": self.clock_mhz, "lanes": self.lanes, "decision": self.decision,
                "num_patches": self.num_patches, "base_cycles": self.base_cycles,
                "stage_cycles": [list(c) for c in self.stage_cycles]}


def _interp(values: Sequence[int], k: float) -> float:
    n = len(values) - 1
    k = min(max(k, 0.0), float(n))
    i0 = min(int(k), max(n - 1, 0))
    i1 = min(i0 + 1, n)
    return values[i0] + (k - i0) * (values[i1] - values[i0])


def table_from_ir(ir: IR, board: Board, decision: str = "threshold") -> LatencyTable:
    """The latency table of ``ir``'s model on the overlay engine ``choose_overlay`` picks for ``board``."""
    cfg = ModelConfig.from_dict(ir.model)
    if cfg.prunes:
        ir = ir.with_decision(decision)
    prog = compile_program(ir, choose_overlay(board, cfg.head_dim))
    stage_of, s = [], 0
    for ins in prog.instructions:
        stage_of.append(s)  # a selector belongs to the stage whose tokens it scores
        s += isinstance(ins, Select)
    n, stages = prog.n_max, prog.stages
    base: Optional[int] = None
    table = [[0] * (n + 1) for _ in range(stages)]
    for k in range(n + 1) if stages else [n]:
        steps = program_cycles(prog, counts_for_kept(prog, [k] * stages))
        sums = [0] * (stages + 1)
        for step, st in zip(steps, stage_of):
            sums[st] += step.cycles
        if base is not None and sums[0] != base:
            raise AssertionError("the cycles before the first selector changed with the kept counts")
        base = sums[0]
        for st in range(stages):
            table[st][k] = sums[st + 1]
    assert base is not None
    return LatencyTable(board.name, float(board.clock_mhz), prog.cfg.lanes, decision if stages else "none", n, base,
                        tuple(tuple(t) for t in table))


def latency_table(cfg: ModelConfig, board: Union[Board, str], decision: str = "threshold") -> LatencyTable:
    """The latency table of a model config on ``board`` (a :class:`Board` or its name), from a
    random-weights IR of the config (cycles depend on shapes and bit widths only).  Cached."""
    name = board if isinstance(board, str) else board.name
    if decision == "threshold":  # the keep ratios only size the top-k rule
        cfg = dataclasses.replace(cfg, keep_ratios=(1.0,) * cfg.num_stages)
    return _cached_table(cfg, name, decision)


@functools.lru_cache(maxsize=16)
def _cached_table(cfg: ModelConfig, board_name: str, decision: str) -> LatencyTable:
    from ..source import config_ir

    return table_from_ir(config_ir(cfg, calib_images=1), load_board(board_name), decision)
