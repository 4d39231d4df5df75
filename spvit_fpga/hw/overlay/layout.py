"""The weight image: every parameter of the layer program as one sequential *param stream*.

This module is the one place that decides where each weight, bias, table and constant of the
overlay engine lives in DDR; the RTL units and the HLS kernels consume exactly this order.

**Stream.**  A sequence of ``beat_bytes``-byte beats (``beat_bytes = ports * port_bytes``).  Every
blob (the parameters of one instruction) starts on a beat boundary and is padded with zeros to a
whole beat.  Values are little-endian two's complement in lanes of 1, 2 or 4 bytes.

**DDR image** (``weights.bin``).  ``ports`` regions of equal size, each a multiple of 4 KiB;
region ``i`` holds bytes ``[i * port_bytes, (i + 1) * port_bytes)`` of every beat, in beat order.
Port ``i`` reads its region front to back in INCR bursts (at most 256 beats, never across a
4 KiB boundary); a beat of the stream is one port beat from each port.  A GEMM tile (``L x L``
weights) is therefore ``ports`` contiguous pieces, one per port, each read by one burst or one
part of a burst.

**GEMM blob** (weights from DDR), for a matrix ``W[n_out, k_in]``, bias ``b[n_out]`` and an optional
activation table: the table (``2**in_bits`` bytes, entry ``i`` for input ``i - 2**(in_bits-1)``
when signed), then for every block ``bk`` of ``L`` outputs: the block's biases (``L`` x 4 bytes),
then for every chunk ``c`` of ``L`` inputs the tile: ``L/2`` pair-rows from the last to the first,
pair-row ``p`` being output rows ``bk*L + 2p`` and ``bk*L + 2p + 1``, each ``L`` weights of inputs
``c*L ..`` (1-byte lanes; 2-byte lanes when the weights have 9 bits); outside the matrix: zeros.

**LayerNorm blob**: the rsqrt table (2-byte lanes), gamma (2-byte lanes), beta (4-byte lanes), each
padded to a beat.  **Softmax blob**: the exp table (2-byte lanes).  **Selector blob**: the keep
probability's sigmoid table (1-byte lanes).  **Constants**: class token and position embedding in
2-byte lanes (residual values).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["Blob", "ParamStream", "PAGE", "gemm_tile_bytes"]

PAGE = 4096


@dataclass(frozen=True)
class Blob:
    index: int
    beat: int  # first beat
    beats: int
    kind: str


def _lanes(values: np.ndarray, nbytes: int) -> bytes:
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = -(1 << (8 * nbytes - 1)), (1 << (8 * nbytes)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"value out of range for {nbytes}-byte lanes")
    dt = {1: "<u1", 2: "<u2", 4: "<u4"}[nbytes]
    return (v & ((1 << (8 * nbytes)) - 1)).astype(dt).tobytes()


def gemm_tile_bytes(lanes: int, w16: bool) -> int:
    return lanes * lanes * (2 if w16 else 1)


@dataclass
class ParamStream:
    beat_bytes: int
    chunks: list[bytes] = field(default_factory=list)
    blobs: list[Blob] = field(default_factory=list)
    beats: int = 0

    @property
    def nbytes(self) -> int:
        return self.beats * self.beat_bytes

    def _pad(self, data: bytes) -> bytes:
        rem = -len(data) % self.beat_bytes
        return data + b"\0" * rem

    def _add(self, parts: list[bytes], kind: str) -> int:
        data = b"".join(self._pad(p) for p in parts)
        n = len(data) // self.beat_bytes
        blob = Blob(len(self.blobs), self.beats, n, kind)
        self.blobs.append(blob)
        self.chunks.append(data)
        self.beats += n
        return blob.index

    # -- blob kinds ---------------------------------------------------------------------------
    def add_gemm(self, weight: np.ndarray, bias: np.ndarray, table: Optional[np.ndarray], lanes: int,
                 w16: bool = False) -> int:
        w = np.asarray(weight, dtype=np.int64)
        n_out, k_in = w.shape
        nb, kc = -(-n_out // lanes), -(-k_in // lanes)
        padded = np.zeros((nb * lanes, kc * lanes), dtype=np.int64)
        padded[:n_out, :k_in] = w
        b = np.zeros(nb * lanes, dtype=np.int64)
        b[:n_out] = np.asarray(bias, dtype=np.int64)
        wb = 2 if w16 else 1
        parts: list[bytes] = []
        if table is not None:
            parts.append(_lanes(np.asarray(table), 1))
        for bk in range(nb):
            parts.append(_lanes(b[bk * lanes:(bk + 1) * lanes], 4))
            for c in range(kc):
                tile = padded[bk * lanes:(bk + 1) * lanes, c * lanes:(c + 1) * lanes]
                order = [r for p in reversed(range(lanes // 2)) for r in (2 * p, 2 * p + 1)]
                parts.append(_lanes(tile[order], wb))
        return self._add(parts, "gemm")

    def add_layernorm(self, rsqrt: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> int:
        return self._add([_lanes(rsqrt, 2), _lanes(gamma, 2), _lanes(beta, 4)], "layernorm")

    def add_table16(self, table: np.ndarray) -> int:
        return self._add([_lanes(table, 2)], "table16")

    def add_table8(self, table: np.ndarray) -> int:
        return self._add([_lanes(table, 1)], "table8")

    def add_values(self, values: np.ndarray, nbytes: int) -> int:
        return self._add([_lanes(values, nbytes)], "values")

    # -- the stream and the DDR image -----------------------------------------------------
    def stream_bytes(self) -> bytes:
        return b"".join(self.chunks)

    def blob_bytes(self, index: int) -> bytes:
        return self.chunks[index]

    def region_bytes(self, ports: int) -> int:
        """Bytes of one port's region in the DDR image (a multiple of 4 KiB)."""
        per = self.beats * (self.beat_bytes // ports)
        return max(PAGE, -(-per // PAGE) * PAGE)

    def ddr_image(self, ports: int) -> bytes:
        """``weights.bin``: ``ports`` regions, region ``i`` = column ``i`` of every beat."""
        if self.beat_bytes % ports:
            raise ValueError("beat bytes must split evenly over the ports")
        pb = self.beat_bytes // ports
        arr = np.frombuffer(self.stream_bytes(), dtype=np.uint8).reshape(self.beats, ports, pb)
        region = self.region_bytes(ports)
        out = np.zeros((ports, region), dtype=np.uint8)
        for i in range(ports):
            col = arr[:, i, :].reshape(-1)
            out[i, :col.size] = col
        return out.tobytes()


def stream_from_image(image: bytes, ports: int, port_bytes: int, beats: int) -> bytes:
    """The param stream back from a DDR image (inverse of :meth:`ParamStream.ddr_image`)."""
    region = len(image) // ports
    arr = np.frombuffer(image, dtype=np.uint8).reshape(ports, region)[:, :beats * port_bytes]
    return arr.reshape(ports, beats, port_bytes).transpose(1, 0, 2).tobytes()
