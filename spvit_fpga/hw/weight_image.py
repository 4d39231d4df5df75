"""The DDR weight image of a design whose GEMM weights do not fit on chip (``weights.bin``).

int8 matrices, each starting on a :data:`WEIGHT_ALIGN`-byte boundary so that every matrix is read
with aligned AXI bursts; the HLS planner adds each big GEMM's ``[M][K]`` matrix (row-major) and
passes the returned byte offset to the kernel.  The RTL design has its own weight-bus image
(:mod:`spvit_fpga.rtl.pack`), laid out word by word for its GEMM units.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["WEIGHT_ALIGN", "WeightImage"]

WEIGHT_ALIGN = 64  # DDR weight image: every matrix starts on a 64-byte boundary (AXI bursts)


@dataclass
class WeightImage:
    """The DDR weight image: int8 matrices at 64-byte aligned offsets."""

    chunks: list[tuple[str, int, np.ndarray]] = field(default_factory=list)  # (name, offset, flat int8)
    size: int = 0

    def add(self, name: str, values: np.ndarray) -> int:
        off = self.size
        self.chunks.append((name, off, values.astype(np.int64).reshape(-1)))
        self.size = off + -(-values.size // WEIGHT_ALIGN) * WEIGHT_ALIGN
        return off

    def to_bytes(self) -> bytes:
        img = np.zeros(self.size, dtype=np.int8)
        for _name, off, v in self.chunks:
            img[off : off + v.size] = v.astype(np.int8)
        return img.tobytes()
