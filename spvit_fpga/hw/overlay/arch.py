"""The layer-sequential overlay engine's size, chosen per board and model.

One weight-stationary GEMM array of ``L x L`` int8 lanes (``L`` output lanes, ``L`` input lanes;
two lanes of a column share one DSP48E2 when ``pack == 2``) serves every linear layer, QKᵀ, AV and
the selector MLPs; every activation buffer word is ``L`` lanes wide.  Weights and the other
parameters arrive as one sequential *param stream* read from DDR through ``ports`` AXI4 masters of
``port_bytes`` bytes a beat (``docs/overlay.md``).  Board facts (DSP type, port count and width,
DDR bandwidth, clock) come from the board file; nothing here is specific to one board.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from ..boards import Board
from ...errors import UserError

__all__ = ["OverlayConfig", "choose_overlay", "dsp_estimate", "PACK_SHIFT", "DDR_EFFICIENCY", "DDR_LATENCY"]

PACK_SHIFT = 18
"""Bit position of the second product in a packed DSP48E2 multiply (27-bit A/D x 18-bit B)."""
DDR_EFFICIENCY = 0.8
"""Share of the board's peak DDR bandwidth the weight stream may use (all ports together)."""
DDR_LATENCY = 40
"""Cycles from an accepted read address to its first data beat in the simulated DDR."""
DSP_BUDGET = 0.92
"""Share of the board's DSP slices the engine may take."""


@dataclass(frozen=True)
class OverlayConfig:
    lanes: int  # L: array side, buffer word lanes
    pack: int  # int8 MACs per DSP (2: DSP48E2 packing, 1: one multiply per DSP)
    dsp_type: str
    ports: int  # AXI4 read masters (HP ports)
    port_bytes: int  # bytes per AXI beat of one port
    clock_mhz: float
    ddr_bytes_per_cycle: float  # all ports together (peak x DDR_EFFICIENCY / clock)
    ddr_latency: int = DDR_LATENCY
    max_burst: int = 256  # beats per AXI burst (and never across 4 KiB)
    outstanding: int = 4  # bursts in flight per port
    fifo_beats: int = 512  # per-port FIFO depth, in port beats
    sm_lanes: int = 32  # softmax lanes
    pack_shift: int = PACK_SHIFT

    @property
    def stream_bytes(self) -> int:
        """Bytes of one param-stream beat (one port beat from every port)."""
        return self.ports * self.port_bytes

    @property
    def macs_per_cycle(self) -> int:
        return self.lanes * self.lanes

    @property
    def array_dsps(self) -> int:
        return self.lanes * self.lanes // self.pack

    @property
    def port_bits(self) -> int:
        return self.port_bytes * 8

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(stream_bytes=self.stream_bytes, macs_per_cycle=self.macs_per_cycle, array_dsps=self.array_dsps)
        return d


def dsp_estimate(lanes: int, pack: int) -> dict[str, int]:
    """DSP slices of the engine, as its units' headers count them: the array (``L*L/pack``),
    LayerNorm (``x^2``, ``d*t``, ``gamma*n`` a lane, plus 9 for the per-row scalar path) and the
    selector unit (``L`` multipliers of its accumulations and 2 for the scores).  Softmax divisions
    and requantisation shifts use no DSP."""
    array = lanes * lanes // pack
    layernorm = 3 * lanes + 9
    selector = lanes + 2
    return {"array": array, "layernorm": layernorm, "selector": selector, "total": array + layernorm + selector}


def _pow2_floor(x: int) -> int:
    p = 1
    while p * 2 <= x:
        p *= 2
    return p


def choose_overlay(board: Board, head_dim: int, lanes: Optional[int] = None, ports: Optional[int] = None) -> OverlayConfig:
    """The engine for ``board``: the largest array side ``L`` (a power of two, at most 64 and at
    most the model's head width) whose DSPs fit ``DSP_BUDGET`` of the board; every HP port the
    board lists.  ``lanes`` / ``ports`` override the choice (tests use small arrays)."""
    pack = 2 if board.dsp_type == "DSP48E2" else 1
    budget = int(board.resources["dsp"] * DSP_BUDGET)
    mem = board.memory or {}
    port_list = list(mem.get("ports") or [])
    port_bits = int(mem.get("port_width_bits") or 64)
    peak = float(mem.get("peak_gbytes_per_s") or 0.0)
    if not port_list or peak <= 0:
        raise UserError(f"board {board.name}: the overlay needs memory.ports and memory.peak_gbytes_per_s in its board file")
    if lanes is None:
        lanes = min(64, _pow2_floor(head_dim))
        while lanes > 2 and dsp_estimate(lanes, pack)["total"] > budget:
            lanes //= 2
    if lanes < 2 or lanes & (lanes - 1):
        raise UserError(f"the overlay's array side must be a power of two >= 2, got {lanes}")
    if head_dim % lanes:
        raise UserError(f"the overlay's array side {lanes} must divide the head width {head_dim}")
    need = dsp_estimate(lanes, pack)["total"]
    if need > board.resources["dsp"]:
        raise UserError(f"an overlay with a {lanes}x{lanes} array needs {need} DSP slices; {board.name} has "
                        f"{board.resources['dsp']}: choose a smaller array")
    nports = len(port_list) if ports is None else int(ports)
    if not 1 <= nports <= len(port_list):
        raise UserError(f"board {board.name} has {len(port_list)} HP ports; cannot use {nports}")
    bpc = peak * 1e9 * DDR_EFFICIENCY / (board.clock_mhz * 1e6)
    return OverlayConfig(lanes=lanes, pack=pack, dsp_type=board.dsp_type, ports=nports, port_bytes=port_bits // 8,
                         clock_mhz=board.clock_mhz, ddr_bytes_per_cycle=round(bpc, 4),
                         sm_lanes=min(32, max(4, lanes // 2)))
